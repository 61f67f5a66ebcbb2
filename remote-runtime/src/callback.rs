//! Callbacks: closures a client passes to a server (or any peer to another).
//!
//! The closure stays in the process that created it; the receiver gets a
//! handle it can call. A plain [`Callback<Args>`] has no return value, so the
//! trap of Electron's `mapNumbers` (a renderer callback whose return value the
//! main process silently lost) cannot be written. When an answer is wanted,
//! `Callback<Args, R>` gives the caller a future of the reply ([`Reply`]),
//! with an optional deadline, that never blocks a thread while it waits.
//!
//! Invocations of one connection's callbacks run on the creator's side one at
//! a time, in the order they were made, on a thread of their own: never on a
//! thread blocked in a synchronous proxy call, so a callback may itself call
//! the server synchronously.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::de::{DeserializeOwned, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::context::{self, Cap};
use crate::dispatch::{Call, Dispatch, Method};
use crate::handle::imports::ImportEntry;
use crate::protocol::exports::ObjKey;
use crate::relay::Relay;
use crate::remote::CallFuture;
use crate::session::Session;
use crate::RemoteError;

/// What a callback's arguments and answer must be: plain data that can be
/// copied across a connection.
pub trait Message: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> Message for T {}

/// A closure passed by reference: it runs in the process that created it.
///
/// `Args` is a tuple of serializable values (`(u32,)`, `(String, bool)`, or
/// `()`); `R` is the answer, `()` by default, in which case there is none to
/// lose. Create it with [`Callback::new`] where the closure lives, pass it as
/// a method argument (also inside serialized values), and call it where it
/// arrives: [`Callback::call`] returns at once, [`Callback::ask`] gives a
/// future of the answer.
///
/// The closure lives as long as any holder (local or remote) keeps the
/// callback, and is dropped when the last one drops it. When the creator's
/// connection ends, the callback is closed: calls fail with
/// [`RemoteError::CallbackClosed`], which names the line that created it.
pub struct Callback<Args, R = ()> {
    inner: Inner<Args, R>,
}

enum Inner<Args, R> {
    Local(Arc<LocalCallback<Args, R>>),
    Remote {
        entry: Arc<ImportEntry>,
        created_at: Arc<str>,
    },
}

type CallbackFn<Args, R> = dyn Fn(Args) -> R + Send + Sync;

struct LocalCallback<Args, R> {
    f: Box<CallbackFn<Args, R>>,
    created_at: &'static Location<'static>,
}

impl<Args, R> Clone for Callback<Args, R> {
    fn clone(&self) -> Self {
        Callback {
            inner: match &self.inner {
                Inner::Local(l) => Inner::Local(l.clone()),
                Inner::Remote { entry, created_at } => Inner::Remote {
                    entry: entry.clone(),
                    created_at: created_at.clone(),
                },
            },
        }
    }
}

impl<Args, R> fmt::Debug for Callback<Args, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Local(l) => write!(f, "Callback(local, created at {})", l.created_at),
            Inner::Remote { entry, created_at } => write!(
                f,
                "Callback(handle {} from {}, created at {created_at})",
                entry.id, entry.session.peer
            ),
        }
    }
}

/// The fingerprint of a callback type: the shapes of its argument and
/// answer types (see [`crate::shape`]), so builds made with different
/// compilers agree on it (a type's `type_name` may differ between them) and
/// two argument structs of one name with other fields do not.
fn fingerprint<Args: Message, R: Message>() -> u64 {
    typed_fingerprint::<Args, R>(0x6361_6c6c_6261_636b) // "callback"
}

/// The fingerprint of a handle kind (`kind`: callbacks, streams) carrying
/// types `A` and `B`: computed from their shapes once per program.
pub(crate) fn typed_fingerprint<A: Message, B: Message>(kind: u64) -> u64 {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{OnceLock, RwLock};
    type Known = RwLock<HashMap<(u64, TypeId, TypeId), u64>>;
    // One per handle type of the program: a bounded set.
    static KNOWN: OnceLock<Known> = OnceLock::new();
    let key = (kind, TypeId::of::<A>(), TypeId::of::<B>());
    let known = KNOWN.get_or_init(Known::default);
    if let Some(h) = known.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *h;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [
        kind,
        crate::shape::shape_of::<A>(),
        crate::shape::shape_of::<B>(),
    ] {
        for b in part.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    known
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, h);
    h
}

