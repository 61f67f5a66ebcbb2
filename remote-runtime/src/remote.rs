//! `Remote<dyn T>`: an object passed by reference, and the traits the macro
//! implements to connect a trait with its proxies and dispatcher.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::de::{DeserializeOwned, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::calls::Dest;
use crate::context::{self, Cap};
use crate::dispatch::{Dispatch, Method, Snapshot};
use crate::handle::imports::ImportEntry;
use crate::observe::Outgoing;
use crate::promise::Promise;
use crate::protocol::exports::ObjKey;
use crate::relay::Relay;
use crate::session::{Incoming, Session};
use crate::RemoteError;

/// The identity of a local object as trait `T`: the address of its data and
/// the trait's fingerprint.
pub(crate) fn key_of<T: ?Sized + Interface>(object: &Arc<T>) -> ObjKey {
    ObjKey {
        addr: Arc::as_ptr(object) as *const () as usize,
        fingerprint: T::FINGERPRINT,
    }
}

/// Implemented by the macro for `dyn Trait` of every `#[remote_object]` trait:
/// it ties the trait to its proxies and its dispatcher.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[remote_object]` trait object",
    label = "expected `dyn YourTrait`, found `{Self}`",
    note = "export and send objects as the trait they are served as: `Arc::new(value) as Arc<dyn YourTrait>`, or `Remote::new(value)` where a `Remote<dyn YourTrait>` is expected",
    note = "the trait needs `#[remote_object]`"
)]
pub trait Interface: Send + Sync + 'static {
    /// The trait's name.
    const NAME: &'static str;
    /// The trait's identity, checked whenever a handle of this trait
    /// crosses a connection: a hash of its name and of its `#[property]`
    /// signatures (a snapshot is decoded as a whole). Its methods are not in
    /// it: each call is checked on its own (see [`Method`]).
    const FINGERPRINT: u64;
    /// The trait's methods, in declaration order (those its `#[cfg]`s
    /// leave in this build).
    fn methods() -> Vec<&'static Method>;
    /// The blocking proxy, `{Trait}Proxy`.
    type Proxy: Proxy<Interface = Self>;
    /// The async proxy, `{Trait}AsyncProxy`.
    type AsyncProxy: Proxy<Interface = Self>;
    /// Wraps a local object in its dispatcher.
    fn into_dispatch(object: Arc<Self>) -> Arc<dyn Dispatch>;
    /// Recovers the local object from its dispatcher.
    fn from_dispatch(object: &dyn Dispatch) -> Option<Arc<Self>>;
}

/// The blocking proxy of a `#[remote_object]` trait: `ProxyOf<dyn Store>`
/// is `StoreProxy`. Generated signatures name proxies of other traits so.
pub type ProxyOf<T> = <T as Interface>::Proxy;

/// The async proxy of a `#[remote_object]` trait: `AsyncProxyOf<dyn Store>`
/// is `StoreAsyncProxy`.
pub type AsyncProxyOf<T> = <T as Interface>::AsyncProxy;

/// Lets `Remote::new(value)` turn any implementor of the trait into
/// `Remote<dyn Trait>`; implemented by the macro.
pub trait FromLocal<X>: Interface {
    /// Unsizes the `Arc`.
    fn from_local(object: Arc<X>) -> Arc<Self>;
}

/// Implemented by the generated `{Trait}Proxy` and `{Trait}AsyncProxy`.
pub trait Proxy: Clone + Send + Sync + Sized + 'static {
    /// The `dyn Trait` this proxy speaks.
    type Interface: ?Sized + Interface;
    /// Wraps a reference (local or remote) in this proxy.
    fn from_remote(remote: Remote<Self::Interface>) -> Self;
    /// The reference this proxy calls.
    fn as_remote(&self) -> &Remote<Self::Interface>;
    /// True when both proxies stand for the same object.
    fn same_object<P: Proxy<Interface = Self::Interface>>(&self, other: &P) -> bool {
        self.as_remote().same_object(other.as_remote())
    }
}

/// An object of trait `T` (written `Remote<dyn T>`) that is passed *by
/// reference*: the object stays in the process that owns it, and the other
/// side receives a proxy that forwards calls to it.
///
/// Build one from a local object with [`Remote::new`] (or `From<Arc<dyn T>>`);
/// a proxy converts into one with `From`. It can appear anywhere in a method's
/// arguments or return value, including inside serialized values
/// (`Vec<Remote<dyn T>>`, `Option<..>`, struct fields).
///
/// When a proxy is sent back to the process that owns the object, it arrives
/// as the original local object ([`Remote::local`] gives the very same `Arc`).
pub struct Remote<T: ?Sized> {
    inner: Inner<T>,
}

