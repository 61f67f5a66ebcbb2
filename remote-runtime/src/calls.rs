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
use crate::replies::Found;
use crate::session::{lock, Core, Incoming, Session};
use crate::wire::{codec, Scope, TraceCx};
use crate::RemoteError;

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
    /// ID for [`Session::wait`] or [`Session::poll_reply`]; else 0).
    fn send_call<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        object: u64,
        method: &'static Method,
        args: &A,
        location: &'static Location<'static>,
        reply: bool,
        trace: Option<TraceCx>,
    ) -> Result<u64, RemoteError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let Encoded {
            payload,
            caps,
            counted,
            pins,
        } = context::encode(self, args, 0)?;
        let site = self.site(location);
        let inside = crate::serve::inside_ordered();
        let invoke = method.invoke(trace);
        let sent = if reply {
            self.request(|core, now| {
                core.call(object, invoke, site, caps, payload, true, inside, now)
            })
        } else {
            self.input(|core, now| {
                core.call(object, invoke, site, caps, payload, false, inside, now)
            })
        };
        // The frame is queued: handles it passes home may go now.
        drop(pins);
        sent.inspect_err(|e| {
            self.note_limit(e);
            self.uncount(&counted)
        })
    }

    /// Encodes and sends a call; returns its ID for [`Session::wait`] or
    /// [`Session::poll_reply`].
    pub(crate) fn start_call<A: Serialize + ?Sized>(
        self: &Arc<Self>,
        object: u64,
        method: &'static Method,
        args: &A,
        location: &'static Location<'static>,
        trace: Option<TraceCx>,
    ) -> Result<u64, RemoteError> {
        let id = self.send_call(object, method, args, location, true, trace)?;
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
        self.send_call(object, method, args, Location::caller(), false, trace)
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
        let payload = &frame.buf[payload_at..];
        if ok {
            context::decode(caps, frame.blobs, payload, &self.options)
        } else {
            match codec::decode::<RemoteError>(payload) {
                Ok((e, _)) => Err(e),
                Err(e) => Err(RemoteError::Protocol(format!(
                    "unreadable error reply: {e}"
                ))),
            }
        }
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
