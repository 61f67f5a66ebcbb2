//! Streams: a typed, back-pressured channel whose ends can cross a
//! connection.
//!
//! [`channel`] makes a [`Sink`] (the sending end) and a [`Stream`] (the
//! receiving end); the queue between them lives where they were made.
//! Either end can be returned from a remote method or passed as an
//! argument, in either direction.
//!
//! Flow control is by credit, end to end. The queue holds at most `window`
//! items the reader has not taken: a send waits (or `try_send` says
//! `Full`) until the reader takes some.
//! - A stream that crossed is read by pulls of its peer, one at a time,
//!   each granting up to a batch of credit; the next pull leaves as soon as
//!   a batch arrives, so items flow while the reader works through the last
//!   batch.
//! - A sink that crossed sends by pushes, each answered once its items are
//!   queued, waiting at the queue for room.
//!
//! A reader that stops reading stops the producer once the window is full:
//! the memory of a stalled stream is its window (and the reader's last
//! batch), never more.
//!
//! Dropping the reading end, or its process going away, frees its object at
//! the queue's side, and the sinks' next sends fail with
//! [`RemoteError::StreamClosed`]. Dropping every sink ends the stream: the
//! reader gets the items still queued, then the end (`None`). A reader whose
//! connection breaks gets `Err(Disconnected)`, then the end: never silence.
//!
//! What crosses is an ordinary handle (of the pull or push object at the
//! queue's side) and ordinary calls, so a stream counts against the
//! connection's limits (live handles, calls in flight, frame size) like
//! any other.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::callback::{typed_fingerprint, Message};
use crate::calls::Dest;
use crate::context::{self, Cap};
use crate::dispatch::{Call, Dispatch, Method};
use crate::handle::imports::ImportEntry;
use crate::protocol::exports::ObjKey;
use crate::relay::Relay;
use crate::remote::CallFuture;
use crate::RemoteError;

/// The kind tag of stream fingerprints ("stream").
const KIND: u64 = 0x7374_7265_616d;

/// Items a remote reader asks for per pull, at most.
const BATCH: u32 = 16 * 1024;

/// The one method of a stream's pull object: take up to `max` items,
/// waiting for at least one unless the stream ended.
static PULL: Method = Method {
    interface: "Stream",
    name: "pull",
    id: 1,
    signature: "(u32) -> Pulled<T>",
    // Checked when the handle crosses (the stream's fingerprint).
    check: || 0,
    pipelines: false,
};

/// The method of a stream's inlet (where a sink that crossed sends): queue
/// these items, waiting for room unless told not to.
static PUSH: Method = Method {
    interface: "Sink",
    name: "push",
    id: 2,
    signature: "(Vec<T>, bool) -> Pushed",
    check: || 0,
    pipelines: false,
};

/// The kind tag of sink fingerprints ("sink"): a sink's handle is never
/// read as a stream's.
const SINK_KIND: u64 = 0x7369_6e6b;

/// The answer to a pull.
#[derive(Serialize, Deserialize)]
enum Pulled<T> {
    Items(Vec<T>),
    End,
}

/// Makes a stream: the [`Sink`] that sends items and the [`Stream`] that
/// receives them. The sink holds at most `window` items the stream has not
/// taken (at least 1).
///
/// ```
/// let (sink, mut stream) = remote_runtime::channel::<u64>(16);
/// sink.send(1).unwrap();
/// drop(sink);
/// assert_eq!(stream.recv().transpose().unwrap(), Some(1));
/// assert!(stream.recv().is_none());
/// ```
pub fn channel<T: Message>(window: usize) -> (Sink<T>, Stream<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            readers: 1,
            read_wakers: Vec::new(),
            send_wakers: Vec::new(),
            blocked: 0,
        }),
        changed: Condvar::new(),
        window: window.max(1),
    });
    (
        Sink {
            inner: SinkInner::Local(LocalSink {
                chan: chan.clone(),
                closed: false,
            }),
        },
        Stream {
            inner: Inner::Local(chan),
        },
    )
}