enum Inner<T: ?Sized> {
    Local(Arc<T>),
    Proxy(ObjectRef),
}

impl<T: ?Sized> Clone for Remote<T> {
    fn clone(&self) -> Self {
        Remote {
            inner: match &self.inner {
                Inner::Local(a) => Inner::Local(a.clone()),
                Inner::Proxy(r) => Inner::Proxy(r.clone()),
            },
        }
    }
}

impl<T: ?Sized + Interface> fmt::Debug for Remote<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Local(a) => write!(f, "Remote<dyn {}>::Local({:p})", T::NAME, Arc::as_ptr(a)),
            Inner::Proxy(r) => match &r.via {
                Via::Import(entry) => {
                    write!(f, "Remote<dyn {}>::Proxy(handle {})", T::NAME, entry.id)
                }
                Via::Promise(p) => write!(
                    f,
                    "Remote<dyn {}>::Proxy(the answer of call {})",
                    T::NAME,
                    p.id()
                ),
                Via::Broken(e) => write!(f, "Remote<dyn {}>::Proxy(broken: {e})", T::NAME),
            },
        }
    }
}

/// Where a call on a [`Remote`] goes; used by generated proxies.
#[doc(hidden)]
pub enum Target<'a, T: ?Sized> {
    Local(&'a Arc<T>),
    Remote(&'a ObjectRef),
}

impl<T: ?Sized + Interface> Remote<T> {
    /// Wraps a local object: `Remote::<dyn Counter>::new(MyCounter::default())`,
    /// or just `Remote::new(..)` where the type is known.
    pub fn new<X>(object: X) -> Self
    where
        T: FromLocal<X>,
    {
        Self::from_arc(T::from_local(Arc::new(object)))
    }

    /// Wraps a shared local object.
    pub fn from_arc(object: Arc<T>) -> Self {
        Remote {
            inner: Inner::Local(object),
        }
    }

    /// The local object, when this process owns it (also when a proxy came
    /// back to its owner).
    pub fn local(&self) -> Option<&Arc<T>> {
        match &self.inner {
            Inner::Local(a) => Some(a),
            Inner::Proxy(_) => None,
        }
    }

    /// True when this process owns the object.
    pub fn is_local(&self) -> bool {
        matches!(self.inner, Inner::Local(_))
    }

    /// A blocking proxy for the object (it calls directly when local).
    pub fn into_proxy(self) -> T::Proxy {
        <T::Proxy as Proxy>::from_remote(self)
    }

    /// An async proxy for the object.
    pub fn into_async_proxy(self) -> T::AsyncProxy {
        <T::AsyncProxy as Proxy>::from_remote(self)
    }

    /// True when both stand for the same object: the same local `Arc`, or the
    /// same handle on the same connection.
    pub fn same_object(&self, other: &Remote<T>) -> bool {
        match (&self.inner, &other.inner) {
            (Inner::Local(a), Inner::Local(b)) => {
                Arc::as_ptr(a) as *const () == Arc::as_ptr(b) as *const ()
            }
            (Inner::Proxy(a), Inner::Proxy(b)) => a.same_object(b),
            _ => false,
        }
    }

    #[doc(hidden)]
    pub fn target(&self) -> Target<'_, T> {
        match &self.inner {
            Inner::Local(a) => Target::Local(a),
            Inner::Proxy(r) => Target::Remote(r),
        }
    }

    pub(crate) fn from_import(entry: Arc<ImportEntry>) -> Self {
        Self::from_via(Via::Import(entry))
    }

    fn from_via(via: Via) -> Self {
        Remote {
            inner: Inner::Proxy(ObjectRef { via }),
        }
    }
}

impl<T: ?Sized + Interface> From<Arc<T>> for Remote<T> {
    fn from(object: Arc<T>) -> Self {
        Remote::from_arc(object)
    }
}

