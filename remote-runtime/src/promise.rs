//! Promise pipelining, on the caller's side.
//!
//! An async call of a method that returns one object is sent *kept* (see
//! `protocol::answers`): the peer keeps the object it answers with under the
//! call's ID. A [`Promise`] is that call as the caller sees it. Its reply
//! slot is the promise's; the `AsyncCall` that made it, and every pipelined
//! proxy made from it, share it.
//!
//! A call through a pipelined proxy goes to the kept call's answer
//! ([`To::Answer`]) while the answer has not arrived here, and to the object
//! it names once it has. The switch happens under the promise's lock, and
//! the `Finish` that lets the peer forget the answer is staged under it
//! too, so no call can name the answer after its `Finish`.
//!
//! Lifetimes: the promise holds the proxy entry of the answer once it
//! arrived, so the object lives while a pipelined proxy does. A promise
//! dropped before its answer arrived stops waiting; the answer is then
//! released as it arrives, as any reply nobody waits for is. It tells the
//! peer to stop serving the call only when nothing was pipelined on it.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::context::Cap;
use crate::handle::imports::ImportEntry;
use crate::janitor;
use crate::observe::Outgoing;
use crate::replies::Found;
use crate::session::{Incoming, Session};
use crate::wire::To;
use crate::RemoteError;

