//! Calls this side makes on its peer's objects, and waiting for their
//! answers: encoding a call, opening its reply slot with its frame,
//! blocking or polling for the reply, and turning it into a value.

use std::panic::Location;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::{de::DeserializeOwned, Serialize};

use crate::context::{self, Cap, Encoded};
use crate::dispatch::Method;
use crate::driver::blocking;
use crate::handle::imports::ImportEntry;
use crate::promise::Promise;
use crate::replies::Found;
use crate::session::{lock, Core, Incoming, Session};
use crate::wire::{codec, Invoke, Scope, To, TraceCx};
use crate::RemoteError;

/// Where a call goes, as the caller knows it.
pub(crate) enum Dest<'a> {
    /// The peer's object with this export ID.
    Object(u64),
    /// The answer of a kept call (the object, once it arrived).
    Promise(&'a Promise),
}

impl Session {
    // ----- calls we make ---------------------------------------------------------

    /// The number of the caller's source location on this connection,
    /// announcing it to the peer the first time.
    fn site(&self, location: &'static Location<'static>) -> u32 {
        let (id, new) = lock(&self.site_ids).id(location);
        if new {
            self.input(|core, now| {
                core.site(id, location.file(), location.line(), location.column(), now)
            });
        }
        id
    }

    /// Our number for `location` on this connection.
    pub(crate) fn site_id(&self, location: &'static Location<'static>) -> u32 {
        self.site(location)
    }

    /// The peer's name for its call site `site`.
    pub(crate) fn describe_site(&self, site: u32) -> String {
        lock(&self.site_names).describe(site)
    }

    /// Queues a request the core registers, opening its reply slot with it.
    fn request(
        &self,
        f: impl FnOnce(&mut Core, u64) -> Result<u64, RemoteError>,
    ) -> Result<u64, RemoteError> {
        self.input(|core, now| {
            let id = f(core, now)?;
            self.replies.open(id);
            Ok(id)
        })
    }