impl<T: ?Sized + Interface> Serialize for Remote<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (index, created) = context::encode_handle(T::NAME, |cx| match &self.inner {
            Inner::Local(object) => cx.lend(key_of(object), || T::into_dispatch(object.clone())),
            Inner::Proxy(r) => cx.hand_on(&r.entry()?, T::NAME, Some(T::methods)),
        })
        .map_err(crate::wire::codec::ser_error)?;
        // A handle new on this connection carries its property snapshot. The
        // getters are user code, so they run outside the encode context.
        if let Some(snapshot) = created.as_deref().and_then(crate::dispatch::take_snapshot) {
            context::encode_handle(T::NAME, |cx| {
                cx.set_props(index, snapshot?);
                Ok(())
            })
            .map_err(crate::wire::codec::ser_error)?;
        }
        serializer.serialize_u32(index)
    }
}

impl<'de, T: ?Sized + Interface> Deserialize<'de> for Remote<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let index = u32::deserialize(deserializer)?;
        if crate::shape::tracing() {
            return Err(serde::de::Error::custom(crate::shape::handle_stop(T::NAME)));
        }
        let cap = context::take_cap(index).map_err(|e| {
            crate::wire::codec::de_error(format_args!("{e} (a Remote<dyn {}>)", T::NAME))
        })?;
        let result = match cap {
            Cap::Import(entry) if entry.fingerprint == T::FINGERPRINT => {
                Ok(Remote::from_import(entry))
            }
            Cap::Import(entry) => Err(RemoteError::Mismatch {
                what: format!("handle {}", entry.id),
                expected: T::NAME.to_string(),
                found: String::new(),
                expected_fingerprint: T::FINGERPRINT,
                found_fingerprint: entry.fingerprint,
            }),
            Cap::Local(object) => match Relay::of(&*object) {
                // A relay of ours coming back: the proxy it relays to.
                Some(relay) if relay.entry().fingerprint == T::FINGERPRINT => {
                    Ok(Remote::from_import(relay.entry().clone()))
                }
                _ => match T::from_dispatch(&*object) {
                    Some(object) => Ok(Remote::from_arc(object)),
                    None => Err(RemoteError::Mismatch {
                        what: "a handle passed back to its owner".to_string(),
                        expected: T::NAME.to_string(),
                        found: object.interface_name().to_string(),
                        expected_fingerprint: T::FINGERPRINT,
                        found_fingerprint: object.fingerprint(),
                    }),
                },
            },
            Cap::Invalid(e) => Err(e),
        };
        result.map_err(|e| crate::wire::codec::de_error(context::set_decode_error(e)))
    }
}

/// A live handle on a peer's object. Generated proxies call through it.
#[doc(hidden)]
#[derive(Clone)]
pub struct ObjectRef {
    pub(crate) via: Via,
}

/// How an [`ObjectRef`] reaches its object.
#[derive(Clone)]
pub(crate) enum Via {
    /// A handle that arrived.
    Import(Arc<ImportEntry>),
    /// The answer of a kept call, which may not have arrived yet (a
    /// pipelined proxy).
    Promise(Arc<Promise>),
    /// Nothing: the call it was pipelined on could not be made.
    Broken(RemoteError),
}

impl ObjectRef {
    /// The connection and where on it calls go now.
    fn dest(&self) -> Result<(&Arc<Session>, Dest<'_>), RemoteError> {
        match &self.via {
            Via::Import(entry) => Ok((&entry.session, Dest::Object(entry.id))),
            Via::Promise(p) => Ok((p.session(), Dest::Promise(p))),
            Via::Broken(e) => Err(e.clone()),
        }
    }

    /// The handle, once there is one: a pipelined proxy's answer must have
    /// arrived.
    pub(crate) fn entry(&self) -> Result<Arc<ImportEntry>, RemoteError> {
        match &self.via {
            Via::Import(entry) => Ok(entry.clone()),
            Via::Promise(p) => p.entry().unwrap_or_else(|| {
                Err(RemoteError::Pipeline {
                    reason: format!(
                        "a pipelined proxy cannot be passed on before the answer of call {} arrived: make a call through it, or await the call, first",
                        p.id()
                    ),
                })
            }),
            Via::Broken(e) => Err(e.clone()),
        }
    }

    /// True when both reach the same object (or the same answer).
    pub(crate) fn same_object(&self, other: &ObjectRef) -> bool {
        match (&self.via, &other.via) {
            (Via::Promise(a), Via::Promise(b)) if Arc::ptr_eq(a, b) => true,
            _ => match (self.entry(), other.entry()) {
                (Ok(a), Ok(b)) => Arc::ptr_eq(&a, &b),
                _ => false,
            },
        }
    }

