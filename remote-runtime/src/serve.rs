//! Serving: running the calls, requires and global reads a peer sends us,
//! and answering them through the core.
//!
//! Plain methods run on the runtime's blocking pool, each call on a thread
//! of its own, so a slow one holds up nothing else; `async fn` methods run
//! as tasks; calls to callbacks run one at a time, in arrival order, on one
//! pool thread at a time; requires and globals (whose getters are user code)
//! run on the pool too. Nothing of the user's runs on a connection's task.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::connection::Access;
use crate::context::{Cap, Encoded};
use crate::dispatch::{panic_message, Call, Dispatch, Method};
use crate::driver::blocking;
use crate::observe::Incoming;
use crate::relay::Relay;
use crate::session::{lock, Payload, Session};
use crate::wire::{Invoke, Scope, WireCap};
use crate::RemoteError;

/// The most bytes of callback invocations a connection may have waiting to
/// run; a peer that floods past it is disconnected (nothing is dropped
/// silently).
const QUEUED_CALLBACK_BYTES: usize = 256 * 1024 * 1024;

thread_local! {
    /// Set while this thread runs a callback (an ordered call).
    static IN_ORDERED: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is running a callback: replies to its calls are not
/// held for later callbacks, which queue behind it.
pub(crate) fn inside_ordered() -> bool {
    IN_ORDERED.with(Cell::get)
}

/// Calls being served, for a graceful shutdown, and the tasks of `async
/// fn` methods by call ID, for a caller that stops waiting.
#[derive(Default)]
pub(crate) struct Serving {
    running: Mutex<Running>,
    all_done: Condvar,
    draining: AtomicBool,
    tasks: Mutex<Tasks>,
}

/// The running tasks of `async fn` calls, one entry per call served (a
/// peer may reuse a call ID, and one-way calls all have ID 0): each is
/// known by a serial of its own, and by its call ID for a cancel.
#[derive(Default)]
struct Tasks {
    next: u64,
    running: HashMap<u64, (u64, tokio::task::AbortHandle)>,
    /// Set when the connection closed: no task starts after that.
    closed: bool,
}

/// The calls running now, and whether the connection has closed under
/// them (they are then counted as orphaned until they end).
#[derive(Default)]
struct Running {
    count: usize,
    orphaned: bool,
}

impl Serving {
    /// The caller of `id` stopped waiting: abort its task, if it has one
    /// (a plain method cannot be stopped and runs to its end).
    pub(crate) fn cancel(&self, id: u64) {
        if id == 0 {
            return;
        }
        let doomed: Vec<_> = {
            let mut tasks = lock(&self.tasks);
            let serials: Vec<u64> = tasks
                .running
                .iter()
                .filter(|(_, (call, _))| *call == id)
                .map(|(serial, _)| *serial)
                .collect();
            serials
                .iter()
                .filter_map(|serial| tasks.running.remove(serial))
                .collect()
        };
        // Not under the lock: the task's answer takes it when it ends.
        for (_, task) in doomed {
            task.abort();
        }
    }

    /// Task `serial` ended (or was dropped): it can no longer be aborted.
    fn forget(&self, serial: u64) {
        lock(&self.tasks).running.remove(&serial);
    }

    /// The connection closed: every `async fn` call still running is
    /// aborted (its caller is gone), one-way calls included.
    pub(crate) fn abort_all(&self) {
        let doomed = {
            let mut tasks = lock(&self.tasks);
            tasks.closed = true;
            std::mem::take(&mut tasks.running)
        };
        for (_, (_, task)) in doomed {
            task.abort();
        }
    }
}

/// Answers an `async fn` call however its task ends: with its value, or,
/// when the task is aborted or dropped first, with `Cancelled`.
struct Answer {
    session: Arc<Session>,
    id: u64,
    /// Its entry in [`Tasks`].
    serial: u64,
    done: bool,
}

impl Answer {
    fn send(mut self, outcome: Result<Encoded, RemoteError>) {
        self.done = true;
        self.session.serving.forget(self.serial);
        let session = &self.session;
        session.finish_call_then(self.id, outcome, || session.end_serving());
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.done {
            self.session.serving.forget(self.serial);
            let why = RemoteError::Cancelled;
            let session = &self.session;
            session.finish_call_then(self.id, Err(why), || session.end_serving());
        }
    }
}

/// How fast method `method` of `target`'s trait has proven (see
/// [`blocking::Pace`]); `None` for a method the trait does not have.
fn pace(target: &dyn Dispatch, method: u32) -> Option<&'static blocking::Pace> {
    type Paces = std::sync::RwLock<HashMap<(&'static str, u32), &'static blocking::Pace>>;
    static PACES: std::sync::OnceLock<Paces> = std::sync::OnceLock::new();
    target.method(method)?;
    let key = (target.interface_name(), method);
    let paces = PACES.get_or_init(Paces::default);
    if let Some(pace) = paces.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Some(pace);
    }
    let mut paces = paces.write().unwrap_or_else(|e| e.into_inner());
    // One per method of the program's traits: a bounded set.
    Some(
        *paces
            .entry(key)
            .or_insert_with(|| Box::leak(Box::new(blocking::Pace::new()))),
    )
}

