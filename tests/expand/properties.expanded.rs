pub trait Window: Send + Sync {
    /// The title bar's text.
    fn title(&self) -> String;
    fn size(&self) -> (u32, u32);
    fn close(&self);
}
impl WindowDispatcher
where
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> (u32, u32): ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
{
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_title: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Window",
        name: "title",
        id: 0x9865b50au32,
        signature: "() -> String",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[::remote::__private::shape_of::<String>],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_size: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Window",
        name: "size",
        id: 0xa3a0d95cu32,
        signature: "() -> (u32, u32)",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[::remote::__private::shape_of::<(u32, u32)>],
                    )
                })
        },
    };
    #[doc(hidden)]
    #[allow(non_upper_case_globals)]
    const __REMOTE_METHOD_close: ::remote::__private::Method = ::remote::__private::Method {
        interface: "Window",
        name: "close",
        id: 0xa7cb3b23u32,
        signature: "() -> ()",
        pipelines: false,
        check: || {
            static CHECK: ::remote::__private::OnceLock<::core::primitive::u32> = ::remote::__private::OnceLock::new();
            *CHECK
                .get_or_init(|| {
                    ::remote::__private::signature_check(
                        &[::remote::__private::shape_of::<()>],
                    )
                })
        },
    };
}
impl WindowDispatcher {
    #[doc(hidden)]
    #[allow(clippy::type_complexity)]
    fn __remote_gate() -> (
        fn(
            ::remote::__private::Arc<dyn Window>,
        ) -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch>,
        fn() -> ::std::vec::Vec<&'static ::remote::__private::Method>,
    )
    where
        for<'__remote> String: ::remote::__private::Wire,
        for<'__remote> (u32, u32): ::remote::__private::Wire,
        for<'__remote> (): ::remote::__private::Wire,
    {
        (
            |object| -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch> {
                ::remote::__private::Arc::new(WindowDispatcher::new(object))
            },
            || {
                let mut __remote_methods = ::std::vec::Vec::new();
                __remote_methods.push(&WindowDispatcher::__REMOTE_METHOD_title);
                __remote_methods.push(&WindowDispatcher::__REMOTE_METHOD_size);
                __remote_methods.push(&WindowDispatcher::__REMOTE_METHOD_close);
                __remote_methods
            },
        )
    }
}
impl ::remote::__private::Interface for dyn Window {
    const NAME: &'static ::core::primitive::str = "Window";
    const FINGERPRINT: ::core::primitive::u64 = 0x46dfcd2656c36a75u64;
    fn methods() -> ::std::vec::Vec<&'static ::remote::__private::Method> {
        (WindowDispatcher::__remote_gate().1)()
    }
    type Proxy = WindowProxy;
    type AsyncProxy = WindowAsyncProxy;
    fn into_dispatch(
        object: ::remote::__private::Arc<Self>,
    ) -> ::remote::__private::Arc<dyn ::remote::__private::Dispatch> {
        (WindowDispatcher::__remote_gate().0)(object)
    }
    fn from_dispatch(
        object: &dyn ::remote::__private::Dispatch,
    ) -> ::remote::__private::Option<::remote::__private::Arc<Self>> {
        ::remote::__private::Option::map(
            ::remote::__private::Dispatch::as_any(object)
                .downcast_ref::<WindowDispatcher>(),
            |d| ::remote::__private::Clone::clone(d.object()),
        )
    }
}
impl<__RemoteT: Window + 'static> ::remote::__private::FromLocal<__RemoteT>
for dyn Window {
    fn from_local(
        object: ::remote::__private::Arc<__RemoteT>,
    ) -> ::remote::__private::Arc<Self> {
        object
    }
}
/// The enumerable properties of a [`Window`] object, as they were when its handle first reached this side (or at the last `refresh()`). Reading them costs no round trip; they do not follow later changes on the owner's side.
#[derive(
    ::core::fmt::Debug,
    ::core::clone::Clone,
    ::remote::__private::serde::Serialize,
    ::remote::__private::serde::Deserialize
)]
#[serde(crate = "::remote::__private::serde")]
pub struct WindowProperties {
    /// The title bar's text.
    pub title: String,
    /// The `size` property.
    pub size: (u32, u32),
}
impl ::remote::__private::Snapshot for WindowProperties {
    const METHOD: &'static ::remote::__private::Method = &::remote::__private::Method {
        interface: "Window",
        name: "properties",
        id: ::remote::__private::SNAPSHOT_METHOD,
        signature: "() -> WindowProperties",
        check: ::remote::__private::not_checked,
        pipelines: false,
    };
}
impl WindowProperties {
    /// The property names, in declaration order.
    pub const NAMES: &'static [&'static ::core::primitive::str] = &["title", "size"];
    /// Reads every property of a local object now.
    pub fn capture(object: &dyn Window) -> Self {
        WindowProperties {
            title: Window::title(object),
            size: Window::size(object),
        }
    }
}
/// Serves calls on a local [`Window`] object: decodes each call, invokes the method and encodes the reply. Built by the runtime when a `Remote<dyn Window>` is sent; you rarely name it.
pub struct WindowDispatcher {
    object: ::remote::__private::Arc<dyn Window>,
}
impl WindowDispatcher {
    /// Wraps a local object.
    pub fn new(object: ::remote::__private::Arc<dyn Window>) -> Self {
        WindowDispatcher { object }
    }
    /// The local object.
    pub fn object(&self) -> &::remote::__private::Arc<dyn Window> {
        &self.object
    }
}
#[allow(deprecated)]
impl ::remote::__private::Dispatch for WindowDispatcher
where
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> (u32, u32): ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
{
    fn interface_name(&self) -> &'static ::core::primitive::str {
        "Window"
    }
    fn object_addr(&self) -> ::core::primitive::usize {
        ::remote::__private::Arc::as_ptr(&self.object) as *const ()
            as ::core::primitive::usize
    }
    fn fingerprint(&self) -> ::core::primitive::u64 {
        <dyn Window as ::remote::__private::Interface>::FINGERPRINT
    }
    fn method(
        &self,
        id: ::core::primitive::u32,
    ) -> ::remote::__private::Option<&'static ::remote::__private::Method> {
        match id {
            0x9865b50au32 => {
                ::remote::__private::Some(&WindowDispatcher::__REMOTE_METHOD_title)
            }
            0xa3a0d95cu32 => {
                ::remote::__private::Some(&WindowDispatcher::__REMOTE_METHOD_size)
            }
            0xa7cb3b23u32 => {
                ::remote::__private::Some(&WindowDispatcher::__REMOTE_METHOD_close)
            }
            ::remote::__private::SNAPSHOT_METHOD => {
                ::remote::__private::Some(
                    <WindowProperties as ::remote::__private::Snapshot>::METHOD,
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
            0x9865b50au32 => {
                let (): () = __remote_call.args()?;
                let __remote_ret: String = Window::title(&*self.object);
                __remote_call.reply(&__remote_ret)
            }
            0xa3a0d95cu32 => {
                let (): () = __remote_call.args()?;
                let __remote_ret: (u32, u32) = Window::size(&*self.object);
                __remote_call.reply(&__remote_ret)
            }
            0xa7cb3b23u32 => {
                let (): () = __remote_call.args()?;
                let __remote_ret: () = Window::close(&*self.object);
                __remote_call.reply(&__remote_ret)
            }
            ::remote::__private::SNAPSHOT_METHOD => {
                let (): () = __remote_call.args()?;
                __remote_call.reply(&WindowProperties::capture(&*self.object))
            }
            _ => {
                ::remote::__private::Err(::remote::RemoteError::NoSuchMethod {
                    interface: ::remote::__private::ToString::to_string("Window"),
                    method: ::remote::__private::format!("#{:#x}", __remote_method),
                })
            }
        }
    }
    fn as_any(&self) -> &dyn ::remote::__private::Any {
        self
    }
    fn snapshot(
        &self,
    ) -> ::remote::__private::Option<
        ::remote::__private::Result<
            ::std::vec::Vec<::core::primitive::u8>,
            ::remote::RemoteError,
        >,
    > {
        ::remote::__private::Some(
            ::remote::__private::encode_snapshot(
                &WindowProperties::capture(&*self.object),
            ),
        )
    }
}
/// Blocking proxy of a [`Window`] object: each call sends a request and waits for the reply on this thread. Needs no async runtime. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub struct WindowProxy {
    remote: ::remote::Remote<dyn Window>,
}
impl ::remote::__private::fmt::Debug for WindowProxy {
    fn fmt(
        &self,
        f: &mut ::remote::__private::fmt::Formatter<'_>,
    ) -> ::remote::__private::fmt::Result {
        ::remote::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl WindowProxy
where
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> (u32, u32): ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
{
    /// The title bar's text.
    ///
    /// The `title` property, from the snapshot taken when this object was first received (or at the last `refresh()`): no round trip.
    #[track_caller]
    pub fn title(&self) -> ::remote::__private::Result<String, ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(Window::title(&**__remote_object))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref.properties_blocking::<WindowProperties>(),
                    |__remote_props| ::remote::__private::Clone::clone(
                        &__remote_props.title,
                    ),
                )
            }
        }
    }
    ///
    /// The `size` property, from the snapshot taken when this object was first received (or at the last `refresh()`): no round trip.
    #[track_caller]
    pub fn size(
        &self,
    ) -> ::remote::__private::Result<(u32, u32), ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(Window::size(&**__remote_object))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref.properties_blocking::<WindowProperties>(),
                    |__remote_props| ::remote::__private::Clone::clone(
                        &__remote_props.size,
                    ),
                )
            }
        }
    }
    /// Calls [`Window::close`] on the object.
    #[track_caller]
    pub fn close(&self) -> ::remote::__private::Result<(), ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(Window::close(&**__remote_object))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_blocking::<
                        _,
                        (),
                    >(&WindowDispatcher::__REMOTE_METHOD_close, &())
            }
        }
    }
    /// Every property, from the snapshot taken when this object was
    /// first received (or at the last `refresh()`): no round trip.
    #[track_caller]
    pub fn properties(
        &self,
    ) -> ::remote::__private::Result<WindowProperties, ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(WindowProperties::capture(&**__remote_object))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref.properties_blocking::<WindowProperties>(),
                    |__remote_props| ::remote::__private::Clone::clone(&*__remote_props),
                )
            }
        }
    }
    /// Takes a new snapshot of every property in one round trip; the
    /// getters return it from now on.
    #[track_caller]
    pub fn refresh(
        &self,
    ) -> ::remote::__private::Result<WindowProperties, ::remote::RemoteError> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::Ok(WindowProperties::capture(&**__remote_object))
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                ::remote::__private::Result::map(
                    __remote_ref.refresh_blocking::<WindowProperties>(),
                    |__remote_props| ::remote::__private::Clone::clone(&*__remote_props),
                )
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub fn same_object(
        &self,
        other: &impl ::remote::Proxy<Interface = dyn Window>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(::remote::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub fn into_remote(self) -> ::remote::Remote<dyn Window> {
        self.remote
    }
    /// The async proxy of the same object.
    pub fn to_async(&self) -> WindowAsyncProxy {
        <WindowAsyncProxy as ::remote::Proxy>::from_remote(
            ::remote::__private::Clone::clone(&self.remote),
        )
    }
}
impl ::remote::Proxy for WindowProxy {
    type Interface = dyn Window;
    fn from_remote(remote: ::remote::Remote<dyn Window>) -> Self {
        WindowProxy { remote }
    }
    fn as_remote(&self) -> &::remote::Remote<dyn Window> {
        &self.remote
    }
}
impl ::remote::__private::From<WindowProxy> for ::remote::Remote<dyn Window> {
    fn from(proxy: WindowProxy) -> Self {
        proxy.remote
    }
}
impl ::remote::__private::From<&WindowProxy> for ::remote::Remote<dyn Window> {
    fn from(proxy: &WindowProxy) -> Self {
        ::remote::__private::Clone::clone(&proxy.remote)
    }
}
/// Async proxy of a [`Window`] object: each method sends its call at once and returns a future of the reply ([`AsyncCall`](::remote::AsyncCall)) to `.await` without blocking the thread. Clone it freely: clones share one handle, and the object is released when the last one drops.
#[derive(Clone)]
pub struct WindowAsyncProxy {
    remote: ::remote::Remote<dyn Window>,
}
impl ::remote::__private::fmt::Debug for WindowAsyncProxy {
    fn fmt(
        &self,
        f: &mut ::remote::__private::fmt::Formatter<'_>,
    ) -> ::remote::__private::fmt::Result {
        ::remote::__private::fmt::Debug::fmt(&self.remote, f)
    }
}
#[allow(deprecated, clippy::type_complexity)]
impl WindowAsyncProxy
where
    for<'__remote> String: ::remote::__private::Wire,
    for<'__remote> (u32, u32): ::remote::__private::Wire,
    for<'__remote> (): ::remote::__private::Wire,
{
    /// The title bar's text.
    ///
    /// The `title` property, from the snapshot taken when this object was first received (or at the last `refresh()`): no round trip.
    #[track_caller]
    pub fn title(
        &self,
    ) -> ::remote::__private::PropertyFuture<WindowProperties, String> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::PropertyFuture::ready(
                    Window::title(&**__remote_object),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .properties_async::<
                        WindowProperties,
                        String,
                    >(|__remote_props| {
                        ::remote::__private::Clone::clone(&__remote_props.title)
                    })
            }
        }
    }
    ///
    /// The `size` property, from the snapshot taken when this object was first received (or at the last `refresh()`): no round trip.
    #[track_caller]
    pub fn size(
        &self,
    ) -> ::remote::__private::PropertyFuture<WindowProperties, (u32, u32)> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::PropertyFuture::ready(
                    Window::size(&**__remote_object),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .properties_async::<
                        WindowProperties,
                        (u32, u32),
                    >(|__remote_props| {
                        ::remote::__private::Clone::clone(&__remote_props.size)
                    })
            }
        }
    }
    /// Calls [`Window::close`] on the object.
    #[track_caller]
    pub fn close(&self) -> ::remote::AsyncCall<()> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::AsyncCall::ready(
                    ::remote::__private::Ok(Window::close(&**__remote_object)),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .call_async(
                        &WindowDispatcher::__REMOTE_METHOD_close,
                        &(),
                        |__remote_value: ()| -> () { __remote_value },
                    )
            }
        }
    }
    /// Every property, from the snapshot taken when this object was
    /// first received (or at the last `refresh()`): no round trip.
    #[track_caller]
    pub fn properties(
        &self,
    ) -> ::remote::__private::PropertyFuture<WindowProperties, WindowProperties> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::PropertyFuture::ready(
                    WindowProperties::capture(&**__remote_object),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .properties_async::<
                        WindowProperties,
                        WindowProperties,
                    >(::remote::__private::Clone::clone)
            }
        }
    }
    /// Takes a new snapshot of every property in one round trip; the
    /// getters return it from now on.
    #[track_caller]
    pub fn refresh(
        &self,
    ) -> ::remote::__private::PropertyFuture<WindowProperties, WindowProperties> {
        match self.remote.target() {
            ::remote::__private::Target::Local(__remote_object) => {
                ::remote::__private::PropertyFuture::ready(
                    WindowProperties::capture(&**__remote_object),
                )
            }
            ::remote::__private::Target::Remote(__remote_ref) => {
                __remote_ref
                    .refresh_async::<
                        WindowProperties,
                        WindowProperties,
                    >(::remote::__private::Clone::clone)
            }
        }
    }
    /// True when both proxies stand for the same object.
    pub fn same_object(
        &self,
        other: &impl ::remote::Proxy<Interface = dyn Window>,
    ) -> ::core::primitive::bool {
        self.remote.same_object(::remote::Proxy::as_remote(other))
    }
    /// The object reference behind this proxy, for passing it to
    /// another remote method.
    pub fn into_remote(self) -> ::remote::Remote<dyn Window> {
        self.remote
    }
    /// The blocking proxy of the same object.
    pub fn to_blocking(&self) -> WindowProxy {
        <WindowProxy as ::remote::Proxy>::from_remote(
            ::remote::__private::Clone::clone(&self.remote),
        )
    }
}
impl ::remote::Proxy for WindowAsyncProxy {
    type Interface = dyn Window;
    fn from_remote(remote: ::remote::Remote<dyn Window>) -> Self {
        WindowAsyncProxy { remote }
    }
    fn as_remote(&self) -> &::remote::Remote<dyn Window> {
        &self.remote
    }
}
impl ::remote::__private::From<WindowAsyncProxy> for ::remote::Remote<dyn Window> {
    fn from(proxy: WindowAsyncProxy) -> Self {
        proxy.remote
    }
}
impl ::remote::__private::From<&WindowAsyncProxy> for ::remote::Remote<dyn Window> {
    fn from(proxy: &WindowAsyncProxy) -> Self {
        ::remote::__private::Clone::clone(&proxy.remote)
    }
}