impl<Args: Message, R: Message> Callback<Args, R> {
    /// Wraps a closure. The line that calls this is remembered, and named in
    /// errors and logs about the callback.
    #[track_caller]
    pub fn new(f: impl Fn(Args) -> R + Send + Sync + 'static) -> Self {
        Callback {
            inner: Inner::Local(Arc::new(LocalCallback {
                f: Box::new(f),
                created_at: Location::caller(),
            })),
        }
    }

    /// Invokes the callback and returns at once, without waiting for it to
    /// run (a local callback runs right here). Fails only when the callback
    /// is known to be gone: [`RemoteError::CallbackClosed`].
    #[track_caller]
    pub fn call(&self, args: Args) -> Result<(), RemoteError> {
        match &self.inner {
            Inner::Local(l) => {
                (l.f)(args);
                Ok(())
            }
            Inner::Remote { entry, created_at } => entry
                .session
                .send_oneway(entry.id, &CALL, &(args,))
                .map_err(|e| closed_error(e, created_at)),
        }
    }

    /// Invokes the callback and returns a future of its answer. The call is
    /// sent now; awaiting the answer blocks no thread. It fails with
    /// [`RemoteError::CallbackClosed`] if the creator goes away first, and
    /// with [`RemoteError::Timeout`] past a [`Reply::deadline`].
    #[track_caller]
    pub fn ask(&self, args: Args) -> Reply<R> {
        match &self.inner {
            Inner::Local(l) => Reply {
                state: ReplyState::Ready(Some(Ok((l.f)(args)))),
                created_at: Arc::from(l.created_at.to_string()),
            },
            Inner::Remote { entry, created_at } => {
                let state = entry.session.start_call(
                    crate::calls::Dest::Object(entry.id),
                    &CALL,
                    &(args,),
                    Location::caller(),
                    crate::observe::current_trace(),
                    false,
                );
                Reply {
                    state: ReplyState::Waiting(CallFuture::new(entry.session.clone(), state)),
                    created_at: created_at.clone(),
                }
            }
        }
    }
}

impl<Args, R> Callback<Args, R> {
    /// Where the callback was created (`file:line:column` in the creator's
    /// source).
    pub fn created_at(&self) -> String {
        match &self.inner {
            Inner::Local(l) => l.created_at.to_string(),
            Inner::Remote { created_at, .. } => created_at.to_string(),
        }
    }

    /// True when the callback can never run again: its creator's connection
    /// ended. A local callback is never closed.
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::Local(_) => false,
            Inner::Remote { entry, .. } => entry.session.is_closed(),
        }
    }

    /// Runs `f` once when the callback closes (at once if it already is).
    /// A local callback never closes, so `f` is dropped unrun. Dropping the
    /// returned guard cancels the notification.
    pub fn on_close(&self, f: impl FnOnce() + Send + 'static) -> CloseGuard {
        match &self.inner {
            Inner::Local(_) => CloseGuard { hook: None },
            Inner::Remote { entry, .. } => {
                let key = entry.session.on_close(Box::new(f));
                CloseGuard {
                    hook: Some((Arc::downgrade(&entry.session), key)),
                }
            }
        }
    }

    /// True when both are the same callback (the same closure).
    pub fn same_callback(&self, other: &Self) -> bool {
        match (&self.inner, &other.inner) {
            (Inner::Local(a), Inner::Local(b)) => Arc::ptr_eq(a, b),
            (Inner::Remote { entry: a, .. }, Inner::Remote { entry: b, .. }) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

fn closed_error(e: RemoteError, created_at: &str) -> RemoteError {
    match e {
        RemoteError::Disconnected | RemoteError::LeaseExpired => RemoteError::CallbackClosed {
            created_at: created_at.to_string(),
        },
        other => other,
    }
}

/// Cancels an [`Callback::on_close`] notification when dropped; call
/// [`CloseGuard::keep`] to keep it for the connection's whole life.
#[must_use = "dropping the guard cancels the notification"]
pub struct CloseGuard {
    hook: Option<(Weak<Session>, u64)>,
}

impl CloseGuard {
    /// Keeps the notification without holding the guard.
    pub fn keep(mut self) {
        self.hook = None;
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Some((session, key)) = self.hook.take() {
            if let Some(session) = session.upgrade() {
                session.cancel_on_close(key);
            }
        }
    }
}

impl fmt::Debug for CloseGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseGuard")
            .field("armed", &self.hook.is_some())
            .finish()
    }
}