    /// Encodes and sends a call (`reply`: wait for its answer, returning its
    /// ID for [`Session::wait`] or [`Session::poll_reply`]; else 0). With
    /// `keep`, the peer keeps the object it answers with for calls
    /// pipelined on it (see [`Promise`]).
    #[allow(clippy::too_many_arguments)]
    fn send_call<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        dest: Dest<'_>,
        method: &'static Method,
        args: &A,
        location: &'static Location<'static>,
        reply: bool,
        keep: bool,
        trace: Option<TraceCx>,
    ) -> Result<u64, RemoteError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let encoded = context::encode(self, args, 0)?;
        let site = self.site(location);
        self.send_encoded(dest, method.invoke(trace), site, encoded, reply, keep)
    }

    /// Sends a call whose payload is encoded for this connection (also a
    /// relayed call's: see `relay`); returns its ID to wait on (`reply`),
    /// else 0.
    pub(crate) fn send_encoded(
        self: &Arc<Self>,
        dest: Dest<'_>,
        invoke: Invoke,
        site: u32,
        encoded: Encoded,
        reply: bool,
        keep: bool,
    ) -> Result<u64, RemoteError> {
        let Encoded {
            payload,
            caps,
            counted,
            pins,
        } = encoded;
        let inside = crate::serve::inside_ordered();
        // Arguments are encoded before a promise is locked: encoding one
        // may take the lock of a pipelined proxy passed in them.
        let push = |to: To| {
            if reply {
                self.request(|core, now| {
                    core.call(to, invoke, site, caps, payload, true, keep, inside, now)
                })
            } else {
                self.input(|core, now| {
                    core.call(to, invoke, site, caps, payload, false, false, inside, now)
                })
            }
        };
        let sent = match dest {
            Dest::Object(object) => push(To::Object(object)),
            Dest::Promise(promise) => promise.route(push),
        };
        // The frame is queued: handles it passes home may go now.
        drop(pins);
        sent.inspect_err(|e| {
            self.note_limit(e);
            self.uncount(&counted)
        })
    }

    /// Encodes and sends a call; returns its ID for [`Session::wait`] or
    /// [`Session::poll_reply`] (or, kept, for a [`Promise`]).
    pub(crate) fn start_call<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        dest: Dest<'_>,
        method: &'static Method,
        args: &A,
        location: &'static Location<'static>,
        trace: Option<TraceCx>,
        keep: bool,
    ) -> Result<u64, RemoteError> {
        let id = self.send_call(dest, method, args, location, true, keep, trace)?;
        if let Some(timeout) = self.options.call_timeout {
            crate::timer::fail_after(self.weak_self.clone(), id, timeout);
        }
        Ok(id)
    }

    /// Sends a call that wants no reply.
    #[track_caller]
    pub(crate) fn send_oneway<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        object: u64,
        method: &'static Method,
        args: &A,
    ) -> Result<(), RemoteError> {
        // A one-way call (a callback's) continues the trace being served.
        let trace = crate::observe::current_trace();
        self.send_call(
            Dest::Object(object),
            method,
            args,
            Location::caller(),
            false,
            false,
            trace,
        )
        .map(drop)
    }

    /// Sends a require for `name`; returns the ID to wait on.
    pub(crate) fn start_require(
        &self,
        name: &str,
        interface: &str,
        fingerprint: u64,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Result<u64, RemoteError> {
        let site = self.site(location);
        self.request(|core, now| core.require(name, interface, fingerprint, site, scope, now))
    }

    /// Sends a require for `name` as proxy `P`'s interface; returns the ID
    /// to wait on.
    pub(crate) fn start_require_for<P: crate::remote::Proxy>(
        &self,
        name: &str,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Result<u64, RemoteError> {
        use crate::remote::Interface;
        self.start_require(
            name,
            <P::Interface as Interface>::NAME,
            <P::Interface as Interface>::FINGERPRINT,
            scope,
            location,
        )
    }

    /// Resolves `name` in `scope` on the peer as proxy `P` (blocking).
    pub(crate) fn resolve<P: crate::remote::Proxy>(
        &self,
        name: &str,
        scope: Scope,
        location: &'static Location<'static>,
    ) -> Result<P, RemoteError> {
        let id = self.start_require_for::<P>(name, scope, location)?;
        let incoming = self.wait(id)?;
        let entry = self.require_reply(incoming)?;
        Ok(P::from_remote(crate::remote::Remote::from_import(entry)))
    }

    /// Asks for global `name`; returns the ID to wait on.
    pub(crate) fn start_global(
        &self,
        name: &str,
        location: &'static Location<'static>,
    ) -> Result<u64, RemoteError> {
        let site = self.site(location);
        self.request(|core, now| core.global(name, site, now))
    }

    /// Attaches `export` under `name` to this connection alone.
    pub(crate) fn attach_object(&self, name: String, export: crate::registry::Export) {
        lock(&self.attached).insert(name, export);
    }

    /// Sends staged releases now, then waits until the peer has handled
    /// everything this side sent so far.
    pub(crate) fn sync(&self) -> Result<(), RemoteError> {
        let id = self.request(|core, now| core.ping(now))?;
        self.wait(id).map(drop)
    }

    // ----- waiting -----------------------------------------------------------

    /// Blocks the calling thread until reply `id` arrives or the connection
    /// ends.
    pub(crate) fn wait(&self, id: u64) -> Result<Incoming, RemoteError> {
        let _leave = match blocking::before_blocking() {
            Ok(leave) => leave,
            Err(e) => {
                self.cancel(id);
                return Err(e);
            }
        };
        match blocking::wait(|| self.replies.wait(id)) {
            Found::Ready(result) => result,
            Found::Gone => Err(self.closed_error()),
        }
    }

    /// Polls for reply `id` from an async context.
    pub(crate) fn poll_reply(
        &self,
        id: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Incoming, RemoteError>> {
        self.replies.poll(id, cx).map(|found| match found {
            Found::Ready(result) => result,
            Found::Gone => Err(self.closed_error()),
        })
    }

    /// Gives up waiting for `id`; a reply that still arrives is dropped (and
    /// the handles it carried are released).
    pub(crate) fn cancel(&self, id: u64) {
        self.input(|core, now| core.cancel(id, now));
        self.replies.cancel(id);
    }

    /// Ends the wait for `id` with `error`, if it is still waiting (a deadline
    /// passed). A reply arriving later is dropped.
    pub(crate) fn fail_pending(&self, id: u64, error: RemoteError) {
        self.input(|core, _| core.fail(id, error));
    }

    /// Turns a reply into the caller's value or error.
    pub(crate) fn decode_reply<R: DeserializeOwned>(
        &self,
        incoming: Incoming,
    ) -> Result<R, RemoteError> {
        let Incoming {
            frame,
            payload_at,
            caps,
            ok,
        } = incoming;
        if !ok {
            return Err(reply_error(&frame.buf[payload_at..]));
        }
        context::decode(caps, frame.blobs, &frame.buf[payload_at..], &self.options)
    }

    /// The error an error reply carries, leaving the reply whole.
    pub(crate) fn reply_error(&self, incoming: &Incoming) -> RemoteError {
        reply_error(&incoming.frame.buf[incoming.payload_at..])
    }

    /// The single handle a require answer carries.
    pub(crate) fn require_reply(
        &self,
        incoming: Incoming,
    ) -> Result<Arc<ImportEntry>, RemoteError> {
        if !incoming.ok {
            return Err(match self.decode_reply::<()>(incoming) {
                Err(e) => e,
                Ok(()) => RemoteError::Protocol("a failed require carried no error".into()),
            });
        }
        match incoming.caps.into_iter().next() {
            Some(Cap::Import(entry)) => Ok(entry),
            Some(Cap::Invalid(e)) => Err(e),
            _ => Err(RemoteError::Protocol(
                "a require answer must carry one handle of the server's".into(),
            )),
        }
    }
}

/// The error an error reply's payload carries.
pub(crate) fn reply_error(payload: &[u8]) -> RemoteError {
    match codec::decode::<RemoteError>(payload) {
        Ok((e, _)) => e,
        Err(e) => RemoteError::Protocol(format!("unreadable error reply: {e}")),
    }
}