/// The method a call names, if `target`'s trait has it with the signature
/// the caller was built with. Otherwise the error the caller's proxy
/// completes with its own view ([`Method::complete`]): `NoSuchMethod` names
/// the ID until the caller names the method, and `MethodChanged` gives this
/// side's signature for the caller to set beside its own.
fn check_method(target: &dyn Dispatch, invoke: Invoke) -> Result<&'static Method, RemoteError> {
    let interface = target.interface_name();
    let method = target
        .method(invoke.method)
        .ok_or_else(|| RemoteError::NoSuchMethod {
            interface: interface.to_string(),
            method: format!("#{:#x}", invoke.method),
        })?;
    let ours = (method.check)();
    if invoke.check != 0 && ours != 0 && invoke.check != ours {
        return Err(RemoteError::MethodChanged {
            interface: interface.to_string(),
            method: method.name.to_string(),
            here: String::new(),
            there: method.signature.to_string(),
        });
    }
    Ok(method)
}

/// Callbacks waiting to run, and whether a pool thread is running them.
#[derive(Default)]
pub(crate) struct Ordered {
    queue: VecDeque<OrderedCall>,
    running: bool,
}

/// A call queued to run in order.
pub(crate) struct OrderedCall {
    target: Arc<dyn Dispatch>,
    id: u64,
    invoke: Invoke,
    site: u32,
    payload: Payload,
    caps: Vec<Cap>,
    seq: u64,
}

/// What serving a call produced: its reply, or a future of it (an async
/// method, run on the async runtime).
enum Served {
    Now(Result<Encoded, RemoteError>),
    Later {
        future: crate::dispatch::Deferred,
        method: String,
        incoming: Incoming,
    },
}