// ----- crossing a connection ------------------------------------------------

/// A callback's one method. Its types are checked when the handle crosses
/// (the callback's fingerprint), so calls carry no check of their own.
static CALL: Method = Method {
    interface: "Callback",
    name: "call",
    id: 0,
    signature: "(Args) -> R",
    check: || 0,
    pipelines: false,
};

struct CallbackDispatcher<Args, R> {
    callback: Arc<LocalCallback<Args, R>>,
}

impl<Args: Message, R: Message> Dispatch for CallbackDispatcher<Args, R> {
    fn interface_name(&self) -> &'static str {
        "Callback"
    }
    fn fingerprint(&self) -> u64 {
        fingerprint::<Args, R>()
    }
    fn object_addr(&self) -> usize {
        Arc::as_ptr(&self.callback) as *const () as usize
    }
    fn method(&self, id: u32) -> Option<&'static Method> {
        (id == CALL.id).then_some(&CALL)
    }
    fn dispatch(&self, id: u32, call: &mut Call<'_>) -> Result<(), RemoteError> {
        if id != CALL.id {
            return Err(RemoteError::NoSuchMethod {
                interface: "Callback".into(),
                method: format!("#{id:#x}"),
            });
        }
        let (args,): (Args,) = call.args()?;
        let answer = (self.callback.f)(args);
        call.reply(&answer)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn ordered(&self) -> bool {
        true
    }
}

impl<Args: Message, R: Message> Serialize for Callback<Args, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let encoded = context::encode_handle("Callback", |cx| match &self.inner {
            Inner::Local(l) => {
                let key = ObjKey {
                    addr: Arc::as_ptr(l) as *const () as usize,
                    fingerprint: fingerprint::<Args, R>(),
                };
                let callback = l.clone();
                let (index, _) = cx.lend(key, move || {
                    Arc::new(CallbackDispatcher { callback }) as Arc<dyn Dispatch>
                })?;
                Ok((index, cx.session.site_id(l.created_at)))
            }
            Inner::Remote { entry, .. } => cx
                .hand_on(entry, "Callback", None)
                .map(|(index, _)| (index, 0)),
        })
        .map_err(crate::wire::codec::ser_error)?;
        encoded.serialize(serializer)
    }
}

impl<'de, Args: Message, R: Message> Deserialize<'de> for Callback<Args, R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (index, site) = <(u32, u32)>::deserialize(deserializer)?;
        if crate::shape::tracing() {
            return Err(serde::de::Error::custom(crate::shape::handle_stop(
                "Callback",
            )));
        }
        let cap = context::take_cap(index).map_err(crate::wire::codec::de_error)?;
        let expected = fingerprint::<Args, R>();
        let mismatch = |found| RemoteError::Mismatch {
            what: "a callback".into(),
            expected: format!(
                "Callback<{}, {}>",
                std::any::type_name::<Args>(),
                std::any::type_name::<R>()
            ),
            found: String::new(),
            expected_fingerprint: expected,
            found_fingerprint: found,
        };
        let result = match cap {
            Cap::Import(entry) if entry.fingerprint == expected => {
                let created_at = Arc::from(entry.session.describe_site(site));
                Ok(Callback {
                    inner: Inner::Remote { entry, created_at },
                })
            }
            Cap::Import(entry) => Err(mismatch(entry.fingerprint)),
            Cap::Local(object) => match (
                object
                    .as_any()
                    .downcast_ref::<CallbackDispatcher<Args, R>>(),
                Relay::of(&*object),
            ) {
                (Some(d), _) => Ok(Callback {
                    inner: Inner::Local(d.callback.clone()),
                }),
                // A relay of ours coming back: the callback it relays to.
                (None, Some(relay)) if relay.entry().fingerprint == expected => Ok(Callback {
                    inner: Inner::Remote {
                        entry: relay.entry().clone(),
                        created_at: Arc::from("a callback of another connection's peer"),
                    },
                }),
                _ => Err(mismatch(object.fingerprint())),
            },
            Cap::Invalid(e) => Err(e),
        };
        result.map_err(|e| crate::wire::codec::de_error(context::set_decode_error(e)))
    }
}