struct Chan<T> {
    state: Mutex<State<T>>,
    /// Signalled on every change, for blocking senders and readers.
    changed: Condvar,
    window: usize,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Live sinks: none left ends the stream once the queue is empty.
    senders: usize,
    /// Live readers (the local stream, and pull objects lent to peers):
    /// none left closes the stream for its senders.
    readers: usize,
    read_wakers: Vec<Waker>,
    send_wakers: Vec<Waker>,
    /// Threads blocked on `changed`: a change signals it only when some are.
    blocked: usize,
}

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes everyone waiting on `state` (after a change that may matter
    /// to both sides: an end).
    fn wake(&self, state: &mut State<T>) {
        for w in state
            .read_wakers
            .drain(..)
            .chain(state.send_wakers.drain(..))
        {
            w.wake();
        }
        self.signal(state);
    }

    /// An item was queued: wakes the readers waiting for one. The common
    /// path (nobody waits) costs nothing.
    fn wake_readers(&self, state: &mut State<T>) {
        for w in state.read_wakers.drain(..) {
            w.wake();
        }
        self.signal(state);
    }

    /// Items were taken: wakes the senders waiting for room.
    fn wake_senders(&self, state: &mut State<T>) {
        for w in state.send_wakers.drain(..) {
            w.wake();
        }
        self.signal(state);
    }

    fn signal(&self, state: &State<T>) {
        if state.blocked > 0 {
            self.changed.notify_all();
        }
    }

    /// Blocks this thread until the next change.
    fn block<'a>(&self, mut state: MutexGuard<'a, State<T>>) -> MutexGuard<'a, State<T>> {
        state.blocked += 1;
        let mut state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        state.blocked -= 1;
        state
    }

    /// Takes up to `max` items: `Some(items)` (empty when the stream ended)
    /// or `None` while there are none yet.
    fn take(&self, max: usize, waker: Option<&Waker>) -> Option<Vec<T>> {
        let mut state = self.lock();
        if state.queue.is_empty() {
            if state.senders == 0 {
                return Some(Vec::new());
            }
            if let Some(w) = waker {
                state.read_wakers.push(w.clone());
            }
            return None;
        }
        let n = state.queue.len().min(max.max(1));
        let items: Vec<T> = state.queue.drain(..n).collect();
        self.wake_senders(&mut state);
        Some(items)
    }

    fn reader_gone(&self) {
        let mut state = self.lock();
        state.readers -= 1;
        if state.readers == 0 {
            // Nobody will read these: they go now, and senders are told.
            let dropped = std::mem::take(&mut state.queue);
            self.wake(&mut state);
            drop(state);
            drop(dropped);
        }
    }
}

/// Why [`Sink::try_send`] did not send (the item comes back).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The window is full: the reader has not taken enough yet.
    #[error("the stream's window is full")]
    Full(T),
    /// The reading end is gone.
    #[error("the stream's receiving end is gone")]
    Closed(T),
}

/// The sending end of a stream (see [`channel`]). Clones send into the
/// same stream, which ends when the last one drops. It can cross a
/// connection too (returned, or passed as an argument): the peer then sends
/// into this process's stream, each send waiting for room as here.
pub struct Sink<T> {
    inner: SinkInner<T>,
}

enum SinkInner<T> {
    Local(LocalSink<T>),
    Remote(RemoteSink<T>),
}

impl<T> Clone for Sink<T> {
    fn clone(&self) -> Self {
        Sink {
            inner: match &self.inner {
                SinkInner::Local(l) => SinkInner::Local(l.clone()),
                SinkInner::Remote(r) => SinkInner::Remote(RemoteSink::new(r.entry.clone())),
            },
        }
    }
}

impl<T> fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            SinkInner::Local(l) => l.fmt(f),
            SinkInner::Remote(r) => write!(f, "Sink(remote, handle {})", r.entry.id),
        }
    }
}

/// Items one push of a remote sink carries at most.
const PUSH_BATCH: usize = 1024;

impl<T: Message> Sink<T> {
    /// Sends `item`, waiting while the window is full. Fails with
    /// [`RemoteError::StreamClosed`] once the reading end is gone (and, for
    /// a sink that crossed a connection, with that connection's errors).
    pub fn send(&self, item: T) -> Result<(), RemoteError> {
        match &self.inner {
            SinkInner::Local(l) => l.send(item),
            SinkInner::Remote(r) => r.push_blocking(&[item], true).map(drop),
        }
    }

