pub trait Calculator: Send + Sync {
    /// Adds two numbers.
    fn add(&self, a: i64, b: i64) -> i64;
    fn greet(&self, name: &str) -> String;
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    fn spawn_counter(&self, start: u64) -> Remote<dyn Counter>;
}
impl CalculatorDispatcher
where
    for<'__remote> i64: ::remote::__private::Wire,
    for<'__remote> ::std::string::String: ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Result<i64, MathError>: ::remote::__private::Wire,
    for<'__remote> u64: ::remote::__private::Wire,
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
{
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_add: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Calculator",
        name: "add",
        id: 0xbb391274u32,
        signature: "(i64, i64) -> i64",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<i64>,
                            ::remote::__private::shape_of::<i64>,
                            ::remote::__private::shape_of::<i64>,
                        ],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_greet: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Calculator",
        name: "greet",
        id: 0xfb1de34bu32,
        signature: "(&str) -> String",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<::std::string::String>,
                            ::remote::__private::shape_of::<String>,
                        ],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_divide: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Calculator",
        name: "divide",
        id: 0xe1526270u32,
        signature: "(i64, i64) -> Result<i64, MathError>",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<i64>,
                            ::remote::__private::shape_of::<i64>,
                            ::remote::__private::shape_of::<Result<i64, MathError>>,
                        ],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_spawn_counter: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Calculator",
        name: "spawn_counter",
        id: 0xd33241a3u32,
        signature: "(u64) -> Remote<dyn Counter>",
        pipelines: true,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<u64>,
                            ::remote::__private::shape_of::<Remote<dyn Counter>>,
                        ],
                    )
                })
        },
    };
}
impl CalculatorDispatcher {
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    fn __remote_gate() -> (
        fn(
            ::remote::__private::Arc<dyn Calculator>,
        ) -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch>,
        fn() -> ::std::vec::Vec<&'static ::remote::__private::Method>,
    )
    where
        for<'__remote> i64: ::remote::__private::Wire,
        for<'__remote> ::std::string::String: ::remote::__private::Wire,
        for<'__remote> String: ::remote::__private::Wire,
        for<'__remote> Result<i64, MathError>: ::remote::__private::Wire,
        for<'__remote> u64: ::remote::__private::Wire,
        for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
    {
        (
            |object| -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch> {
                ::remote::__private::Arc::new(CalculatorDispatcher::new(object))
            },
            || {
                let mut __remote_methods = ::std::vec::Vec::new();
                __remote_methods.push(&CalculatorDispatcher::__REMOTE_METHOD_add);
                __remote_methods.push(&CalculatorDispatcher::__REMOTE_METHOD_greet);
                __remote_methods.push(&CalculatorDispatcher::__REMOTE_METHOD_divide);
                __remote_methods
                    .push(&CalculatorDispatcher::__REMOTE_METHOD_spawn_counter);
                __remote_methods
            },
        )
    }
}
impl ::remote::__private::Interface for dyn Calculator {
    const NAME: &'static ::core::primitive::str = "Calculator";
    const FINGERPRINT: ::core::primitive::u64 = 0x2cd225815879f8b6u64;
    fn methods() -> ::std::vec::Vec<&'static ::remote::__private::Method> {
        (CalculatorDispatcher::__remote_gate().1)()
    }
    type Proxy = CalculatorProxy;
    type AsyncProxy = CalculatorAsyncProxy;
    fn into_dispatch(
        object: ::remote::__private::Arc<Self>,
    ) -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch> {
        (CalculatorDispatcher::__remote_gate().0)(object)
    }
    fn from_dispatch(
        object: &dyn ::remote::__private::Dispatch,
    ) -> ::remote::__private::Option<::remote::__private::Arc<Self>> {
        ::remote::__private::Option::map(
            ::remote::__private::Dispatch::as_any(object)
                .downcast_ref::<CalculatorDispatcher>(),
            |d| ::remote::__private::Clone::clone(d.object()),
        )
    }
}
impl<__RemoteT: Calculator + 'static> ::remote::__private::FromLocal<__RemoteT>
for dyn Calculator {
    fn from_local(
        object: ::remote::__private::Arc<__RemoteT>,
    ) -> ::remote::__private::Arc<Self> {
        object
    }
}
/// Serves calls on a local [`Calculator`] object: decodes each call, invokes the method and encodes the reply. Built by the runtime when a `Remote<dyn Calculator>` is sent; you rarely name it.
pub struct CalculatorDispatcher {
    object: ::remote::__private::Arc<dyn Calculator>,
}
impl CalculatorDispatcher {
    /// Wraps a local object.
    pub fn new(object: ::remote::__private::Arc<dyn Calculator>) -> Self {
        CalculatorDispatcher { object }
    }
    /// The local object.
    pub fn object(&self) -> &::remote::__private::Arc<dyn Calculator> {
        &self.object
    }
}
#[allow(deprecated)]
impl ::remote::__private::Dispatch for CalculatorDispatcher
where
    for<'__remote> i64: ::remote::__private::Wire,
    for<'__remote> ::std::string::String: ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Result<i64, MathError>: ::remote::__private::Wire,
    for<'__remote> u64: ::remote::__private::Wire,
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
{
    fn interface_name(&self) -> &'static ::core::primitive::str {
        "Calculator"
    }
    fn object_addr(&self) -> ::core::primitive::usize {
        ::remote::__private::Arc::as_ptr(&self.object) as *const ()
            as ::core::primitive::usize
    }
    fn fingerprint(&self) -> ::core::primitive::u64 {
        <dyn Calculator as ::remote::__private::Interface>::FINGERPRINT
    }
    fn method(
        &self,
        id: ::core::primitive::u32,
    ) -> ::remote::__private::Option<&'static ::remote::__private::Method> {
        match id {
            0xbb391274u32 => {
                ::remote::__private::Some(&CalculatorDispatcher::__REMOTE_METHOD_add)
            }
            0xfb1de34bu32 => {
                ::remote::__private::Some(&CalculatorDispatcher::__REMOTE_METHOD_greet)
            }
            0xe1526270u32 => {
                ::remote::__private::Some(&CalculatorDispatcher::__REMOTE_METHOD_divide)
            }
            0xd33241a3u32 => {
                ::remote::__private::Some(
                    &CalculatorDispatcher::__REMOTE_METHOD_spawn_counter,
                )
            }
            _ => ::remote::__private::None,
        }
    }
    fn dispatch(
        &self,
        __remote_method: ::core::primitive::u32,
        __remote_call: &mut ::remote::__private::Call<'_>,
    ) -> ::remote::__private::Result<(), ::remote::RemoteError> {
        match __remote_method {
            0xbb391274u32 => {
                let (a, b): (i64, i64) = __remote_call.args()?;
                let __remote_ret: i64 = Calculator::add(&*self.object, a, b);
                __remote_call.reply(&__remote_ret)
            }
            0xfb1de34bu32 => {
                let (name,): (::std::string::String,) = __remote_call.args()?;
                let __remote_ret: String = Calculator::greet(&*self.object, &name);
                __remote_call.reply(&__remote_ret)
            }
            0xe1526270u32 => {
                let (a, b): (i64, i64) = __remote_call.args()?;
                let __remote_ret: Result<i64, MathError> = Calculator::divide(
                    &*self.object,
                    a,
                    b,
                );
                __remote_call.reply(&__remote_ret)
            }
            0xd33241a3u32 => {
                let (start,): (u64,) = __remote_call.args()?;
                let __remote_ret: Remote<dyn Counter> = Calculator::spawn_counter(
                    &*self.object,
                    start,
                );
                __remote_call.reply(&__remote_ret)
            }
            _ => {
                ::remote::__private::Err(::remote::RemoteError::NoSuchMethod {
                    interface: ::remote::__private::ToString::to_string("Calculator"),
                    method: ::remote::__private::format!("#{:#x}", __remote_method),
                })
            }
        }
    }
    fn as_any(&self) -> &dyn ::remote::__private::Any {
        self
    }
}
/// Blocking proxy of a [`Calculator`] object: each call sends a request and waits for the reply on this thread. Needs no async runtime. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub struct CalculatorProxy {
    remote: ::remote::Remote<dyn Calculator>,
}
impl ::remote::__private::fmt::Debug for CalculatorProxy {
    fn fmt(
        &self,
        f: &mut ::remote::__private::fmt::Formatter<'_>,
    ) -> ::remote::__private::fmt::Result {
        ::remote::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl CalculatorProxy
where
    for<'__remote> i64: ::remote::__private::Wire,
    for<'__remote> ::std::string::String: ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Result<i64, MathError>: ::remote::__private::Wire,
    for<'__remote> u64: ::remote::__private::Wire,
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
{
    /// Adds two numbers.
    #[track_caller]
    pub fn add(
        &self,
        a: i64,
        b: i64,
    ) -> ::remote::__private::Result<i64, ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(Calculator::add(&**__remote_object, a, b))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_blocking::<
                        _,
                        i64,
                    >(&CalculatorDispatcher::__REMOTE_METHOD_add, &(&a, &b))
            }
        }
    }
    /// Calls [`Calculator::greet`] on the object.
    #[track_caller]
    pub fn greet(
        &self,
        name: &str,
    ) -> ::remote::__private::Result<String, ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(Calculator::greet(&**__remote_object, name))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_blocking::<
                        _,
                        String,
                    >(&CalculatorDispatcher::__REMOTE_METHOD_greet, &(&name,))
            }
        }
    }
    /// Calls [`Calculator::divide`] on the object.
    #[track_caller]
    pub fn divide(
        &self,
        a: i64,
        b: i64,
    ) -> ::remote::__private::Result<Result<i64, MathError>, ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(Calculator::divide(&**__remote_object, a, b))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_blocking::<
                        _,
                        Result<i64, MathError>,
                    >(&CalculatorDispatcher::__REMOTE_METHOD_divide, &(&a, &b))
            }
        }
    }
    /// Calls [`Calculator::spawn_counter`] on the object.
    #[track_caller]
    pub fn spawn_counter(
        &self,
        start: u64,
    ) -> ::remote::__private::Result<
        ::remote::ProxyOf<dyn Counter>,
        ::remote::RemoteError,
    > {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(
                    ::remote::Remote::into_proxy(
                        Calculator::spawn_counter(&**__remote_object, start),
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref
                        .call_blocking::<
                            _,
                            Remote<dyn Counter>,
                        >(
                            &CalculatorDispatcher::__REMOTE_METHOD_spawn_counter,
                            &(&start,),
                        ),
                    |__remote_value| ::remote::Remote::into_proxy(__remote_value),
                )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub fn same_object(
        &self,
        other: &impl ::remote::Proxy<Interface = dyn Calculator>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(::remote::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub fn into_remote(self) -> ::remote::Remote<dyn Calculator> {
        self.remote
    }
    /// The async proxy of the same object.
    pub fn to_async(&self) -> CalculatorAsyncProxy {
        <CalculatorAsyncProxy as ::remote::Proxy>::from_remote(
            ::remote::__private::Clone::clone(&self.remote),
        )
    }
}
impl ::remote::Proxy for CalculatorProxy {
    type Interface = dyn Calculator;
    fn from_remote(remote: ::remote::Remote<dyn Calculator>) -> Self {
        CalculatorProxy { remote }
    }
    fn as_remote(&self) -> &::remote::Remote<dyn Calculator> {
        &self.remote
    }
}
impl ::remote::__private::From<CalculatorProxy> for ::remote::Remote<dyn Calculator> {
    fn from(proxy: CalculatorProxy) -> Self {
        proxy.remote
    }
}
impl ::remote::__private::From<&CalculatorProxy> for ::remote::Remote<dyn Calculator> {
    fn from(proxy: &CalculatorProxy) -> Self {
        ::remote::__private::Clone::clone(&proxy.remote)
    }
}
/// Async proxy of a [`Calculator`] object: each method sends its call at once and returns a future of the reply ([`AsyncCall`](::remote::AsyncCall)) to `.await` without blocking the thread. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub struct CalculatorAsyncProxy {
    remote: ::remote::Remote<dyn Calculator>,
}
impl ::remote::__private::fmt::Debug for CalculatorAsyncProxy {
    fn fmt(
        &self,
        f: &mut ::remote::__private::fmt::Formatter<'_>,
    ) -> ::remote::__private::fmt::Result {
        ::remote::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl CalculatorAsyncProxy
where
    for<'__remote> i64: ::remote::__private::Wire,
    for<'__remote> ::std::string::String: ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Result<i64, MathError>: ::remote::__private::Wire,
    for<'__remote> u64: ::remote::__private::Wire,
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
{
    /// Adds two numbers.
    #[track_caller]
    pub fn add(&self, a: i64, b: i64) -> ::remote::AsyncCall<i64> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(Calculator::add(&**__remote_object, a, b)),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &CalculatorDispatcher::__REMOTE_METHOD_add,
                        &(&a, &b),
                        |__remote_value: i64| -> i64 { __remote_value },
                    )
            }
        }
    }
    /// Calls [`Calculator::greet`] on the object.
    #[track_caller]
    pub fn greet(&self, name: &str) -> ::remote::AsyncCall<String> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(Calculator::greet(&**__remote_object, name)),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &CalculatorDispatcher::__REMOTE_METHOD_greet,
                        &(&name,),
                        |__remote_value: String| -> String { __remote_value },
                    )
            }
        }
    }
    /// Calls [`Calculator::divide`] on the object.
    #[track_caller]
    pub fn divide(&self, a: i64, b: i64) -> ::remote::AsyncCall<Result<i64, MathError>> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(Calculator::divide(&**__remote_object, a, b)),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &CalculatorDispatcher::__REMOTE_METHOD_divide,
                        &(&a, &b),
                        |
                            __remote_value: Result<i64, MathError>,
                        | -> Result<i64, MathError> { __remote_value },
                    )
            }
        }
    }
    /// Calls [`Calculator::spawn_counter`] on the object.
    #[track_caller]
    pub fn spawn_counter(
        &self,
        start: u64,
    ) -> ::remote::AsyncCall<Remote<dyn Counter>, ::remote::AsyncProxyOf<dyn Counter>> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(
                        ::remote::Remote::into_async_proxy(
                            Calculator::spawn_counter(&**__remote_object, start),
                        ),
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &CalculatorDispatcher::__REMOTE_METHOD_spawn_counter,
                        &(&start,),
                        |
                            __remote_value: Remote<dyn Counter>,
                        | -> ::remote::AsyncProxyOf<dyn Counter> {
                            ::remote::Remote::into_async_proxy(__remote_value)
                        },
                    )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub fn same_object(
        &self,
        other: &impl ::remote::Proxy<Interface = dyn Calculator>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(::remote::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub fn into_remote(self) -> ::remote::Remote<dyn Calculator> {
        self.remote
    }
    /// The blocking proxy of the same object.
    pub fn to_blocking(&self) -> CalculatorProxy {
        <CalculatorProxy as ::remote::Proxy>::from_remote(
            ::remote::__private::Clone::clone(&self.remote),
        )
    }
}
impl ::remote::Proxy for CalculatorAsyncProxy {
    type Interface = dyn Calculator;
    fn from_remote(remote: ::remote::Remote<dyn Calculator>) -> Self {
        CalculatorAsyncProxy { remote }
    }
    fn as_remote(&self) -> &::remote::Remote<dyn Calculator> {
        &self.remote
    }
}
impl ::remote::__private::From<CalculatorAsyncProxy>
for ::remote::Remote<dyn Calculator> {
    fn from(proxy: CalculatorAsyncProxy) -> Self {
        proxy.remote
    }
}
impl ::remote::__private::From<&CalculatorAsyncProxy>
for ::remote::Remote<dyn Calculator> {
    fn from(proxy: &CalculatorAsyncProxy) -> Self {
        ::remote::__private::Clone::clone(&proxy.remote)
    }
}