// ----- answers ---------------------------------------------------------------

/// The future of a callback's answer ([`Callback::ask`]).
///
/// Resolves to the answer, to [`RemoteError::CallbackClosed`] if the creator
/// went away, or to [`RemoteError::Timeout`] past its [`deadline`](Reply::deadline).
/// Dropping it abandons the answer (the callback still runs).
#[must_use = "the callback is already invoked; await the reply to get its answer"]
pub struct Reply<R> {
    state: ReplyState<R>,
    created_at: Arc<str>,
}

enum ReplyState<R> {
    Ready(Option<Result<R, RemoteError>>),
    Waiting(CallFuture<R>),
}

impl<R: DeserializeOwned> Reply<R> {
    /// Fails the reply with [`RemoteError::Timeout`] if no answer arrived
    /// within `after` (counted from now).
    pub fn deadline(self, after: Duration) -> Self {
        if let ReplyState::Waiting(call) = &self.state {
            call.fail_after(after);
        }
        self
    }

    /// Blocks this thread until the answer (or an error) arrives; for code
    /// that is not async. A server method may use it: its connection keeps
    /// being served meanwhile.
    pub fn wait(self) -> Result<R, RemoteError> {
        let created_at = self.created_at;
        match self.state {
            ReplyState::Ready(mut r) => r.take().expect("Reply used after completion"),
            ReplyState::Waiting(call) => call.wait().map_err(|e| closed_error(e, &created_at)),
        }
    }
}

impl<R> Unpin for Reply<R> {}

impl<R: DeserializeOwned> Future for Reply<R> {
    type Output = Result<R, RemoteError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match &mut this.state {
            ReplyState::Ready(r) => Poll::Ready(r.take().expect("Reply polled after completion")),
            ReplyState::Waiting(call) => Pin::new(call)
                .poll(cx)
                .map(|r| r.map_err(|e| closed_error(e, &this.created_at))),
        }
    }
}

// ----- listener sets -----------------------------------------------------------

/// Identifies a listener in a [`Listeners`] set, for removing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

/// An event-listener set for server objects: callbacks from many clients,
/// emitted to all at once. Callbacks whose client is gone are dropped by
/// themselves (the moment the connection ends), so a client that reconnects
/// a hundred times leaves exactly its live handler behind, not a hundred dead
/// ones.
pub struct Listeners<Args, R = ()> {
    inner: Arc<Mutex<Vec<Listener<Args, R>>>>,
    next: Arc<AtomicU64>,
}

struct Listener<Args, R> {
    id: u64,
    callback: Callback<Args, R>,
    _guard: CloseGuard,
}

impl<Args, R> Clone for Listeners<Args, R> {
    fn clone(&self) -> Self {
        Listeners {
            inner: self.inner.clone(),
            next: self.next.clone(),
        }
    }
}