    /// Sends every item of `items`, in order, waiting while the window is
    /// full: the fast way to send many (one lock per window's worth, or
    /// one round trip per batch for a sink that crossed). Fails with
    /// [`RemoteError::StreamClosed`] once the reading end is gone (the
    /// items not sent yet are dropped).
    pub fn send_all(&self, items: impl IntoIterator<Item = T>) -> Result<(), RemoteError> {
        match &self.inner {
            SinkInner::Local(l) => l.send_all(items),
            SinkInner::Remote(r) => {
                let mut items = items.into_iter().peekable();
                while items.peek().is_some() {
                    let batch: Vec<T> = items.by_ref().take(PUSH_BATCH).collect();
                    r.push_blocking(&batch, true)?;
                }
                Ok(())
            }
        }
    }

    /// Sends `item` if the window has room, without waiting for room (a
    /// sink that crossed a connection asks, one round trip).
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        match &self.inner {
            SinkInner::Local(l) => l.try_send(item),
            SinkInner::Remote(r) => match r.push_blocking(std::slice::from_ref(&item), false) {
                Ok(Pushed::Sent) => Ok(()),
                Ok(Pushed::Full) => Err(TrySendError::Full(item)),
                Ok(Pushed::Closed) | Err(_) => Err(TrySendError::Closed(item)),
            },
        }
    }

    /// Sends `item`, waiting (without blocking a thread) while the window
    /// is full.
    pub async fn send_async(&self, item: T) -> Result<(), RemoteError> {
        match &self.inner {
            SinkInner::Local(l) => l.send_async(item).await,
            SinkInner::Remote(r) => {
                let pushed = r.start_push(&[item], true).await?;
                if pushed == Pushed::Closed {
                    r.set_closed();
                }
                pushed.sent()
            }
        }
    }

    /// True once the reading end is known to be gone (for a sink that
    /// crossed, once a send found it gone).
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            SinkInner::Local(l) => l.is_closed(),
            SinkInner::Remote(r) => r.is_closed(),
        }
    }
}

impl<T: Message> Unpin for Sink<T> {}