    /// The property snapshot that came with the handle (or the latest
    /// refresh), if any.
    pub fn snapshot<P: DeserializeOwned + Send + Sync + 'static>(&self) -> Option<Arc<P>> {
        self.entry().ok()?.snapshot::<P>()
    }

    /// Keeps a fresh snapshot on the handle (when there is one yet).
    fn store_snapshot<P: Send + Sync + 'static>(&self, props: P) -> Arc<P> {
        match self.entry() {
            Ok(entry) => entry.store_snapshot(props),
            Err(_) => Arc::new(props),
        }
    }

    /// Takes a new property snapshot in one round trip, and keeps it.
    #[track_caller]
    pub fn refresh_blocking<P>(&self) -> Result<Arc<P>, RemoteError>
    where
        P: DeserializeOwned + Snapshot + Send + Sync + 'static,
    {
        let props: P = self.call_blocking(P::METHOD, &())?;
        Ok(self.store_snapshot(props))
    }

    /// The snapshot, or (when it never arrived) a fresh one.
    #[track_caller]
    pub fn properties_blocking<P>(&self) -> Result<Arc<P>, RemoteError>
    where
        P: DeserializeOwned + Snapshot + Send + Sync + 'static,
    {
        match self.snapshot::<P>() {
            Some(p) => Ok(p),
            None => self.refresh_blocking(),
        }
    }

    /// [`ObjectRef::refresh_blocking`] as a future; `pick` selects what the
    /// caller wants from the snapshot.
    #[track_caller]
    pub fn refresh_async<P, T>(&self, pick: fn(&P) -> T) -> PropertyFuture<P, T>
    where
        P: DeserializeOwned + Snapshot + Send + Sync + 'static,
    {
        let (session, dest) = match self.dest() {
            Ok(found) => found,
            Err(e) => {
                return PropertyFuture {
                    state: PropertyState::Failed(Some(e)),
                    pick,
                }
            }
        };
        let (outgoing, trace) = Outgoing::start(
            P::METHOD.named(),
            &session.peer,
            session.options.observer.as_ref(),
        );
        let state = session.start_call(dest, P::METHOD, &(), Location::caller(), trace, false);
        if let Ok(id) = &state {
            outgoing.sent(*id);
        }
        PropertyFuture {
            state: PropertyState::Fetching {
                call: CallFuture::new(session.clone(), state),
                target: self.clone(),
                outgoing: Some(Box::new(outgoing)),
            },
            pick,
        }
    }

    /// The snapshot (no round trip), or a fresh one when it never arrived.
    #[track_caller]
    pub fn properties_async<P, T>(&self, pick: fn(&P) -> T) -> PropertyFuture<P, T>
    where
        P: DeserializeOwned + Snapshot + Send + Sync + 'static,
    {
        match self.snapshot::<P>() {
            Some(p) => PropertyFuture {
                state: PropertyState::Ready(Some(p)),
                pick,
            },
            None => self.refresh_async(pick),
        }
    }

    /// Calls `method` and blocks until the reply arrives.
    #[track_caller]
    pub fn call_blocking<A, R>(&self, method: &'static Method, args: &A) -> Result<R, RemoteError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let (session, dest) = self.dest()?;
        let (call, trace) = Outgoing::start(
            method.named(),
            &session.peer,
            session.options.observer.as_ref(),
        );
        // Taken here: inside the closure it would name the closure.
        let location = Location::caller();
        let result = call.span().in_scope(|| {
            let id = session.start_call(dest, method, args, location, trace, false)?;
            call.sent(id);
            let incoming = session.wait(id)?;
            session.decode_reply(incoming)
        });
        let result = result.map_err(|e| method.complete(e));
        call.finish(result.as_ref().err());
        result
    }

    /// Calls `method` now; the returned future resolves to the reply, passed
    /// through `present`. The arguments are encoded and sent before this
    /// returns, so the future borrows nothing. A method that returns one
    /// object is sent kept, so that calls can be pipelined on its answer
    /// ([`AsyncCall::pipeline`]).
    #[track_caller]
    pub fn call_async<A, W, T>(
        &self,
        method: &'static Method,
        args: &A,
        present: fn(W) -> T,
    ) -> AsyncCall<W, T>
    where
        A: Serialize + ?Sized,
        W: DeserializeOwned,
    {
        let (session, dest) = match self.dest() {
            Ok(found) => found,
            Err(e) => return AsyncCall::ready(Err(e)),
        };
        let (outgoing, trace) = Outgoing::start(
            method.named(),
            &session.peer,
            session.options.observer.as_ref(),
        );
        let keep = method.pipelines;
        let state = session.start_call(dest, method, args, Location::caller(), trace, keep);
        if let Ok(id) = &state {
            outgoing.sent(*id);
        }
        let call = match state {
            Ok(id) if keep => Reply::Kept(Promise::new(session.clone(), id)),
            state => Reply::Plain(CallFuture::new(session.clone(), state)),
        };
        AsyncCall {
            state: AsyncState::Waiting {
                call,
                method,
                present,
                outgoing: Some(outgoing),
            },
        }
    }
}

