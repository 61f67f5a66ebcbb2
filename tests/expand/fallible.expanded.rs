pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;
    fn put(&self, key: String, value: Vec<u8>) -> Result<(), StoreError>;
}
impl StoreDispatcher
where
    for<'__remote> ::std::string::String: renamed::__private::Wire,
    for<'__remote> Result<Vec<u8>, StoreError>: renamed::__private::Wire,
    for<'__remote> String: renamed::__private::Wire,
    for<'__remote> Vec<u8>: renamed::__private::Wire,
    for<'__remote> Result<(), StoreError>: renamed::__private::Wire,
{
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_get: renamed::__private::Method = renamed::__private::Method {
        interface: "Store",
        name: "get",
        id: 0xd40ca757u32,
        signature: "(&str) -> Result<Vec<u8>, StoreError>",
        pipelines: false,
        check: || {
            static CHECK: renamed::__private::OnceLock<::core::primitive::u32> = renamed::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    renamed::__private::signature_check(
                        &[
                            renamed::__private::shape_of::<::std::string::String>,
                            renamed::__private::shape_of::<
                                renamed::__private::Result<
                                    renamed::__private::ByteBuf,
                                    StoreError,
                                >,
                            >,
                        ],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_put: renamed::__private::Method = renamed::__private::Method {
        interface: "Store",
        name: "put",
        id: 0xe97299eeu32,
        signature: "(String, Vec<u8>) -> Result<(), StoreError>",
        pipelines: false,
        check: || {
            static CHECK: renamed::__private::OnceLock<::core::primitive::u32> = renamed::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    renamed::__private::signature_check(
                        &[
                            renamed::__private::shape_of::<String>,
                            renamed::__private::shape_of::<renamed::__private::ByteBuf>,
                            renamed::__private::shape_of::<Result<(), StoreError>>,
                        ],
                    )
                })
        },
    };
}
impl StoreDispatcher {
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    fn __remote_gate() -> (
        fn(
            renamed::__private::Arc<dyn Store>,
        ) -> renamed::__private::Arc<dyn renamed::__private::Dispatch>,
        fn() -> ::std::vec::Vec<&'static renamed::__private::Method>,
    )
    where
        for<'__remote> ::std::string::String: renamed::__private::Wire,
        for<'__remote> Result<Vec<u8>, StoreError>: renamed::__private::Wire,
        for<'__remote> String: renamed::__private::Wire,
        for<'__remote> Vec<u8>: renamed::__private::Wire,
        for<'__remote> Result<(), StoreError>: renamed::__private::Wire,
    {
        (
            |object| -> renamed::__private::Arc<dyn renamed::__private::Dispatch> {
                renamed::__private::Arc::new(StoreDispatcher::new(object))
            },
            || {
                let mut __remote_methods = ::std::vec::Vec::new();
                __remote_methods.push(&StoreDispatcher::__REMOTE_METHOD_get);
                __remote_methods.push(&StoreDispatcher::__REMOTE_METHOD_put);
                __remote_methods
            },
        )
    }
}
impl renamed::__private::Interface for dyn Store {
    const NAME: &'static ::core::primitive::str = "Store";
    const FINGERPRINT: ::core::primitive::u64 = 0xba1f26d4888b99e3u64;
    fn methods() -> ::std::vec::Vec<&'static renamed::__private::Method> {
        (StoreDispatcher::__remote_gate().1)()
    }
    type Proxy = StoreProxy;
    type AsyncProxy = StoreAsyncProxy;
    fn into_dispatch(
        object: renamed::__private::Arc<Self>,
    ) -> renamed::__private::Arc<dyn renamed::__private::Dispatch> {
        (StoreDispatcher::__remote_gate().0)(object)
    }
    fn from_dispatch(
        object: &dyn renamed::__private::Dispatch,
    ) -> renamed::__private::Option<renamed::__private::Arc<Self>> {
        renamed::__private::Option::map(
            renamed::__private::Dispatch::as_any(object)
                .downcast_ref::<StoreDispatcher>(),
            |d| renamed::__private::Clone::clone(d.object()),
        )
    }
}
impl<__RemoteT: Store + 'static> renamed::__private::FromLocal<__RemoteT> for dyn Store {
    fn from_local(
        object: renamed::__private::Arc<__RemoteT>,
    ) -> renamed::__private::Arc<Self> {
        object
    }
}
/// Serves calls on a local [`Store`] object: decodes each call, invokes the method and encodes the reply. Built by the runtime when a `Remote<dyn Store>` is sent; you rarely name it.
pub struct StoreDispatcher {
    object: renamed::__private::Arc<dyn Store>,
}
impl StoreDispatcher {
    /// Wraps a local object.
    pub fn new(object: renamed::__private::Arc<dyn Store>) -> Self {
        StoreDispatcher { object }
    }
    /// The local object.
    pub fn object(&self) -> &renamed::__private::Arc<dyn Store> {
        &self.object
    }
}
#[allow(deprecated)]
impl renamed::__private::Dispatch for StoreDispatcher
where
    for<'__remote> ::std::string::String: renamed::__private::Wire,
    for<'__remote> Result<Vec<u8>, StoreError>: renamed::__private::Wire,
    for<'__remote> String: renamed::__private::Wire,
    for<'__remote> Vec<u8>: renamed::__private::Wire,
    for<'__remote> Result<(), StoreError>: renamed::__private::Wire,
{
    fn interface_name(&self) -> &'static ::core::primitive::str {
        "Store"
    }
    fn object_addr(&self) -> ::core::primitive::usize {
        renamed::__private::Arc::as_ptr(&self.object) as *const ()
            as ::core::primitive::usize
    }
    fn fingerprint(&self) -> ::core::primitive::u64 {
        <dyn Store as renamed::__private::Interface>::FINGERPRINT
    }
    fn method(
        &self,
        id: ::core::primitive::u32,
    ) -> renamed::__private::Option<&'static renamed::__private::Method> {
        match id {
            0xd40ca757u32 => {
                renamed::__private::Some(&StoreDispatcher::__REMOTE_METHOD_get)
            }
            0xe97299eeu32 => {
                renamed::__private::Some(&StoreDispatcher::__REMOTE_METHOD_put)
            }
            _ => renamed::__private::None,
        }
    }
    fn dispatch(
        &self,
        __remote_method: ::core::primitive::u32,
        __remote_call: &mut renamed::__private::Call<'_>,
    ) -> renamed::__private::Result<(), renamed::RemoteError> {
        match __remote_method {
            0xd40ca757u32 => {
                let (key,): (::std::string::String,) = __remote_call.args()?;
                let __remote_ret: Result<Vec<u8>, StoreError> = Store::get(
                    &*self.object,
                    &key,
                );
                __remote_call
                    .reply(
                        &renamed::__private::Result::map(
                            __remote_ret,
                            <renamed::__private::OwnedBytes as renamed::__private::From<
                                _,
                            >>::from,
                        ),
                    )
            }
            0xe97299eeu32 => {
                let (key, value): (String, renamed::__private::ByteBuf) = __remote_call
                    .args()?;
                let value: Vec<u8> = <Vec<
                    u8,
                > as renamed::__private::FromWire<
                    renamed::__private::ByteBuf,
                >>::from_wire(value);
                let __remote_ret: Result<(), StoreError> = Store::put(
                    &*self.object,
                    key,
                    value,
                );
                __remote_call.reply(&__remote_ret)
            }
            _ => {
                renamed::__private::Err(renamed::RemoteError::NoSuchMethod {
                    interface: renamed::__private::ToString::to_string("Store"),
                    method: renamed::__private::format!("#{:#x}", __remote_method),
                })
            }
        }
    }
    fn as_any(&self) -> &dyn renamed::__private::Any {
        self
    }
}
/// Blocking proxy of a [`Store`] object: each call sends a request and waits for the reply on this thread. Needs no async runtime. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub struct StoreProxy {
    remote: renamed::Remote<dyn Store>,
}
impl renamed::__private::fmt::Debug for StoreProxy {
    fn fmt(
        &self,
        f: &mut renamed::__private::fmt::Formatter<'_>,
    ) -> renamed::__private::fmt::Result {
        renamed::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl StoreProxy
where
    for<'__remote> ::std::string::String: renamed::__private::Wire,
    for<'__remote> Result<Vec<u8>, StoreError>: renamed::__private::Wire,
    for<'__remote> String: renamed::__private::Wire,
    for<'__remote> Vec<u8>: renamed::__private::Wire,
    for<'__remote> Result<(), StoreError>: renamed::__private::Wire,
{
    /// Calls [`Store::get`] on the object.
    #[track_caller]
    pub fn get(
        &self,
        key: &str,
    ) -> renamed::__private::Result<Result<Vec<u8>, StoreError>, renamed::RemoteError> {
        match self.remote.target() {
            renamed::__private::Target::Local(__remote_object) => {
                renamed::__private::Ok(Store::get(&**__remote_object, key))
            }
            renamed::__private::Target::Remote(__remote_ref) => {
                renamed::__private::Result::map(
                    __remote_ref
                        .call_blocking::<
                            _,
                            renamed::__private::Result<
                                renamed::__private::ByteBuf,
                                StoreError,
                            >,
                        >(&StoreDispatcher::__REMOTE_METHOD_get, &(&key,)),
                    |__remote_value| <Result<
                        Vec<u8>,
                        StoreError,
                    > as renamed::__private::FromWire<
                        renamed::__private::Result<
                            renamed::__private::ByteBuf,
                            StoreError,
                        >,
                    >>::from_wire(__remote_value),
                )
            }
        }
    }
    /// Calls [`Store::put`] on the object.
    #[track_caller]
    pub fn put(
        &self,
        key: String,
        value: Vec<u8>,
    ) -> renamed::__private::Result<Result<(), StoreError>, renamed::RemoteError> {
        match self.remote.target() {
            renamed::__private::Target::Local(__remote_object) => {
                renamed::__private::Ok(Store::put(&**__remote_object, key, value))
            }
            renamed::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_blocking::<
                        _,
                        Result<(), StoreError>,
                    >(
                        &StoreDispatcher::__REMOTE_METHOD_put,
                        &(
                            &key,
                            &<renamed::__private::OwnedBytes as renamed::__private::From<
                                _,
                            >>::from(value),
                        ),
                    )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub fn same_object(
        &self,
        other: &impl renamed::Proxy<Interface = dyn Store>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(renamed::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub fn into_remote(self) -> renamed::Remote<dyn Store> {
        self.remote
    }
    /// The async proxy of the same object.
    pub fn to_async(&self) -> StoreAsyncProxy {
        <StoreAsyncProxy as renamed::Proxy>::from_remote(
            renamed::__private::Clone::clone(&self.remote),
        )
    }
}
impl renamed::Proxy for StoreProxy {
    type Interface = dyn Store;
    fn from_remote(remote: renamed::Remote<dyn Store>) -> Self {
        StoreProxy { remote }
    }
    fn as_remote(&self) -> &renamed::Remote<dyn Store> {
        &self.remote
    }
}
impl renamed::__private::From<StoreProxy> for renamed::Remote<dyn Store> {
    fn from(proxy: StoreProxy) -> Self {
        proxy.remote
    }
}
impl renamed::__private::From<&StoreProxy> for renamed::Remote<dyn Store> {
    fn from(proxy: &StoreProxy) -> Self {
        renamed::__private::Clone::clone(&proxy.remote)
    }
}
/// Async proxy of a [`Store`] object: each method sends its call at once and returns a future of the reply ([`AsyncCall`](::remote::AsyncCall)) to `.await` without blocking the thread. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub struct StoreAsyncProxy {
    remote: renamed::Remote<dyn Store>,
}
impl renamed::__private::fmt::Debug for StoreAsyncProxy {
    fn fmt(
        &self,
        f: &mut renamed::__private::fmt::Formatter<'_>,
    ) -> renamed::__private::fmt::Result {
        renamed::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl StoreAsyncProxy
where
    for<'__remote> ::std::string::String: renamed::__private::Wire,
    for<'__remote> Result<Vec<u8>, StoreError>: renamed::__private::Wire,
    for<'__remote> String: renamed::__private::Wire,
    for<'__remote> Vec<u8>: renamed::__private::Wire,
    for<'__remote> Result<(), StoreError>: renamed::__private::Wire,
{
    /// Calls [`Store::get`] on the object.
    #[track_caller]
    pub fn get(
        &self,
        key: &str,
    ) -> renamed::AsyncCall<
        renamed::__private::Result<renamed::__private::ByteBuf, StoreError>,
        Result<Vec<u8>, StoreError>,
    > {
        match self.remote.target() {
            renamed::__private::Target::Local(__remote_object) => {
                renamed::AsyncCall::ready(
                    renamed::__private::Ok(Store::get(&**__remote_object, key)),
                )
            }
            renamed::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &StoreDispatcher::__REMOTE_METHOD_get,
                        &(&key,),
                        |
                            __remote_value: renamed::__private::Result<
                                renamed::__private::ByteBuf,
                                StoreError,
                            >,
                        | -> Result<Vec<u8>, StoreError> {
                            <Result<
                                Vec<u8>,
                                StoreError,
                            > as renamed::__private::FromWire<
                                renamed::__private::Result<
                                    renamed::__private::ByteBuf,
                                    StoreError,
                                >,
                            >>::from_wire(__remote_value)
                        },
                    )
            }
        }
    }
    /// Calls [`Store::put`] on the object.
    #[track_caller]
    pub fn put(
        &self,
        key: String,
        value: Vec<u8>,
    ) -> renamed::AsyncCall<Result<(), StoreError>> {
        match self.remote.target() {
            renamed::__private::Target::Local(__remote_object) => {
                renamed::AsyncCall::ready(
                    renamed::__private::Ok(Store::put(&**__remote_object, key, value)),
                )
            }
            renamed::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &StoreDispatcher::__REMOTE_METHOD_put,
                        &(
                            &key,
                            &<renamed::__private::OwnedBytes as renamed::__private::From<
                                _,
                            >>::from(value),
                        ),
                        |
                            __remote_value: Result<(), StoreError>,
                        | -> Result<(), StoreError> { __remote_value },
                    )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub fn same_object(
        &self,
        other: &impl renamed::Proxy<Interface = dyn Store>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(renamed::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub fn into_remote(self) -> renamed::Remote<dyn Store> {
        self.remote
    }
    /// The blocking proxy of the same object.
    pub fn to_blocking(&self) -> StoreProxy {
        <StoreProxy as renamed::Proxy>::from_remote(
            renamed::__private::Clone::clone(&self.remote),
        )
    }
}
impl renamed::Proxy for StoreAsyncProxy {
    type Interface = dyn Store;
    fn from_remote(remote: renamed::Remote<dyn Store>) -> Self {
        StoreAsyncProxy { remote }
    }
    fn as_remote(&self) -> &renamed::Remote<dyn Store> {
        &self.remote
    }
}
impl renamed::__private::From<StoreAsyncProxy> for renamed::Remote<dyn Store> {
    fn from(proxy: StoreAsyncProxy) -> Self {
        proxy.remote
    }
}
impl renamed::__private::From<&StoreAsyncProxy> for renamed::Remote<dyn Store> {
    fn from(proxy: &StoreAsyncProxy) -> Self {
        renamed::__private::Clone::clone(&proxy.remote)
    }
}
#[allow(deprecated)]
impl Store for StoreProxy
where
    for<'__remote> StoreError: renamed::__private::From<renamed::RemoteError>,
    for<'__remote> StoreError: renamed::__private::From<renamed::RemoteError>,
    for<'__remote> ::std::string::String: renamed::__private::Wire,
    for<'__remote> Result<Vec<u8>, StoreError>: renamed::__private::Wire,
    for<'__remote> String: renamed::__private::Wire,
    for<'__remote> Vec<u8>: renamed::__private::Wire,
    for<'__remote> Result<(), StoreError>: renamed::__private::Wire,
{
    #[track_caller]
    fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        match self.remote.target() {
            renamed::__private::Target::Local(__remote_object) => {
                Store::get(&**__remote_object, key)
            }
            renamed::__private::Target::Remote(__remote_ref) => {
                match __remote_ref
                    .call_blocking::<
                        _,
                        renamed::__private::Result<
                            renamed::__private::ByteBuf,
                            StoreError,
                        >,
                    >(&StoreDispatcher::__REMOTE_METHOD_get, &(&key,))
                {
                    renamed::__private::Ok(__remote_value) => {
                        <Result<
                            Vec<u8>,
                            StoreError,
                        > as renamed::__private::FromWire<
                            renamed::__private::Result<
                                renamed::__private::ByteBuf,
                                StoreError,
                            >,
                        >>::from_wire(__remote_value)
                    }
                    renamed::__private::Err(__remote_error) => {
                        renamed::__private::Err(
                            renamed::__private::From::from(__remote_error),
                        )
                    }
                }
            }
        }
    }
    #[track_caller]
    fn put(&self, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        match self.remote.target() {
            renamed::__private::Target::Local(__remote_object) => {
                Store::put(&**__remote_object, key, value)
            }
            renamed::__private::Target::Remote(__remote_ref) => {
                match __remote_ref
                    .call_blocking::<
                        _,
                        Result<(), StoreError>,
                    >(
                        &StoreDispatcher::__REMOTE_METHOD_put,
                        &(
                            &key,
                            &<renamed::__private::OwnedBytes as renamed::__private::From<
                                _,
                            >>::from(value),
                        ),
                    )
                {
                    renamed::__private::Ok(__remote_value) => __remote_value,
                    renamed::__private::Err(__remote_error) => {
                        renamed::__private::Err(
                            renamed::__private::From::from(__remote_error),
                        )
                    }
                }
            }
        }
    }
}