impl<T: Message> futures_sink::Sink<T> for Sink<T> {
    type Error = RemoteError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        match &mut self.inner {
            SinkInner::Local(l) => Pin::new(l).poll_ready(cx),
            SinkInner::Remote(r) => r.poll_pushed(cx),
        }
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), RemoteError> {
        match &mut self.inner {
            SinkInner::Local(l) => Pin::new(l).start_send(item),
            SinkInner::Remote(r) => {
                if r.is_closed() {
                    return Err(RemoteError::StreamClosed);
                }
                r.push = Some(r.start_push(&[item], true));
                Ok(())
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        match &mut self.inner {
            SinkInner::Local(l) => Pin::new(l).poll_flush(cx),
            SinkInner::Remote(r) => r.poll_pushed(cx),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        match &mut self.inner {
            SinkInner::Local(l) => Pin::new(l).poll_close(cx),
            SinkInner::Remote(r) => r.poll_pushed(cx),
        }
    }
}

/// A sink that crossed a connection: its sends are pushes to the stream's
/// inlet at the peer, each answered once its items are queued there.
struct RemoteSink<T> {
    entry: Arc<ImportEntry>,
    /// A push found the reading end gone.
    closed: std::sync::atomic::AtomicBool,
    /// The push in flight, for the `futures` `Sink`.
    push: Option<CallFuture<Pushed>>,
    _items: std::marker::PhantomData<fn(T)>,
}

impl<T> RemoteSink<T> {
    fn new(entry: Arc<ImportEntry>) -> RemoteSink<T> {
        RemoteSink {
            entry,
            closed: std::sync::atomic::AtomicBool::new(false),
            push: None,
            _items: std::marker::PhantomData,
        }
    }
}

/// The answer to a push.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
enum Pushed {
    Sent,
    /// Not queued: no room, and the push was not to wait.
    Full,
    /// The reading end is gone.
    Closed,
}

impl Pushed {
    fn sent(self) -> Result<(), RemoteError> {
        match self {
            Pushed::Sent => Ok(()),
            _ => Err(RemoteError::StreamClosed),
        }
    }
}

impl<T: Message> RemoteSink<T> {
    fn start_push(&self, items: &[T], wait: bool) -> CallFuture<Pushed> {
        let session = &self.entry.session;
        let state = session.start_call(
            Dest::Object(self.entry.id),
            &PUSH,
            &(items, wait),
            Location::caller(),
            None,
            false,
        );
        CallFuture::new(session.clone(), state)
    }

    fn push_blocking(&self, items: &[T], wait: bool) -> Result<Pushed, RemoteError> {
        let pushed = self.start_push(items, wait).wait()?;
        if pushed == Pushed::Closed {
            self.set_closed();
            return Err(RemoteError::StreamClosed);
        }
        Ok(pushed)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_closed(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn poll_pushed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        let Some(push) = self.push.as_mut() else {
            return Poll::Ready(if self.is_closed() {
                Err(RemoteError::StreamClosed)
            } else {
                Ok(())
            });
        };
        let pushed = std::task::ready!(Pin::new(push).poll(cx));
        self.push = None;
        let result = pushed.and_then(Pushed::sent);
        if matches!(result, Err(RemoteError::StreamClosed)) {
            self.set_closed();
        }
        Poll::Ready(result)
    }
}

/// A sink of a stream whose queue is in this process.
struct LocalSink<T> {
    chan: Arc<Chan<T>>,
    /// `poll_close` was called: this sink counts as dropped.
    closed: bool,
}

impl<T> Clone for LocalSink<T> {
    fn clone(&self) -> Self {
        self.chan.join(Role::Push);
        LocalSink {
            chan: self.chan.clone(),
            closed: false,
        }
    }
}

impl<T> fmt::Debug for LocalSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.chan.lock();
        f.debug_struct("Sink")
            .field("queued", &state.queue.len())
            .field("window", &self.chan.window)
            .field("closed", &(state.readers == 0))
            .finish()
    }
}

impl<T> LocalSink<T> {
    /// Sends `item`, waiting while the window is full. Fails with
    /// [`RemoteError::StreamClosed`] once the reading end is gone.
    pub fn send(&self, item: T) -> Result<(), RemoteError> {
        let mut state = self.chan.lock();
        loop {
            if state.readers == 0 {
                return Err(RemoteError::StreamClosed);
            }
            if state.queue.len() < self.chan.window {
                state.queue.push_back(item);
                self.chan.wake_readers(&mut state);
                return Ok(());
            }
            state = self.chan.block(state);
        }
    }

    /// Sends every item of `items`, in order, waiting while the window is
    /// full: the fast way to send many (one lock per window's worth, not
    /// per item). Fails with [`RemoteError::StreamClosed`] once the reading
    /// end is gone (the items not sent yet are dropped).
    pub fn send_all(&self, items: impl IntoIterator<Item = T>) -> Result<(), RemoteError> {
        let mut items = items.into_iter().peekable();
        let mut state = self.chan.lock();
        while items.peek().is_some() {
            if state.readers == 0 {
                return Err(RemoteError::StreamClosed);
            }
            let room = self.chan.window.saturating_sub(state.queue.len());
            if room == 0 {
                state = self.chan.block(state);
                continue;
            }
            state.queue.extend(items.by_ref().take(room));
            self.chan.wake_readers(&mut state);
        }
        Ok(())
    }

    /// Sends `item` if the window has room, without waiting.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut state = self.chan.lock();
        if state.readers == 0 {
            return Err(TrySendError::Closed(item));
        }
        if state.queue.len() >= self.chan.window {
            return Err(TrySendError::Full(item));
        }
        state.queue.push_back(item);
        self.chan.wake_readers(&mut state);
        Ok(())
    }

    /// Sends `item`, waiting (without blocking a thread) while the window
    /// is full.
    pub async fn send_async(&self, item: T) -> Result<(), RemoteError> {
        let mut item = Some(item);
        std::future::poll_fn(|cx| {
            let mut state = self.chan.lock();
            if state.readers == 0 {
                return Poll::Ready(Err(RemoteError::StreamClosed));
            }
            if state.queue.len() < self.chan.window {
                state.queue.push_back(item.take().expect("sent once"));
                self.chan.wake_readers(&mut state);
                return Poll::Ready(Ok(()));
            }
            state.send_wakers.push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// True once the reading end is gone.
    pub fn is_closed(&self) -> bool {
        self.chan.lock().readers == 0
    }

    fn release(&mut self) {
        if !self.closed {
            self.closed = true;
            self.chan.sender_gone();
        }
    }
}

impl<T> Drop for LocalSink<T> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<T> futures_sink::Sink<T> for LocalSink<T> {
    type Error = RemoteError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        let mut state = self.chan.lock();
        if state.readers == 0 || self.closed {
            return Poll::Ready(Err(RemoteError::StreamClosed));
        }
        if state.queue.len() < self.chan.window {
            return Poll::Ready(Ok(()));
        }
        state.send_wakers.push(cx.waker().clone());
        Poll::Pending
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), RemoteError> {
        let mut state = self.chan.lock();
        if state.readers == 0 || self.closed {
            return Err(RemoteError::StreamClosed);
        }
        // `poll_ready` made room; a clone may have used it since, and the
        // window is then exceeded by that one item at most per clone.
        state.queue.push_back(item);
        self.chan.wake_readers(&mut state);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        // Flushed: the reader took everything (or is gone).
        let mut state = self.chan.lock();
        if state.queue.is_empty() || state.readers == 0 {
            return Poll::Ready(Ok(()));
        }
        state.send_wakers.push(cx.waker().clone());
        Poll::Pending
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), RemoteError>> {
        let flushed = self.as_mut().poll_flush(cx);
        if flushed.is_ready() {
            self.release();
        }
        flushed
    }
}

/// The receiving end of a stream (see [`channel`]). Read it with
/// [`Stream::recv`], with `for item in stream` (blocking), or as a
/// `futures` `Stream`. Return it
/// from a remote method, or pass it as an argument, and the peer reads it.
pub struct Stream<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    /// The queue is in this process.
    Local(Arc<Chan<T>>),
    /// The queue is at the peer: items come by pulls.
    Remote(Box<Pulling<T>>),
}

struct Pulling<T> {
    entry: Arc<ImportEntry>,
    /// Items of the last batch not yet read.
    buf: VecDeque<T>,
    /// The pull in flight.
    pull: Option<CallFuture<Pulled<T>>>,
    /// Ended: by the producer (`None` next), or with this error first.
    ended: Option<Option<RemoteError>>,
    /// Nothing was pulled yet: the stream may still be passed on.
    untouched: bool,
}

impl<T: Message> Pulling<T> {
    fn start_pull(&mut self) {
        if self.pull.is_none() && self.ended.is_none() {
            self.untouched = false;
            let session = &self.entry.session;
            let state = session.start_call(
                Dest::Object(self.entry.id),
                &PULL,
                &(BATCH,),
                Location::caller(),
                None,
                false,
            );
            self.pull = Some(CallFuture::new(session.clone(), state));
        }
    }

    /// A pull answered: its items join the buffer, and the next pull
    /// leaves at once.
    fn pulled(&mut self, answer: Result<Pulled<T>, RemoteError>) {
        self.pull = None;
        match answer {
            Ok(Pulled::Items(items)) if !items.is_empty() => {
                self.buf.extend(items);
                self.start_pull();
            }
            Ok(_) => self.ended = Some(None),
            Err(e) => self.ended = Some(Some(e)),
        }
    }

    /// The next item, error or end, if one is at hand.
    fn ready(&mut self) -> Option<Option<Result<T, RemoteError>>> {
        if let Some(item) = self.buf.pop_front() {
            return Some(Some(Ok(item)));
        }
        self.ended.as_mut().map(|error| error.take().map(Err))
    }
}

impl<T> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Local(_) => f.write_str("Stream(local)"),
            Inner::Remote(p) => write!(f, "Stream(remote, handle {})", p.entry.id),
        }
    }
}