/// The future of a call made through an async proxy.
///
/// The call is sent when the proxy method is called, not when this is first
/// polled: `let a = p.add(1, 2); let b = p.add(3, 4);` puts both calls in
/// flight at once. It borrows nothing, so it can be moved to another task.
/// Dropping it before it resolves abandons the reply (the server still runs
/// the call) and frees its slot.
#[must_use = "the call is already sent; await the future to get its reply"]
pub struct AsyncCall<W, T = W> {
    state: AsyncState<W, T>,
}

enum AsyncState<W, T> {
    Ready(Option<Result<T, RemoteError>>),
    Local(Pin<Box<dyn Future<Output = Result<T, RemoteError>> + Send>>),
    Waiting {
        call: Reply<W>,
        method: &'static Method,
        present: fn(W) -> T,
        outgoing: Option<Outgoing>,
    },
}

/// How an async call's reply arrives.
enum Reply<W> {
    /// In its own reply slot.
    Plain(CallFuture<W>),
    /// Through the promise calls can be pipelined on.
    Kept(Arc<Promise>),
}

impl<W, T> AsyncCall<W, T> {
    /// A call that already has its result (a call on a local object).
    #[doc(hidden)]
    pub fn ready(result: Result<T, RemoteError>) -> Self {
        AsyncCall {
            state: AsyncState::Ready(Some(result)),
        }
    }

    /// A call of a local object's async method.
    #[doc(hidden)]
    pub fn local(future: impl Future<Output = Result<T, RemoteError>> + Send + 'static) -> Self {
        AsyncCall {
            state: AsyncState::Local(Box::pin(future)),
        }
    }
}

impl<W: DeserializeOwned, T> AsyncCall<W, T> {
    /// Fails the call with [`RemoteError::Timeout`] if no reply arrived within
    /// `after` (counted from now). The server may still run it.
    pub fn deadline(self, after: std::time::Duration) -> Self {
        match &self.state {
            AsyncState::Waiting {
                call: Reply::Plain(call),
                ..
            } => call.fail_after(after),
            AsyncState::Waiting {
                call: Reply::Kept(promise),
                ..
            } => crate::timer::fail_after(Arc::downgrade(promise.session()), promise.id(), after),
            _ => {}
        }
        self
    }
}

impl<W, T> AsyncCall<W, T> {
    /// The object this call will return, as a reference calls can go
    /// through now; `local` takes it from a value that is already there.
    fn into_pipelined<I: ?Sized + Interface>(
        self,
        local: impl FnOnce(T) -> Result<Remote<I>, RemoteError>,
    ) -> Remote<I> {
        let broken = |e| Remote::from_via(Via::Broken(e));
        match self.state {
            AsyncState::Ready(Some(Ok(value))) => local(value).unwrap_or_else(broken),
            AsyncState::Ready(Some(Err(e))) => broken(e),
            AsyncState::Ready(None) => broken(RemoteError::Pipeline {
                reason: "the call's future had already completed".into(),
            }),
            AsyncState::Local(mut future) => {
                // A local object's async method: most answer at once.
                let mut cx = Context::from_waker(std::task::Waker::noop());
                match future.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok(value)) => local(value).unwrap_or_else(broken),
                    Poll::Ready(Err(e)) => broken(e),
                    Poll::Pending => broken(RemoteError::Pipeline {
                        reason: "the call is an async method of a local object that did not answer at once: await it instead".into(),
                    }),
                }
            }
            AsyncState::Waiting {
                call: Reply::Kept(promise),
                mut outgoing,
                ..
            } => {
                promise.expect(I::NAME, I::FINGERPRINT);
                promise.unawait(outgoing.take());
                Remote::from_via(Via::Promise(promise))
            }
            AsyncState::Waiting {
                call: Reply::Plain(call),
                ..
            } if call.pending.unsent().is_some() => {
                broken(call.pending.unsent().expect("checked").clone())
            }
            AsyncState::Waiting {
                call: Reply::Plain(_),
                method,
                ..
            } => broken(RemoteError::Pipeline {
                reason: format!(
                    "{}::{} was not sent kept: its return type does not read `Remote<dyn Trait>` (a type alias?); write it out to pipeline on it",
                    method.interface, method.name
                ),
            }),
        }
    }
}