impl Session {
    /// A call arrived (its handles accounted for): serve it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_call(
        self: &Arc<Self>,
        id: u64,
        object: u64,
        target: Option<Arc<dyn Dispatch>>,
        invoke: Invoke,
        site: u32,
        caps: Vec<Cap>,
        payload: Payload,
        order: Option<u64>,
    ) {
        if let Err(refused) = self.begin_serving(id != 0) {
            self.finish_call(id, Err(refused));
            if let Some(seq) = order {
                self.ordered_done(seq);
            }
            return;
        }
        match (target, order) {
            (Some(target), Some(seq)) => self.queue_ordered(OrderedCall {
                target,
                id,
                invoke,
                site,
                payload,
                caps,
                seq,
            }),
            (Some(target), None) if target.runs_async(invoke.method) => {
                // Decoding the arguments and making the future runs no
                // user code: the future runs as a task.
                let served = self.serve_call(Some(target), id, object, invoke, site, payload, caps);
                self.complete_served(id, site, served);
            }
            (target, _) => {
                let pace = target.as_deref().and_then(|t| pace(t, invoke.method));
                let serve = move |this: &Arc<Session>| {
                    let served = this.serve_call(target, id, object, invoke, site, payload, caps);
                    this.complete_served(id, site, served);
                };
                match pace {
                    // Proven quick: run it here, on the connection's task.
                    Some(pace) if pace.inline() && blocking::may_inline() => {
                        let ((), took, waited) = blocking::serving(&self.busy, || serve(self));
                        pace.ran(true, took, waited);
                    }
                    _ => {
                        let this = self.clone();
                        crate::rt::spawn_blocking(&self.rt, move || {
                            let ((), took, waited) = blocking::serving(&this.busy, || serve(&this));
                            if let Some(pace) = pace {
                                pace.ran(false, took, waited);
                            }
                        });
                    }
                }
            }
        }
    }

    /// Serves a require or a global read (user code: property getters and
    /// computed globals) on the blocking pool, then answers it.
    pub(crate) fn on_lookup(
        self: &Arc<Self>,
        id: u64,
        serve: impl FnOnce(&Arc<Session>) -> Result<Encoded, RemoteError> + Send + 'static,
    ) {
        let this = self.clone();
        crate::rt::spawn_blocking(&self.rt, move || {
            blocking::serving(&this.busy, || {
                let outcome = serve(&this);
                this.finish_call(id, outcome);
            });
        });
    }

    /// Callback `seq` has run (or will never run): replies held for it may
    /// go to their callers.
    fn ordered_done(&self, seq: u64) {
        self.input(|core, _| core.ordered_done(seq));
    }

    fn queue_ordered(self: &Arc<Self>, call: OrderedCall) {
        // Callbacks queue without a count limit, so none is ever dropped,
        // but a peer that floods them faster than they run is cut off
        // before their bytes exhaust memory.
        let bytes = call.payload.frame.buf.len();
        let queued = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        if queued > QUEUED_CALLBACK_BYTES {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.abandon(call);
            self.close(&RemoteError::LimitExceeded {
                what: "bytes of callbacks queued on this connection".into(),
                limit: QUEUED_CALLBACK_BYTES as u64,
            });
            return;
        }
        let start = {
            let mut ordered = lock(&self.ordered);
            ordered.queue.push_back(call);
            !std::mem::replace(&mut ordered.running, true)
        };
        if start {
            let this = self.clone();
            crate::rt::spawn_blocking(&self.rt, move || this.run_ordered());
        }
    }

    /// Runs queued callbacks, one at a time in arrival order, until none is
    /// left (on one pool thread).
    fn run_ordered(self: &Arc<Self>) {
        IN_ORDERED.with(|c| c.set(true));
        let _ = blocking::serving(&self.busy, || loop {
            let call = {
                let mut ordered = lock(&self.ordered);
                match ordered.queue.pop_front() {
                    Some(call) => call,
                    None => {
                        ordered.running = false;
                        break;
                    }
                }
            };
            self.queued_bytes
                .fetch_sub(call.payload.frame.buf.len(), Ordering::AcqRel);
            let served = self.serve_call(
                Some(call.target.clone()),
                call.id,
                0,
                call.invoke,
                call.site,
                call.payload,
                call.caps,
            );
            self.complete_served(call.id, call.site, served);
            self.ordered_done(call.seq);
        });
        IN_ORDERED.with(|c| c.set(false));
    }

    /// A callback that will not run: its call is answered and its place in
    /// the order given up.
    fn abandon(&self, call: OrderedCall) {
        self.finish_call_then(call.id, Err(RemoteError::Disconnected), || {
            self.end_serving()
        });
        self.ordered_done(call.seq);
    }

    /// Counts a call being served; refused once the connection is draining
    /// or past the limit of calls in flight.
    fn begin_serving(&self, wants_reply: bool) -> Result<(), RemoteError> {
        if self.serving.draining.load(Ordering::Acquire) {
            return Err(RemoteError::Disconnected);
        }
        let mut running = lock(&self.serving.running);
        // Calls that want a reply are refused past the limit (the caller is
        // told). One-way calls (callbacks) are never dropped silently: their
        // queue is bounded in bytes instead (see `queue_ordered`).
        if wants_reply && running.count >= self.options.max_in_flight {
            return Err(RemoteError::LimitExceeded {
                what: "calls in flight on this connection".into(),
                limit: self.options.max_in_flight as u64,
            });
        }
        running.count += 1;
        Ok(())
    }

    fn end_serving(&self) {
        let mut running = lock(&self.serving.running);
        running.count = running.count.saturating_sub(1);
        if running.orphaned {
            self.registry.orphaned.fetch_sub(1, Ordering::AcqRel);
        }
        if running.count == 0 {
            self.serving.all_done.notify_all();
        }
    }

    /// The connection closed: calls still running have lost their caller.
    pub(crate) fn orphan_running_calls(&self) {
        let mut running = lock(&self.serving.running);
        if !running.orphaned {
            running.orphaned = true;
            self.registry
                .orphaned
                .fetch_add(running.count, Ordering::AcqRel);
        }
    }

    /// Calls of the peer's running now.
    pub(crate) fn running_calls(&self) -> usize {
        lock(&self.serving.running).count
    }

    /// Sends the reply of a served call now, or once its future completes.
    fn complete_served(self: &Arc<Self>, id: u64, site: u32, served: Served) {
        match served {
            Served::Now(outcome) => {
                self.finish_call_then(id, outcome, || self.end_serving());
            }
            Served::Later {
                future,
                method,
                incoming,
            } => {
                // Held while spawning, so a task that ends at once cannot
                // remove its entry before it is made.
                let mut tasks = lock(&self.serving.tasks);
                tasks.next += 1;
                let serial = tasks.next;
                let answer = Answer {
                    session: self.clone(),
                    id,
                    serial,
                    done: false,
                };
                if tasks.closed {
                    // The connection closed meanwhile: nobody waits for it.
                    drop(tasks);
                    drop(future);
                    drop(answer);
                    return;
                }
                let task = crate::rt::spawn(
                    &self.rt,
                    Box::pin(async move {
                        let traced = incoming.instrument(future);
                        let outcome = match crate::rt::CatchUnwind(traced).await {
                            Ok(encode) => encode(&answer.session, site),
                            Err(panic) => {
                                let message = panic_message(&*panic);
                                if let Some(held_back) = answer.session.may_log() {
                                    tracing::warn!(parent: incoming.span(), peer = %answer.session.peer, %method, panic = %message, held_back, "remote method panicked");
                                }
                                Err(RemoteError::Panic { method, message })
                            }
                        };
                        incoming.finish(outcome.as_ref().err());
                        answer.send(outcome);
                    }),
                );
                tasks.running.insert(serial, (id, task));
            }
        }
    }

    /// Stops taking new calls; calls already running go on.
    pub(crate) fn begin_drain(&self) {
        self.serving.draining.store(true, Ordering::Release);
    }

    /// Waits (at most until `deadline`) for running calls to finish, then
    /// tells the peer goodbye and closes.
    pub(crate) fn finish_drain(&self, deadline: std::time::Instant) {
        let running = lock(&self.serving.running);
        let wait = deadline.saturating_duration_since(std::time::Instant::now());
        let (running, _) = self
            .serving
            .all_done
            .wait_timeout_while(running, wait, |r| r.count > 0)
            .unwrap_or_else(|e| e.into_inner());
        if running.count > 0 {
            tracing::warn!(peer = %self.peer, running = running.count, "closing with calls still running");
        }
        drop(running);
        self.goodbye();
    }

    #[allow(clippy::too_many_arguments)]
    fn serve_call(
        self: &Arc<Self>,
        target: Option<Arc<dyn Dispatch>>,
        id: u64,
        object: u64,
        invoke: Invoke,
        site: u32,
        payload: Payload,
        caps: Vec<Cap>,
    ) -> Served {
        let Payload { mut frame, at } = payload;
        let Some(target) = target else {
            return Served::Now(Err(RemoteError::NoSuchObject { id: object }));
        };
        if let Some(relay) = Relay::of(&*target) {
            // Forwarded whole; the object's owner checks the method.
            let name = target.method(invoke.method).map_or("(relayed)", |m| m.name);
            let incoming = Incoming::start(
                id,
                (target.interface_name(), name),
                &self.peer,
                invoke.trace,
                self.options.observer.as_ref(),
            );
            let blobs = std::mem::take(&mut frame.blobs);
            return Served::Later {
                future: relay.forward(invoke, caps, &frame.buf[at..], blobs, id != 0),
                method: format!("{}::{name}", target.interface_name()),
                incoming,
            };
        }
        let method = match check_method(&*target, invoke) {
            Ok(method) => method,
            Err(e) => {
                // Refused before it ran: still a call this side served.
                let name = target
                    .method(invoke.method)
                    .map_or("(unknown method)", |m| m.name);
                Incoming::start(
                    id,
                    (target.interface_name(), name),
                    &self.peer,
                    invoke.trace,
                    self.options.observer.as_ref(),
                )
                .finish(Some(&e));
                return Served::Now(Err(e));
            }
        };
        let mut call = Call {
            session: self,
            blobs: std::mem::take(&mut frame.blobs),
            payload: &frame.buf[at..],
            caps,
            site,
            reply: None,
            deferred: None,
        };
        let incoming = Incoming::start(
            id,
            (target.interface_name(), method.name),
            &self.peer,
            invoke.trace,
            self.options.observer.as_ref(),
        );
        let method_name = || format!("{}::{}", target.interface_name(), method.name);
        let outcome = incoming.run(|| {
            match catch_unwind(AssertUnwindSafe(|| {
                target.dispatch(invoke.method, &mut call)
            })) {
                Ok(Ok(())) => match (call.reply.take(), call.deferred.take()) {
                    (Some(reply), _) => Ok(Ok(reply)),
                    (None, Some(future)) => Err(future),
                    (None, None) => Ok(Err(RemoteError::Encode(
                        "the dispatcher produced no reply".into(),
                    ))),
                },
                Ok(Err(e)) => Ok(Err(e)),
                Err(panic) => {
                    let method = method_name();
                    let message = panic_message(&*panic);
                    if let Some(held_back) = self.may_log() {
                        tracing::warn!(peer = %self.peer, %method, panic = %message, held_back, "remote method panicked");
                    }
                    Ok(Err(RemoteError::Panic { method, message }))
                }
            }
        });
        match outcome {
            Ok(now) => {
                incoming.finish(now.as_ref().err());
                Served::Now(now)
            }
            Err(future) => Served::Later {
                future,
                method: method_name(),
                incoming,
            },
        }
    }

    pub(crate) fn serve_require(
        self: &Arc<Self>,
        name: &str,
        interface: &str,
        fingerprint: u64,
        site: u32,
        scope: Scope,
    ) -> Result<Encoded, RemoteError> {
        if scope == Scope::Exports && !self.registry.allows(self, &Access::Export(name)) {
            tracing::debug!(peer = %self.peer, name, "require denied by the access policy");
            return Err(RemoteError::Denied {
                resource: format!("export {name:?}"),
            });
        }
        let export = match scope {
            Scope::Exports => self.registry.get(name),
            Scope::Connection => lock(&self.attached).get(name).cloned(),
        };
        let export = export.ok_or_else(|| RemoteError::NoSuchExport {
            name: match scope {
                Scope::Exports => name.to_string(),
                Scope::Connection => format!("{name} (on this connection)"),
            },
            closest: match scope {
                Scope::Exports => crate::registry::closest(name, self.registry.names())
                    .filter(|n| self.registry.allows(self, &Access::Export(n))),
                Scope::Connection => {
                    crate::registry::closest(name, lock(&self.attached).keys().cloned().collect())
                }
            },
        })?;
        if export.object.fingerprint() != fingerprint {
            return Err(RemoteError::Mismatch {
                what: format!(
                    "export {name:?} (the server exports a {})",
                    export.object.interface_name()
                ),
                expected: interface.to_string(),
                found: export.object.interface_name().to_string(),
                expected_fingerprint: fingerprint,
                found_fingerprint: export.object.fingerprint(),
            });
        }
        let object = export.object.clone();
        let (id, created) = self.count_send(export.key, site, move || object)?;
        let props = match created.as_deref().and_then(crate::dispatch::take_snapshot) {
            Some(Err(e)) => {
                self.uncount(&[id]);
                return Err(e);
            }
            Some(Ok(props)) => Some(props),
            None => None,
        };
        Ok(Encoded {
            payload: crate::wire::Body::new(),
            caps: vec![WireCap::Sender {
                id,
                fingerprint,
                props,
            }],
            counted: vec![id],
            pins: Vec::new(),
        })
    }

    pub(crate) fn serve_global(
        self: &Arc<Self>,
        name: &str,
        site: u32,
    ) -> Result<Encoded, RemoteError> {
        // The module list is filtered by the policy's answer for each
        // module, so the policy is not asked about the list itself.
        let listed = name == crate::process::MODULES_GLOBAL;
        match self.registry.global(name) {
            _ if !listed && !self.registry.allows(self, &Access::Global(name)) => {
                Err(RemoteError::Denied {
                    resource: format!("global {name:?}"),
                })
            }
            Some(value) => value(self, site),
            None => Err(RemoteError::NoSuchExport {
                name: format!("global {name}"),
                closest: None,
            }),
        }
    }
}