impl<T: Message> Stream<T> {
    /// The next item, waiting for it: `None` once the stream ended (every
    /// sink dropped and every item read). A remote stream whose connection
    /// broke gives that error once, then `None`.
    pub fn recv(&mut self) -> Option<Result<T, RemoteError>> {
        match &mut self.inner {
            Inner::Local(chan) => {
                let mut state = chan.lock();
                loop {
                    if let Some(item) = state.queue.pop_front() {
                        chan.wake_senders(&mut state);
                        return Some(Ok(item));
                    }
                    if state.senders == 0 {
                        return None;
                    }
                    state = chan.block(state);
                }
            }
            Inner::Remote(p) => loop {
                if let Some(next) = p.ready() {
                    return next;
                }
                p.start_pull();
                let pull = p.pull.take().expect("a pull was started");
                p.pulled(pull.wait());
            },
        }
    }
}

/// A [`Stream`] read by blocking: `for item in stream { .. }`.
#[derive(Debug)]
pub struct Blocking<T>(Stream<T>);

impl<T: Message> Iterator for Blocking<T> {
    type Item = Result<T, RemoteError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.recv()
    }
}

/// Blocking reads, for synchronous code (async code reads it as a
/// `futures` `Stream`, whose adapters keep their names this way).
impl<T: Message> IntoIterator for Stream<T> {
    type Item = Result<T, RemoteError>;
    type IntoIter = Blocking<T>;

