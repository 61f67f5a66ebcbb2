//! Forwarding a proxy to a third peer, by relaying.
//!
//! Process M holds a proxy of A's object and passes it to B, on another
//! connection. M lends B a [`Relay`]: an export of M's whose calls M sends
//! on to A's object, with their arguments, and whose replies it sends back.
//! Handles inside them are translated on the way ([`translate`]): a handle
//! of one side's crosses to the other as a relay of M's, and a relay that
//! comes back to the connection it relays to arrives as the original handle.
//!
//! Lifetimes are the counts of each connection, unchanged. The relay holds
//! M's proxy entry of A's object, so A's object lives while B holds the
//! relay (or a frame names it); when B lets go, M's export goes, the relay
//! with it, then M's import, and A is told as for any proxy M dropped. A
//! disconnect of either connection fails the relayed calls waiting on it
//! with `Disconnected` and releases what that connection held.
//!
//! Identity holds at each hop: one relay per import entry per connection
//! (its key is the entry's address), so B sees one object however often M
//! passes it, and B passing it back to M gives M its original proxy.
//!
//! Not done: a direct connection between B and A (Cap'n Proto's
//! three-party handoff). Every relayed call costs M a hop; in exchange, B
//! needs no way to reach A, which is the case of a plugin host handing one
//! sandboxed plugin a capability of another.

use std::any::Any;
use std::sync::Arc;

use crate::calls::Dest;
use crate::context::{Cap, EncodeCx, Encoded};
use crate::dispatch::{Call, Deferred, Dispatch, EncodeLater, Method};
use crate::handle::imports::ImportEntry;
use crate::protocol::exports::ObjKey;
use crate::session::{Incoming, Session};
use crate::wire::{Body, Invoke};
use crate::RemoteError;

/// An export that forwards every call to a proxy of another connection.
pub(crate) struct Relay {
    /// M's proxy entry of the object, on the connection it came from.
    entry: Arc<ImportEntry>,
    /// The trait's name, when the relay was made where it is known.
    interface: &'static str,
    /// The trait's methods, for naming calls in spans and metrics.
    methods: Option<fn() -> Vec<&'static Method>>,
}

impl Relay {
    /// The relay of `entry`, speaking `interface` (with `methods`) when the
    /// trait is known.
    pub(crate) fn export(
        entry: Arc<ImportEntry>,
        interface: &'static str,
        methods: Option<fn() -> Vec<&'static Method>>,
    ) -> Arc<dyn Dispatch> {
        Arc::new(Relay {
            entry,
            interface,
            methods,
        })
    }

    /// The relay `object` is, if it is one.
    pub(crate) fn of(object: &dyn Dispatch) -> Option<&Relay> {
        object.as_any().downcast_ref::<Relay>()
    }

    /// The proxy entry the relay forwards to.
    pub(crate) fn entry(&self) -> &Arc<ImportEntry> {
        &self.entry
    }

    /// Sends a call that arrived for this relay on to the object, and
    /// (`reply`: a two-way call) answers it with the object's reply, its
    /// handles translated back.
    pub(crate) fn forward(
        &self,
        invoke: Invoke,
        caps: Vec<Cap>,
        payload: &[u8],
        blobs: Vec<crate::wire::Blob>,
        reply: bool,
    ) -> Deferred {
        // Sent now, in the order calls arrive (a relayed callback's
        // invocations stay in order); only the wait runs as a task.
        let to = self.entry.session.clone();
        let sent = translate(&to, 0, caps, payload, blobs).and_then(|encoded| {
            to.send_encoded(
                Dest::Object(self.entry.id),
                invoke,
                0,
                encoded,
                reply,
                false,
            )
        });
        Box::pin(async move {
            let reply = match sent {
                // A one-way call: sent, and owed nothing.
                Ok(0) => None,
                Ok(id) => Some(crate::remote::PendingReply::new(to, Ok(id)).await),
                Err(e) => Some(Err(e)),
            }
            .map(|reply| reply.map_err(RemoteError::across_relay));
            let encode: EncodeLater = Box::new(move |from: &Arc<Session>, site: u32| {
                let Some(reply) = reply else {
                    return Ok(EncodeCx::new(from, site).finish(Body::new()));
                };
                let Incoming {
                    frame,
                    payload_at,
                    caps,
                    ok,
                } = reply?;
                if !ok {
                    return Err(crate::calls::reply_error(&frame.buf[payload_at..]));
                }
                translate(from, site, caps, &frame.buf[payload_at..], frame.blobs)
            });
            encode
        })
    }
}