impl<Args, R> Default for Listeners<Args, R> {
    fn default() -> Self {
        Listeners {
            inner: Arc::new(Mutex::new(Vec::new())),
            next: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<Args, R> fmt::Debug for Listeners<Args, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listeners")
            .field("len", &self.len())
            .finish()
    }
}

/// Removes listener `id`; the callback is dropped after the lock.
fn remove_listener<Args, R>(all: &Mutex<Vec<Listener<Args, R>>>, id: u64) -> bool {
    let removed = {
        let mut all = lock(all);
        all.iter().position(|l| l.id == id).map(|at| all.remove(at))
    };
    removed.is_some()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<Args, R> Listeners<Args, R> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many listeners are registered.
    pub fn len(&self) -> usize {
        lock(&self.inner).len()
    }

    /// True when no listener is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes a listener; returns whether it was there.
    pub fn remove(&self, id: ListenerId) -> bool {
        remove_listener(&self.inner, id.0)
    }

    /// Removes every listener.
    pub fn clear(&self) {
        let all = std::mem::take(&mut *lock(&self.inner));
        drop(all);
    }
}

impl<Args: Message, R: Message> Listeners<Args, R> {
    /// Registers a callback. It is removed by itself when its client goes
    /// away; the same callback added twice is registered once.
    pub fn add(&self, callback: Callback<Args, R>) -> ListenerId {
        if let Some(existing) = lock(&self.inner)
            .iter()
            .find(|l| l.callback.same_callback(&callback))
        {
            return ListenerId(existing.id);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let weak = Arc::downgrade(&self.inner);
        let created_at = callback.created_at();
        // Registered outside the lock: it runs at once if already closed.
        let guard = callback.on_close(move || {
            if let Some(inner) = weak.upgrade() {
                if remove_listener(&inner, id) {
                    tracing::debug!(%created_at, "listener dropped: its client went away");
                }
            }
        });
        if !callback.is_closed() {
            lock(&self.inner).push(Listener {
                id,
                callback,
                _guard: guard,
            });
        }
        ListenerId(id)
    }

    fn snapshot(&self) -> Vec<(u64, Callback<Args, R>)> {
        lock(&self.inner)
            .iter()
            .map(|l| (l.id, l.callback.clone()))
            .collect()
    }

    /// Calls every listener with `args` and returns how many it reached.
    /// Listeners found closed are removed.
    pub fn emit(&self, args: Args) -> usize
    where
        Args: Clone,
    {
        let mut reached = 0;
        for (id, callback) in self.snapshot() {
            match callback.call(args.clone()) {
                Ok(()) => reached += 1,
                Err(e) => {
                    tracing::debug!(error = %e, "listener removed");
                    self.remove(ListenerId(id));
                }
            }
        }
        reached
    }

    fn ask_each(&self, args: Args, deadline: Duration) -> Vec<(u64, Reply<R>)>
    where
        Args: Clone,
    {
        // Every listener is asked before any answer is awaited, so they all
        // think at once and the whole wait is bounded by one deadline.
        self.snapshot()
            .into_iter()
            .map(|(id, callback)| (id, callback.ask(args.clone()).deadline(deadline)))
            .collect()
    }

    fn note(&self, id: u64, answer: &Result<R, RemoteError>) {
        if matches!(answer, Err(RemoteError::CallbackClosed { .. })) {
            self.remove(ListenerId(id));
        }
    }

    /// Asks every listener and collects their answers, each bounded by
    /// `deadline`; a listener that is gone or too slow gives an error in its
    /// place (closed ones are also removed).
    pub async fn ask_all(&self, args: Args, deadline: Duration) -> Vec<Result<R, RemoteError>>
    where
        Args: Clone,
    {
        let mut answers = Vec::new();
        for (id, reply) in self.ask_each(args, deadline) {
            let answer = reply.await;
            self.note(id, &answer);
            answers.push(answer);
        }
        answers
    }

    /// [`Listeners::ask_all`] for code that is not async: blocks this thread
    /// until every answer arrived or its deadline passed.
    pub fn ask_all_blocking(&self, args: Args, deadline: Duration) -> Vec<Result<R, RemoteError>>
    where
        Args: Clone,
    {
        let mut answers = Vec::new();
        for (id, reply) in self.ask_each(args, deadline) {
            let answer = reply.wait();
            self.note(id, &answer);
            answers.push(answer);
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    mod here {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct Event {
            pub id: u32,
            pub title: String,
        }
    }

    /// The same struct as built elsewhere: another path (so another
    /// `type_name`), the same fields.
    mod elsewhere {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct Event {
            pub id: u32,
            pub title: String,
        }
    }

    mod changed {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct Event {
            pub id: u64,
            pub title: String,
        }
    }

    #[test]
    fn a_callback_type_is_known_by_its_shape_not_its_path() {
        let ours = fingerprint::<(here::Event,), bool>();
        assert_eq!(ours, fingerprint::<(elsewhere::Event,), bool>());
        assert_ne!(ours, fingerprint::<(changed::Event,), bool>());
        assert_ne!(ours, fingerprint::<(here::Event,), ()>());
        assert_ne!(fingerprint::<(u32,), ()>(), fingerprint::<(i32,), ()>());
    }
}