    fn into_iter(self) -> Blocking<T> {
        Blocking(self)
    }
}

impl<T> Unpin for Stream<T> {}

impl<T: Message> futures_core::Stream for Stream<T> {
    type Item = Result<T, RemoteError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.inner {
            Inner::Local(chan) => match chan.take(1, Some(cx.waker())) {
                Some(mut items) => Poll::Ready(items.pop().map(Ok)),
                None => Poll::Pending,
            },
            Inner::Remote(p) => loop {
                if let Some(next) = p.ready() {
                    return Poll::Ready(next);
                }
                p.start_pull();
                let pull = p.pull.as_mut().expect("a pull was started");
                match Pin::new(pull).poll(cx) {
                    Poll::Ready(answer) => p.pulled(answer),
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }
}

impl<T> Drop for Stream<T> {
    fn drop(&mut self) {
        if let Inner::Local(chan) = &self.inner {
            chan.reader_gone();
        }
        // A remote stream's handle goes with its entry: the producer's pull
        // object is freed, which closes the stream for its sinks.
    }
}

/// Which end of a queue an export at the queue's side serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A stream's reader at the peer pulls from it.
    Pull,
    /// A sink at the peer pushes into it.
    Push,
}

impl Role {
    fn interface(self) -> &'static str {
        match self {
            Role::Pull => "Stream",
            Role::Push => "Sink",
        }
    }

    fn method(self) -> &'static Method {
        match self {
            Role::Pull => &PULL,
            Role::Push => &PUSH,
        }
    }

    /// The fingerprint of this end's handle for items `T`: a sink's handle
    /// is never read as a stream's.
    fn fingerprint<T: Message>(self) -> u64 {
        match self {
            Role::Pull => typed_fingerprint::<T, ()>(KIND),
            Role::Push => typed_fingerprint::<T, ()>(SINK_KIND),
        }
    }
}

/// An end of a queue lent to a peer: the object a stream's reader pulls
/// from, or the one a sink's sender pushes into. It counts as one reader
/// (or sender) while it lives.
struct Port<T> {
    chan: Arc<Chan<T>>,
    role: Role,
}

impl<T> Port<T> {
    fn new(chan: Arc<Chan<T>>, role: Role) -> Port<T> {
        chan.join(role);
        Port { chan, role }
    }
}

impl<T> Drop for Port<T> {
    fn drop(&mut self) {
        match self.role {
            Role::Pull => self.chan.reader_gone(),
            Role::Push => self.chan.sender_gone(),
        }
    }
}

impl<T> Chan<T> {
    /// One more reader (`Pull`) or sender (`Push`).
    fn join(&self, role: Role) {
        let mut state = self.lock();
        match role {
            Role::Pull => state.readers += 1,
            Role::Push => state.senders += 1,
        }
    }