impl<I: ?Sized + Interface> AsyncCall<Remote<I>, I::AsyncProxy> {
    /// A proxy of the object this call will return, usable now: its calls
    /// go out at once, naming "the object call k returns", and the owner
    /// runs them, in order, as soon as call k completes. A chain of
    /// dependent calls then costs one round trip, not one per call:
    ///
    /// ```text
    /// let value = calc.spawn_counter(10).pipeline().next().await?;
    /// ```
    ///
    /// (The README's "Pipelining" section has a whole example.)
    ///
    /// When call k fails, every call pipelined on it fails with its
    /// error. Awaiting the call instead of pipelining stays the default.
    /// Dropping the proxy before call k completes releases the object
    /// once it exists. To call it from blocking code, `.to_blocking()`
    /// turns it into the blocking proxy, still pipelined.
    #[must_use = "the proxy is the only way to the object; dropping it releases the object"]
    pub fn pipeline(self) -> I::AsyncProxy {
        self.into_pipelined(|proxy| Ok(Proxy::as_remote(&proxy).clone()))
            .into_async_proxy()
    }
}

impl<I: ?Sized + Interface, E> AsyncCall<Result<Remote<I>, E>, Result<I::AsyncProxy, E>> {
    /// [`AsyncCall::pipeline`] for a method that returns
    /// `Result<Remote<dyn T>, E>`. When it returns its error, the calls
    /// pipelined on it fail with [`RemoteError::Pipeline`]; await the call
    /// itself to see the error.
    #[must_use = "the proxy is the only way to the object; dropping it releases the object"]
    pub fn pipeline(self) -> I::AsyncProxy {
        self.into_pipelined(|result| match result {
            Ok(proxy) => Ok(Proxy::as_remote(&proxy).clone()),
            Err(_) => Err(RemoteError::no_pipeline_target(Some(0))),
        })
        .into_async_proxy()
    }
}

impl<W, T> Unpin for AsyncCall<W, T> {}

impl<W: DeserializeOwned, T> Future for AsyncCall<W, T> {
    type Output = Result<T, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            AsyncState::Ready(result) => {
                Poll::Ready(result.take().expect("AsyncCall polled after completion"))
            }
            AsyncState::Local(future) => future.as_mut().poll(cx),
            AsyncState::Waiting {
                call,
                method,
                present,
                outgoing,
            } => {
                let (method, present) = (*method, *present);
                let polled = match call {
                    Reply::Plain(call) => Pin::new(call).poll(cx),
                    Reply::Kept(promise) => promise.poll_reply(cx).map(|reply| {
                        reply.and_then(|incoming| promise.session().decode_reply(incoming))
                    }),
                }
                .map(|r| r.map_err(|e| method.complete(e)));
                if let Poll::Ready(result) = &polled {
                    if let Some(outgoing) = outgoing.take() {
                        outgoing.finish(result.as_ref().err());
                    }
                }
                polled.map(|r| r.map(present))
            }
        }
    }
}

/// A reply being waited for: the call's ID, or the error that stopped it
/// from being sent. Dropping it before the reply arrives cancels the wait and
/// frees the reply slot (the peer still runs the call).
pub(crate) struct PendingReply {
    session: Arc<Session>,
    /// `None` once resolved.
    state: Option<Result<u64, RemoteError>>,
}

