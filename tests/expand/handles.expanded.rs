pub(crate) trait Registry: Send + Sync {
    fn register(&self, counter: Remote<dyn Counter>, tags: &[String]);
    fn find(&self, name: String) -> Option<Remote<dyn Counter>>;
    fn open(&self, name: String) -> Result<Remote<dyn Counter>, NotFound>;
}
impl RegistryDispatcher
where
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
    for<'__remote> ::std::vec::Vec<String>: ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Option<Remote<dyn Counter>>: ::remote::__private::Wire,
    for<'__remote> Result<Remote<dyn Counter>, NotFound>: ::remote::__private::Wire,
{
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_register: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Registry",
        name: "register",
        id: 0xad6871c0u32,
        signature: "(Remote<dyn Counter>, &[String]) -> ()",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<Remote<dyn Counter>>,
                            ::remote::__private::shape_of::<::std::vec::Vec<String>>,
                            ::remote::__private::shape_of::<()>,
                        ],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_find: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Registry",
        name: "find",
        id: 0xbdf0855bu32,
        signature: "(String) -> Option<Remote<dyn Counter>>",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<String>,
                            ::remote::__private::shape_of::<Option<Remote<dyn Counter>>>,
                        ],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_open: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Registry",
        name: "open",
        id: 0xd35ec4cau32,
        signature: "(String) -> Result<Remote<dyn Counter>, NotFound>",
        pipelines: true,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[
                            ::remote::__private::shape_of::<String>,
                            ::remote::__private::shape_of::<
                                Result<Remote<dyn Counter>, NotFound>,
                            >,
                        ],
                    )
                })
        },
    };
}
impl RegistryDispatcher {
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    fn __remote_gate() -> (
        fn(
            ::remote::__private::Arc<dyn Registry>,
        ) -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch>,
        fn() -> ::std::vec::Vec<&'static ::remote::__private::Method>,
    )
    where
        for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
        for<'__remote> ::std::vec::Vec<String>: ::remote::__private::Wire,
        for<'__remote> (): ::remote::__private::Wire,
        for<'__remote> String: ::remote::__private::Wire,
        for<'__remote> Option<Remote<dyn Counter>>: ::remote::__private::Wire,
        for<'__remote> Result<Remote<dyn Counter>, NotFound>: ::remote::__private::Wire,
    {
        (
            |object| -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch> {
                ::remote::__private::Arc::new(RegistryDispatcher::new(object))
            },
            || {
                let mut __remote_methods = ::std::vec::Vec::new();
                __remote_methods.push(&RegistryDispatcher::__REMOTE_METHOD_register);
                __remote_methods.push(&RegistryDispatcher::__REMOTE_METHOD_find);
                __remote_methods.push(&RegistryDispatcher::__REMOTE_METHOD_open);
                __remote_methods
            },
        )
    }
}
impl ::remote::__private::Interface for dyn Registry {
    const NAME: &'static ::core::primitive::str = "Registry";
    const FINGERPRINT: ::core::primitive::u64 = 0x889bca262f825a63u64;
    fn methods() -> ::std::vec::Vec<&'static ::remote::__private::Method> {
        (RegistryDispatcher::__remote_gate().1)()
    }
    type Proxy = RegistryProxy;
    type AsyncProxy = RegistryAsyncProxy;
    fn into_dispatch(
        object: ::remote::__private::Arc<Self>,
    ) -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch> {
        (RegistryDispatcher::__remote_gate().0)(object)
    }
    fn from_dispatch(
        object: &dyn ::remote::__private::Dispatch,
    ) -> ::remote::__private::Option<::remote::__private::Arc<Self>> {
        ::remote::__private::Option::map(
            ::remote::__private::Dispatch::as_any(object)
                .downcast_ref::<RegistryDispatcher>(),
            |d| ::remote::__private::Clone::clone(d.object()),
        )
    }
}
impl<__RemoteT: Registry + 'static> ::remote::__private::FromLocal<__RemoteT>
for dyn Registry {
    fn from_local(
        object: ::remote::__private::Arc<__RemoteT>,
    ) -> ::remote::__private::Arc<Self> {
        object
    }
}
/// Serves calls on a local [`Registry`] object: decodes each call, invokes the method and encodes the reply. Built by the runtime when a `Remote<dyn Registry>` is sent; you rarely name it.
pub(crate) struct RegistryDispatcher {
    object: ::remote::__private::Arc<dyn Registry>,
}
impl RegistryDispatcher {
    /// Wraps a local object.
    pub(crate) fn new(object: ::remote::__private::Arc<dyn Registry>) -> Self {
        RegistryDispatcher { object }
    }
    /// The local object.
    pub(crate) fn object(&self) -> &::remote::__private::Arc<dyn Registry> {
        &self.object
    }
}
#[allow(deprecated)]
impl ::remote::__private::Dispatch for RegistryDispatcher
where
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
    for<'__remote> ::std::vec::Vec<String>: ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Option<Remote<dyn Counter>>: ::remote::__private::Wire,
    for<'__remote> Result<Remote<dyn Counter>, NotFound>: ::remote::__private::Wire,
{
    fn interface_name(&self) -> &'static ::core::primitive::str {
        "Registry"
    }
    fn object_addr(&self) -> ::core::primitive::usize {
        ::remote::__private::Arc::as_ptr(&self.object) as *const ()
            as ::core::primitive::usize
    }
    fn fingerprint(&self) -> ::core::primitive::u64 {
        <dyn Registry as ::remote::__private::Interface>::FINGERPRINT
    }
    fn method(
        &self,
        id: ::core::primitive::u32,
    ) -> ::remote::__private::Option<&'static ::remote::__private::Method> {
        match id {
            0xad6871c0u32 => {
                ::remote::__private::Some(&RegistryDispatcher::__REMOTE_METHOD_register)
            }
            0xbdf0855bu32 => {
                ::remote::__private::Some(&RegistryDispatcher::__REMOTE_METHOD_find)
            }
            0xd35ec4cau32 => {
                ::remote::__private::Some(&RegistryDispatcher::__REMOTE_METHOD_open)
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
            0xad6871c0u32 => {
                let (counter, tags): (Remote<dyn Counter>, ::std::vec::Vec<String>) = __remote_call
                    .args()?;
                let __remote_ret: () = Registry::register(&*self.object, counter, &tags);
                __remote_call.reply(&__remote_ret)
            }
            0xbdf0855bu32 => {
                let (name,): (String,) = __remote_call.args()?;
                let __remote_ret: Option<Remote<dyn Counter>> = Registry::find(
                    &*self.object,
                    name,
                );
                __remote_call.reply(&__remote_ret)
            }
            0xd35ec4cau32 => {
                let (name,): (String,) = __remote_call.args()?;
                let __remote_ret: Result<Remote<dyn Counter>, NotFound> = Registry::open(
                    &*self.object,
                    name,
                );
                __remote_call.reply(&__remote_ret)
            }
            _ => {
                ::remote::__private::Err(::remote::RemoteError::NoSuchMethod {
                    interface: ::remote::__private::ToString::to_string("Registry"),
                    method: ::remote::__private::format!("#{:#x}", __remote_method),
                })
            }
        }
    }
    fn as_any(&self) -> &dyn ::remote::__private::Any {
        self
    }
}
/// Blocking proxy of a [`Registry`] object: each call sends a request and waits for the reply on this thread. Needs no async runtime. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub(crate) struct RegistryProxy {
    remote: ::remote::Remote<dyn Registry>,
}
impl ::remote::__private::fmt::Debug for RegistryProxy {
    fn fmt(
        &self,
        f: &mut ::remote::__private::fmt::Formatter<'_>,
    ) -> ::remote::__private::fmt::Result {
        ::remote::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl RegistryProxy
where
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
    for<'__remote> ::std::vec::Vec<String>: ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Option<Remote<dyn Counter>>: ::remote::__private::Wire,
    for<'__remote> Result<Remote<dyn Counter>, NotFound>: ::remote::__private::Wire,
{
    /// Calls [`Registry::register`] on the object.
    #[track_caller]
    pub(crate) fn register(
        &self,
        counter: impl ::remote::__private::Into<Remote<dyn Counter>>,
        tags: &[String],
    ) -> ::remote::__private::Result<(), ::remote::RemoteError> {
        let counter: Remote<dyn Counter> = ::remote::__private::Into::into(counter);
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(
                    Registry::register(&**__remote_object, counter, tags),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_blocking::<
                        _,
                        (),
                    >(&RegistryDispatcher::__REMOTE_METHOD_register, &(&counter, &tags))
            }
        }
    }
    /// Calls [`Registry::find`] on the object.
    #[track_caller]
    pub(crate) fn find(
        &self,
        name: String,
    ) -> ::remote::__private::Result<
        ::remote::__private::Option<::remote::ProxyOf<dyn Counter>>,
        ::remote::RemoteError,
    > {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(
                    ::remote::__private::Option::map(
                        Registry::find(&**__remote_object, name),
                        ::remote::Remote::into_proxy,
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref
                        .call_blocking::<
                            _,
                            Option<Remote<dyn Counter>>,
                        >(&RegistryDispatcher::__REMOTE_METHOD_find, &(&name,)),
                    |__remote_value| ::remote::__private::Option::map(
                        __remote_value,
                        ::remote::Remote::into_proxy,
                    ),
                )
            }
        }
    }
    /// Calls [`Registry::open`] on the object.
    #[track_caller]
    pub(crate) fn open(
        &self,
        name: String,
    ) -> ::remote::__private::Result<
        ::remote::__private::Result<::remote::ProxyOf<dyn Counter>, NotFound>,
        ::remote::RemoteError,
    > {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(
                    ::remote::__private::Result::map(
                        Registry::open(&**__remote_object, name),
                        ::remote::Remote::into_proxy,
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref
                        .call_blocking::<
                            _,
                            Result<Remote<dyn Counter>, NotFound>,
                        >(&RegistryDispatcher::__REMOTE_METHOD_open, &(&name,)),
                    |__remote_value| ::remote::__private::Result::map(
                        __remote_value,
                        ::remote::Remote::into_proxy,
                    ),
                )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub(crate) fn same_object(
        &self,
        other: &impl ::remote::Proxy<Interface = dyn Registry>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(::remote::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub(crate) fn into_remote(self) -> ::remote::Remote<dyn Registry> {
        self.remote
    }
    /// The async proxy of the same object.
    pub(crate) fn to_async(&self) -> RegistryAsyncProxy {
        <RegistryAsyncProxy as ::remote::Proxy>::from_remote(
            ::remote::__private::Clone::clone(&self.remote),
        )
    }
}
impl ::remote::Proxy for RegistryProxy {
    type Interface = dyn Registry;
    fn from_remote(remote: ::remote::Remote<dyn Registry>) -> Self {
        RegistryProxy { remote }
    }
    fn as_remote(&self) -> &::remote::Remote<dyn Registry> {
        &self.remote
    }
}
impl ::remote::__private::From<RegistryProxy> for ::remote::Remote<dyn Registry> {
    fn from(proxy: RegistryProxy) -> Self {
        proxy.remote
    }
}
impl ::remote::__private::From<&RegistryProxy> for ::remote::Remote<dyn Registry> {
    fn from(proxy: &RegistryProxy) -> Self {
        ::remote::__private::Clone::clone(&proxy.remote)
    }
}
/// Async proxy of a [`Registry`] object: each method sends its call at once and returns a future of the reply ([`AsyncCall`](::remote::AsyncCall)) to `.await` without blocking the thread. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub(crate) struct RegistryAsyncProxy {
    remote: ::remote::Remote<dyn Registry>,
}
impl ::remote::__private::fmt::Debug for RegistryAsyncProxy {
    fn fmt(
        &self,
        f: &mut ::remote::__private::fmt::Formatter<'_>,
    ) -> ::remote::__private::fmt::Result {
        ::remote::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl RegistryAsyncProxy
where
    for<'__remote> Remote<dyn Counter>: ::remote::__private::Wire,
    for<'__remote> ::std::vec::Vec<String>: ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> Option<Remote<dyn Counter>>: ::remote::__private::Wire,
    for<'__remote> Result<Remote<dyn Counter>, NotFound>: ::remote::__private::Wire,
{
    /// Calls [`Registry::register`] on the object.
    #[track_caller]
    pub(crate) fn register(
        &self,
        counter: impl ::remote::__private::Into<Remote<dyn Counter>>,
        tags: &[String],
    ) -> ::remote::AsyncCall<()> {
        let counter: Remote<dyn Counter> = ::remote::__private::Into::into(counter);
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(
                        Registry::register(&**__remote_object, counter, tags),
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &RegistryDispatcher::__REMOTE_METHOD_register,
                        &(&counter, &tags),
                        |__remote_value: ()| -> () { __remote_value },
                    )
            }
        }
    }
    /// Calls [`Registry::find`] on the object.
    #[track_caller]
    pub(crate) fn find(
        &self,
        name: String,
    ) -> ::remote::AsyncCall<
        Option<Remote<dyn Counter>>,
        ::remote::__private::Option<::remote::AsyncProxyOf<dyn Counter>>,
    > {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(
                        ::remote::__private::Option::map(
                            Registry::find(&**__remote_object, name),
                            ::remote::Remote::into_async_proxy,
                        ),
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &RegistryDispatcher::__REMOTE_METHOD_find,
                        &(&name,),
                        |
                            __remote_value: Option<Remote<dyn Counter>>,
                        | -> ::remote::__private::Option<
                            ::remote::AsyncProxyOf<dyn Counter>,
                        > {
                            ::remote::__private::Option::map(
                                __remote_value,
                                ::remote::Remote::into_async_proxy,
                            )
                        },
                    )
            }
        }
    }
    /// Calls [`Registry::open`] on the object.
    #[track_caller]
    pub(crate) fn open(
        &self,
        name: String,
    ) -> ::remote::AsyncCall<
        Result<Remote<dyn Counter>, NotFound>,
        ::remote::__private::Result<::remote::AsyncProxyOf<dyn Counter>, NotFound>,
    > {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(
                        ::remote::__private::Result::map(
                            Registry::open(&**__remote_object, name),
                            ::remote::Remote::into_async_proxy,
                        ),
                    ),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &RegistryDispatcher::__REMOTE_METHOD_open,
                        &(&name,),
                        |
                            __remote_value: Result<Remote<dyn Counter>, NotFound>,
                        | -> ::remote::__private::Result<
                            ::remote::AsyncProxyOf<dyn Counter>,
                            NotFound,
                        > {
                            ::remote::__private::Result::map(
                                __remote_value,
                                ::remote::Remote::into_async_proxy,
                            )
                        },
                    )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub(crate) fn same_object(
        &self,
        other: &impl ::remote::Proxy<Interface = dyn Registry>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(::remote::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub(crate) fn into_remote(self) -> ::remote::Remote<dyn Registry> {
        self.remote
    }
    /// The blocking proxy of the same object.
    pub(crate) fn to_blocking(&self) -> RegistryProxy {
        <RegistryProxy as ::remote::Proxy>::from_remote(
            ::remote::__private::Clone::clone(&self.remote),
        )
    }
}
impl ::remote::Proxy for RegistryAsyncProxy {
    type Interface = dyn Registry;
    fn from_remote(remote: ::remote::Remote<dyn Registry>) -> Self {
        RegistryAsyncProxy { remote }
    }
    fn as_remote(&self) -> &::remote::Remote<dyn Registry> {
        &self.remote
    }
}
impl ::remote::__private::From<RegistryAsyncProxy> for ::remote::Remote<dyn Registry> {
    fn from(proxy: RegistryAsyncProxy) -> Self {
        proxy.remote
    }
}
impl ::remote::__private::From<&RegistryAsyncProxy> for ::remote::Remote<dyn Registry> {
    fn from(proxy: &RegistryAsyncProxy) -> Self {
        ::remote::__private::Clone::clone(&proxy.remote)
    }
}