    fn sender_gone(&self) {
        let mut state = self.lock();
        state.senders -= 1;
        if state.senders == 0 {
            self.wake(&mut state);
        }
    }

    /// Queues what fits of `items` (from the front); `Some` when it is all
    /// queued or the reader is gone, `None` while some wait for room.
    fn push(&self, items: &mut VecDeque<T>, waker: Option<&Waker>) -> Option<Pushed> {
        let mut state = self.lock();
        if state.readers == 0 {
            return Some(Pushed::Closed);
        }
        let room = self.window.saturating_sub(state.queue.len());
        let n = room.min(items.len());
        state.queue.extend(items.drain(..n));
        if n > 0 {
            self.wake_readers(&mut state);
        }
        if items.is_empty() {
            return Some(Pushed::Sent);
        }
        if let Some(w) = waker {
            state.send_wakers.push(w.clone());
        }
        None
    }
}

impl<T: Message> Port<T> {
    /// A pull: up to `max` items, at once when some wait, else when the
    /// first comes.
    fn pull(&self, call: &mut Call<'_>) -> Result<(), RemoteError> {
        let (max,): (u32,) = call.args()?;
        let max = max as usize;
        match self.chan.take(max, None) {
            Some(items) => call.reply(&answer(items)),
            None => {
                let chan = self.chan.clone();
                call.reply_later(async move {
                    let items = std::future::poll_fn(|cx| match chan.take(max, Some(cx.waker())) {
                        Some(items) => Poll::Ready(items),
                        None => Poll::Pending,
                    })
                    .await;
                    answer(items)
                });
                Ok(())
            }
        }
    }

    /// A push: queued once there is room (all or nothing, at once, when
    /// told not to wait).
    fn push(&self, call: &mut Call<'_>) -> Result<(), RemoteError> {
        let (items, wait): (Vec<T>, bool) = call.args()?;
        let mut items: VecDeque<T> = items.into();
        if !wait {
            let state = self.chan.lock();
            let room = self.chan.window.saturating_sub(state.queue.len());
            drop(state);
            if room < items.len() {
                return call.reply(&Pushed::Full);
            }
        }
        match self.chan.push(&mut items, None) {
            Some(pushed) => call.reply(&pushed),
            None => {
                // The rest waits for room without a thread.
                let chan = self.chan.clone();
                call.reply_later(async move {
                    std::future::poll_fn(|cx| match chan.push(&mut items, Some(cx.waker())) {
                        Some(pushed) => Poll::Ready(pushed),
                        None => Poll::Pending,
                    })
                    .await
                });
                Ok(())
            }
        }
    }
}