/// The export key of the relay of `entry`: one per import entry.
pub(crate) fn key(entry: &Arc<ImportEntry>) -> ObjKey {
    ObjKey {
        addr: Arc::as_ptr(entry) as *const () as usize,
        fingerprint: entry.fingerprint,
    }
}

/// Re-encodes a received payload for `session`: the bytes are kept (a
/// handle in them is an index into the capability table, whose order is
/// kept too), and each handle becomes what `session`'s peer can use.
fn translate(
    session: &Arc<Session>,
    site: u32,
    caps: Vec<Cap>,
    payload: &[u8],
    blobs: Vec<crate::wire::Blob>,
) -> Result<Encoded, RemoteError> {
    let mut cx = EncodeCx::new(session, site);
    let mut created = Vec::new();
    let result = caps.into_iter().try_for_each(|cap| {
        let (index, new) = match cap {
            Cap::Import(entry) => cx.hand_on(&entry, "relayed", None)?,
            // A relay of ours goes on as the proxy it relays to (home, or the
            // same relay on this connection).
            Cap::Local(object) => match Relay::of(&*object) {
                Some(relay) => cx.hand_on(&relay.entry, relay.interface, relay.methods)?,
                None => {
                    let key = ObjKey {
                        addr: object.object_addr(),
                        fingerprint: object.fingerprint(),
                    };
                    cx.lend(key, || object.clone())?
                }
            },
            Cap::Invalid(e) => return Err(e),
        };
        if let Some(new) = new {
            created.push((index, new));
        }
        Ok(())
    });
    if let Err(e) = result {
        session.uncount(&cx.counted);
        return Err(e);
    }
    // A relay new on this connection carries the snapshot its object came
    // with. A local object's would run its getters (user code) here, on
    // the connection's task: it goes without, and its new holder asks for
    // one when it reads a property.
    for (index, object) in created {
        if let Some(relay) = Relay::of(&*object) {
            if let Some(Ok(snapshot)) = relay.snapshot() {
                cx.set_props(index, snapshot);
            }
        }
    }
    let mut body = Body::of(payload);
    body.blobs = blobs;
    Ok(cx.finish(body))
}

impl Dispatch for Relay {
    fn interface_name(&self) -> &'static str {
        self.interface
    }
    fn fingerprint(&self) -> u64 {
        self.entry.fingerprint
    }
    fn object_addr(&self) -> usize {
        Arc::as_ptr(&self.entry) as *const () as usize
    }
    fn method(&self, id: u32) -> Option<&'static Method> {
        self.methods?().into_iter().find(|m| m.id == id)
    }
    fn dispatch(&self, _id: u32, _call: &mut Call<'_>) -> Result<(), RemoteError> {
        // Relayed calls are forwarded whole (see `Relay::forward`).
        Err(RemoteError::Protocol(
            "a relay dispatched as a local object".into(),
        ))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn runs_async(&self, _id: u32) -> bool {
        true
    }
    fn snapshot(&self) -> Option<Result<Vec<u8>, RemoteError>> {
        // The snapshot as it arrived; without one, the peer asks (a
        // relayed call) when it needs it.
        self.entry.snapshot_bytes().map(Ok)
    }
}