impl PendingReply {
    pub(crate) fn new(session: Arc<Session>, state: Result<u64, RemoteError>) -> Self {
        PendingReply {
            session,
            state: Some(state),
        }
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Why the call could not be sent, if it could not.
    pub(crate) fn unsent(&self) -> Option<&RemoteError> {
        match &self.state {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// Fails the wait with `Timeout` if no reply arrived within `after`.
    pub(crate) fn fail_after(&self, after: std::time::Duration) {
        if let Some(Ok(id)) = &self.state {
            crate::timer::fail_after(Arc::downgrade(&self.session), *id, after);
        }
    }

    /// Blocks the thread until the reply arrives.
    pub(crate) fn wait(mut self) -> Result<Incoming, RemoteError> {
        match self.state.take() {
            Some(Ok(id)) => self.session.wait(id),
            Some(Err(e)) => Err(e),
            None => panic!("a reply waited on after completion"),
        }
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, RemoteError>> {
        let id = match self.state.take() {
            Some(Ok(id)) => id,
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => panic!("a reply polled after completion"),
        };
        let polled = self.session.poll_reply(id, cx);
        if polled.is_pending() {
            self.state = Some(Ok(id));
        }
        polled
    }
}

impl Future for PendingReply {
    type Output = Result<Incoming, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        PendingReply::poll(&mut self, cx)
    }
}

impl Drop for PendingReply {
    fn drop(&mut self) {
        if let Some(Ok(id)) = self.state.take() {
            self.session.cancel(id);
        }
    }
}

/// The future of an async call, decoded as `R`.
#[doc(hidden)]
pub struct CallFuture<R> {
    pending: PendingReply,
    _reply: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> CallFuture<R> {
    pub(crate) fn new(session: Arc<Session>, state: Result<u64, RemoteError>) -> Self {
        CallFuture {
            pending: PendingReply::new(session, state),
            _reply: PhantomData,
        }
    }

    /// Fails the call with `Timeout` if no reply arrived within `after`.
    pub(crate) fn fail_after(&self, after: std::time::Duration) {
        self.pending.fail_after(after);
    }

    /// Blocks the thread until the reply arrives.
    pub(crate) fn wait(self) -> Result<R, RemoteError> {
        let session = self.pending.session().clone();
        session.decode_reply(self.pending.wait()?)
    }
}

impl<R> Unpin for CallFuture<R> {}

impl<R: DeserializeOwned> Future for CallFuture<R> {
    type Output = Result<R, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.pending
            .poll(cx)
            .map(|incoming| incoming.and_then(|i| this.pending.session().decode_reply(i)))
    }
}

/// The future of a property read or refresh on an async proxy.
#[doc(hidden)]
#[must_use = "futures do nothing unless awaited"]
pub struct PropertyFuture<P, T> {
    state: PropertyState<P, T>,
    pick: fn(&P) -> T,
}

enum PropertyState<P, T> {
    Value(Option<T>),
    Ready(Option<Arc<P>>),
    Failed(Option<RemoteError>),
    Fetching {
        call: CallFuture<P>,
        target: ObjectRef,
        // Boxed: a refresh is rare, and the other states are small.
        outgoing: Option<Box<Outgoing>>,
    },
}

impl<P, T> PropertyFuture<P, T> {
    /// A read already answered (the object is local).
    pub fn ready(value: T) -> Self {
        fn unreachable_pick<P, T>(_: &P) -> T {
            unreachable!("a ready property future picks nothing")
        }
        PropertyFuture {
            state: PropertyState::Value(Some(value)),
            pick: unreachable_pick::<P, T>,
        }
    }
}

impl<P, T> Unpin for PropertyFuture<P, T> {}

impl<P: DeserializeOwned + Snapshot + Send + Sync + 'static, T> Future for PropertyFuture<P, T> {
    type Output = Result<T, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let pick = self.pick;
        match &mut self.state {
            PropertyState::Value(v) => Poll::Ready(Ok(v
                .take()
                .expect("PropertyFuture polled after completion"))),
            PropertyState::Ready(p) => {
                let p = p.take().expect("PropertyFuture polled after completion");
                Poll::Ready(Ok(pick(&p)))
            }
            PropertyState::Failed(e) => Poll::Ready(Err(e
                .take()
                .expect("PropertyFuture polled after completion"))),
            PropertyState::Fetching {
                call,
                target,
                outgoing,
            } => Pin::new(call).poll(cx).map(|r| {
                let r = r.map_err(|e| P::METHOD.complete(e));
                if let Some(outgoing) = outgoing.take() {
                    outgoing.finish(r.as_ref().err());
                }
                r.map(|props| {
                    let props = target.store_snapshot(props);
                    pick(&props)
                })
            }),
        }
    }
}