/// A kept call whose answer calls can be pipelined on.
pub(crate) struct Promise {
    session: Arc<Session>,
    /// The kept call's ID (its reply slot).
    id: u64,
    /// The trait the answer must speak, once a pipelined proxy names it.
    expect: OnceLock<(&'static str, u64)>,
    state: Mutex<State>,
}

enum State {
    /// No answer yet.
    Waiting {
        /// Calls were pipelined on it: the peer must run it even when
        /// nobody waits for its reply.
        piped: bool,
        /// The `AsyncCall` that waits for the reply, if it still does.
        awaited: bool,
        waker: Option<Waker>,
        /// The call's span and report, once its future was turned into a
        /// pipelined proxy.
        outgoing: Option<Outgoing>,
    },
    /// The answer arrived.
    Settled {
        /// Where calls go now.
        target: Result<Arc<ImportEntry>, RemoteError>,
        /// The reply, until the awaiting `AsyncCall` takes it.
        reply: Option<Result<Incoming, RemoteError>>,
    },
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Promise {
    /// The promise of kept call `id`.
    pub(crate) fn new(session: Arc<Session>, id: u64) -> Arc<Promise> {
        Arc::new(Promise {
            session,
            id,
            expect: OnceLock::new(),
            state: Mutex::new(State::Waiting {
                piped: false,
                awaited: true,
                waker: None,
                outgoing: None,
            }),
        })
    }

    /// Pipelined proxies speak trait `interface`: an answer of another
    /// trait fails their calls.
    pub(crate) fn expect(&self, interface: &'static str, fingerprint: u64) {
        let _ = self.expect.set((interface, fingerprint));
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The kept call's ID.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Takes the answer when it is in, without waiting.
    fn try_settle(&self, state: &mut State) {
        if matches!(state, State::Waiting { .. }) {
            if let Some(found) = self.session.replies.take_ready(self.id) {
                self.settle(state, found);
            }
        }
    }

    /// The answer arrived (or the call ended without one).
    fn settle(&self, state: &mut State, found: Found<Result<Incoming, RemoteError>>) {
        let reply = match found {
            Found::Ready(reply) => reply,
            Found::Gone => Err(self.session.closed_error()),
        };
        let target = match &reply {
            Ok(incoming) if incoming.ok => match incoming.caps.as_slice() {
                [Cap::Import(entry)] => match self.expect.get() {
                    Some(&(interface, fingerprint)) if entry.fingerprint != fingerprint => {
                        Err(RemoteError::Mismatch {
                            what: format!("the answer of pipelined call {}", self.id),
                            expected: interface.to_string(),
                            found: String::new(),
                            expected_fingerprint: fingerprint,
                            found_fingerprint: entry.fingerprint,
                        })
                    }
                    _ => Ok(entry.clone()),
                },
                [Cap::Invalid(e)] => Err(e.clone()),
                [Cap::Local(_)] => Err(RemoteError::no_pipeline_target(None)),
                caps => Err(RemoteError::no_pipeline_target(Some(caps.len()))),
            },
            Ok(incoming) => Err(self.session.reply_error(incoming)),
            Err(e) => Err(e.clone()),
        };
        let State::Waiting {
            awaited,
            waker,
            outgoing,
            ..
        } = std::mem::replace(
            state,
            State::Settled {
                target: Err(RemoteError::Cancelled),
                reply: None,
            },
        )
        else {
            unreachable!("settled only once, from Waiting")
        };
        if let Some(outgoing) = outgoing {
            outgoing.finish(target.as_ref().err());
        }
        // Under the lock: every call that named the answer is queued ahead.
        if self
            .session
            .input(|core, now| core.finish_answer(self.id, now))
        {
            janitor::schedule(self.session.weak_self.clone());
        }
        *state = State::Settled {
            target,
            reply: awaited.then_some(reply),
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Queues a call through `push`, given where it goes: the answer while
    /// it has not arrived (under the lock, so its `Finish` cannot overtake
    /// the call), else the object it names.
    pub(crate) fn route(
        &self,
        push: impl FnOnce(To) -> Result<u64, RemoteError>,
    ) -> Result<u64, RemoteError> {
        let mut state = lock(&self.state);
        self.try_settle(&mut state);
        match &mut *state {
            State::Waiting { piped, .. } => {
                *piped = true;
                push(To::Answer(self.id))
            }
            State::Settled { target, .. } => {
                let target = target.clone();
                drop(state);
                let entry = target?;
                push(To::Object(entry.id))
            }
        }
    }

    /// The proxy entry of the answer, when it has arrived.
    pub(crate) fn entry(&self) -> Option<Result<Arc<ImportEntry>, RemoteError>> {
        let mut state = lock(&self.state);
        self.try_settle(&mut state);
        match &*state {
            State::Waiting { .. } => None,
            State::Settled { target, .. } => Some(target.clone()),
        }
    }

    /// Polls for the reply, for the `AsyncCall` that made the call.
    pub(crate) fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Result<Incoming, RemoteError>> {
        let mut state = lock(&self.state);
        if let State::Waiting { waker, .. } = &mut *state {
            match self.session.replies.poll(self.id, cx) {
                Poll::Ready(found) => self.settle(&mut state, found),
                Poll::Pending => {
                    // A pipelined call may take the reply first; it wakes
                    // this task then.
                    match waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => *waker = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
            }
        }
        match &mut *state {
            State::Settled { reply, .. } => Poll::Ready(reply.take().unwrap_or_else(|| {
                Err(RemoteError::Protocol(
                    "a pipelined call's reply was taken twice".into(),
                ))
            })),
            State::Waiting { .. } => unreachable!("settled above"),
        }
    }

    /// The `AsyncCall` became pipelined proxies: its reply is not wanted
    /// any more, and `outgoing` reports the call when its answer arrives.
    pub(crate) fn unawait(&self, outgoing: Option<Outgoing>) {
        let mut state = lock(&self.state);
        match &mut *state {
            State::Waiting {
                awaited,
                outgoing: kept,
                waker,
                ..
            } => {
                *awaited = false;
                *waker = None;
                *kept = outgoing;
            }
            State::Settled { target, reply } => {
                if let Some(outgoing) = outgoing {
                    outgoing.finish(target.as_ref().err());
                }
                let reply = reply.take();
                drop(state);
                drop(reply);
            }
        }
    }
}

impl Drop for Promise {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let State::Waiting { piped, .. } = state {
            // Nobody can name the answer any more. Calls pipelined on it
            // need the call to run; without them, the peer may stop.
            let (id, piped) = (self.id, *piped);
            let armed = self.session.input(|core, now| {
                if piped {
                    core.abandon(id);
                } else {
                    core.cancel(id, now);
                }
                core.finish_answer(id, now)
            });
            self.session.replies.cancel(id);
            if armed {
                janitor::schedule(self.session.weak_self.clone());
            }
        }
    }
}