impl<T: Message> Dispatch for Port<T> {
    fn interface_name(&self) -> &'static str {
        self.role.interface()
    }
    fn fingerprint(&self) -> u64 {
        self.role.fingerprint::<T>()
    }
    fn object_addr(&self) -> usize {
        Arc::as_ptr(&self.chan) as *const () as usize
    }
    fn method(&self, id: u32) -> Option<&'static Method> {
        Some(self.role.method()).filter(|m| m.id == id)
    }
    fn dispatch(&self, id: u32, call: &mut Call<'_>) -> Result<(), RemoteError> {
        if id != self.role.method().id {
            return Err(RemoteError::NoSuchMethod {
                interface: self.role.interface().into(),
                method: format!("#{id:#x}"),
            });
        }
        match self.role {
            Role::Pull => self.pull(call),
            Role::Push => self.push(call),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn runs_async(&self, _id: u32) -> bool {
        // A pull waits for items, a push for room, without a thread.
        true
    }
}

fn answer<T>(items: Vec<T>) -> Pulled<T> {
    if items.is_empty() {
        Pulled::End
    } else {
        Pulled::Items(items)
    }
}

/// An end of a stream as it is encoded: its queue here, or a handle.
enum Outgoing<'a, T> {
    Local(&'a Arc<Chan<T>>),
    Remote(&'a Arc<ImportEntry>),
}

/// Encodes an end in `role`: a local queue is lent as a port, a handle of
/// this connection's peer goes home, one of another connection's peer is
/// relayed.
fn serialize_end<T: Message, S: Serializer>(
    end: Result<Outgoing<'_, T>, RemoteError>,
    role: Role,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let index = context::encode_handle(role.interface(), |cx| match end? {
        Outgoing::Local(chan) => {
            let key = ObjKey {
                addr: Arc::as_ptr(chan) as *const () as usize,
                fingerprint: role.fingerprint::<T>(),
            };
            let chan = chan.clone();
            cx.lend(key, move || {
                Arc::new(Port::new(chan, role)) as Arc<dyn Dispatch>
            })
            .map(|(index, _)| index)
        }
        Outgoing::Remote(entry) => cx
            .hand_on(entry, role.interface(), None)
            .map(|(index, _)| index),
    })
    .map_err(crate::wire::codec::ser_error)?;
    serializer.serialize_u32(index)
}

/// An end of a stream as it arrived: our own queue back home (joined in
/// `role`), or a handle of the peer's.
enum Incoming<T> {
    Local(Arc<Chan<T>>),
    Remote(Arc<ImportEntry>),
}

fn deserialize_end<'de, T: Message, D: Deserializer<'de>>(
    deserializer: D,
    role: Role,
) -> Result<Incoming<T>, D::Error> {
    let index = u32::deserialize(deserializer)?;
    if crate::shape::tracing() {
        return Err(serde::de::Error::custom(crate::shape::handle_stop(
            role.interface(),
        )));
    }
    let cap = context::take_cap(index).map_err(crate::wire::codec::de_error)?;
    let expected = role.fingerprint::<T>();
    let mismatch = |found| RemoteError::Mismatch {
        what: format!("a {}", role.interface()),
        expected: format!("{}<{}>", role.interface(), std::any::type_name::<T>()),
        found: String::new(),
        expected_fingerprint: expected,
        found_fingerprint: found,
    };
    let result = match cap {
        Cap::Import(entry) if entry.fingerprint == expected => Ok(Incoming::Remote(entry)),
        Cap::Import(entry) => Err(mismatch(entry.fingerprint)),
        Cap::Local(object) => match (
            object.as_any().downcast_ref::<Port<T>>(),
            Relay::of(&*object),
        ) {
            (Some(port), _) if port.role == role => {
                port.chan.join(role);
                Ok(Incoming::Local(port.chan.clone()))
            }
            (None, Some(relay)) if relay.entry().fingerprint == expected => {
                Ok(Incoming::Remote(relay.entry().clone()))
            }
            _ => Err(mismatch(object.fingerprint())),
        },
        Cap::Invalid(e) => Err(e),
    };
    result.map_err(|e| crate::wire::codec::de_error(context::set_decode_error(e)))
}

impl<T: Message> Serialize for Stream<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let end = match &self.inner {
            Inner::Local(chan) => Ok(Outgoing::Local(chan)),
            Inner::Remote(p) if !p.untouched => Err(RemoteError::Encode(
                "a remote stream that was read from cannot be passed on (its items would be split): pass it before reading".into(),
            )),
            Inner::Remote(p) => Ok(Outgoing::Remote(&p.entry)),
        };
        serialize_end(end, Role::Pull, serializer)
    }
}

impl<'de, T: Message> Deserialize<'de> for Stream<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = match deserialize_end(deserializer, Role::Pull)? {
            Incoming::Local(chan) => Inner::Local(chan),
            Incoming::Remote(entry) => Inner::Remote(Box::new(Pulling {
                entry,
                buf: VecDeque::new(),
                pull: None,
                ended: None,
                untouched: true,
            })),
        };
        Ok(Stream { inner })
    }
}

impl<T: Message> Serialize for Sink<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let end = match &self.inner {
            SinkInner::Local(l) => Outgoing::Local(&l.chan),
            SinkInner::Remote(r) => Outgoing::Remote(&r.entry),
        };
        serialize_end(Ok(end), Role::Push, serializer)
    }
}

impl<'de, T: Message> Deserialize<'de> for Sink<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = match deserialize_end(deserializer, Role::Push)? {
            Incoming::Local(chan) => SinkInner::Local(LocalSink {
                chan,
                closed: false,
            }),
            Incoming::Remote(entry) => SinkInner::Remote(RemoteSink::new(entry)),
        };
        Ok(Sink { inner })
    }
}
