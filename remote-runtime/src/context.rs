//! The codec context: while a payload is encoded or decoded, the thread knows
//! which connection it is for, so a `Remote<dyn T>` inside any serde value can
//! become (or be resolved from) an entry of the frame's capability table.

use std::cell::RefCell;
use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

use crate::dispatch::Dispatch;
use crate::handle::imports::ImportEntry;
use crate::session::Session;
use crate::wire::{codec, Blob, Body, WireCap};
use crate::RemoteError;

/// A capability of a received frame, already accounted for.
#[derive(Clone)]
pub(crate) enum Cap {
    /// A handle of the peer's: a proxy entry.
    Import(Arc<ImportEntry>),
    /// One of our own objects coming back.
    Local(Arc<dyn Dispatch>),
    /// An entry the peer had no right to send; decoding it fails with this.
    Invalid(RemoteError),
}

pub(crate) struct EncodeCx {
    pub(crate) session: Arc<Session>,
    /// The peer call site this payload answers, recorded on new exports.
    pub(crate) site: u32,
    pub(crate) caps: Vec<WireCap>,
    /// Export IDs whose send count this encode raised; undone if the frame is
    /// never sent.
    pub(crate) counted: Vec<u64>,
    pub(crate) pins: Vec<Arc<ImportEntry>>,
    /// Byte values that travel beside the frame.
    pub(crate) blobs: Vec<Blob>,
    pub(crate) error: Option<RemoteError>,
}

struct DecodeCx {
    caps: Vec<Cap>,
    blobs: Vec<Option<Blob>>,
    error: Option<RemoteError>,
}

thread_local! {
    /// `None` marks a plain encode, where handles are not allowed.
    static ENCODE: RefCell<Vec<Option<EncodeCx>>> = const { RefCell::new(Vec::new()) };
    static DECODE: RefCell<Vec<DecodeCx>> = const { RefCell::new(Vec::new()) };
}

/// A payload ready to be framed.
pub(crate) struct Encoded {
    pub(crate) payload: Body,
    pub(crate) caps: Vec<WireCap>,
    pub(crate) counted: Vec<u64>,
    /// Proxies this payload passes home to their owner: held until the
    /// frame is queued, so their release cannot overtake it.
    pub(crate) pins: Vec<Arc<ImportEntry>>,
}

/// Encodes `value` for `session`, collecting the capabilities it carries.
pub(crate) fn encode<T: Serialize + ?Sized>(
    session: &Arc<Session>,
    value: &T,
    site: u32,
) -> Result<Encoded, RemoteError> {
    ENCODE.with(|cx| cx.borrow_mut().push(Some(EncodeCx::new(session, site))));
    let mut payload = Body::new();
    let result = codec::encode_into(value, payload.buf());
    let cx = ENCODE
        .with(|cx| cx.borrow_mut().pop())
        .flatten()
        .expect("encode context pushed above");
    match result {
        Ok(()) => Ok(cx.finish(payload)),
        Err(e) => {
            session.uncount(&cx.counted);
            Err(cx
                .error
                .unwrap_or_else(|| RemoteError::Encode(e.to_string())))
        }
    }
}

/// Runs `f` with the innermost encode context, or returns `None` outside one
/// (or inside a plain encode).
pub(crate) fn with_encode<R>(f: impl FnOnce(&mut EncodeCx) -> R) -> Option<R> {
    ENCODE.with(|cx| cx.borrow_mut().last_mut().and_then(Option::as_mut).map(f))
}

impl EncodeCx {
    /// An empty context for a payload to `session`, answering the peer's
    /// call site `site`.
    pub(crate) fn new(session: &Arc<Session>, site: u32) -> EncodeCx {
        EncodeCx {
            session: session.clone(),
            site,
            caps: Vec::new(),
            counted: Vec::new(),
            pins: Vec::new(),
            blobs: Vec::new(),
            error: None,
        }
    }

    /// The payload `payload`, with what this context collected.
    pub(crate) fn finish(self, mut payload: Body) -> Encoded {
        payload.blobs.extend(self.blobs);
        Encoded {
            payload,
            caps: self.caps,
            counted: self.counted,
            pins: self.pins,
        }
    }

    /// Puts a property snapshot on table entry `index` (a handle new on
    /// this connection).
    pub(crate) fn set_props(&mut self, index: u32, snapshot: Vec<u8>) {
        if let Some(WireCap::Sender { props, .. }) = self.caps.get_mut(index as usize) {
            *props = Some(snapshot);
        }
    }

    /// Lends a local object to the peer: counts one send, adds its entry to
    /// the frame's table; returns the entry's index, and the dispatcher when
    /// the handle is new on this connection.
    pub(crate) fn lend(
        &mut self,
        key: crate::protocol::exports::ObjKey,
        make: impl FnOnce() -> Arc<dyn Dispatch>,
    ) -> Result<(u32, Option<Arc<dyn Dispatch>>), RemoteError> {
        let (id, created) = self.session.count_send(key, self.site, make)?;
        self.counted.push(id);
        Ok((
            self.push(WireCap::Sender {
                id,
                fingerprint: key.fingerprint,
                props: None,
            }),
            created,
        ))
    }

    /// Hands a proxy (of trait `interface`, whose `methods` name its calls
    /// when known) on to this connection's peer: home, when the peer owns
    /// its object (held until the frame is queued); else as a relay of ours
    /// (see `relay`). Returns the entry's index, and the relay when it is
    /// new on this connection.
    pub(crate) fn hand_on(
        &mut self,
        entry: &Arc<ImportEntry>,
        interface: &'static str,
        methods: Option<fn() -> Vec<&'static crate::dispatch::Method>>,
    ) -> Result<(u32, Option<Arc<dyn Dispatch>>), RemoteError> {
        if Arc::ptr_eq(&entry.session, &self.session) {
            self.pins.push(entry.clone());
            return Ok((self.push(WireCap::Receiver { id: entry.id }), None));
        }
        self.lend(crate::relay::key(entry), || {
            crate::relay::Relay::export(entry.clone(), interface, methods)
        })
    }

    fn push(&mut self, cap: WireCap) -> u32 {
        self.caps.push(cap);
        (self.caps.len() - 1) as u32
    }
}

/// Runs `f` on the encode context of the frame being built, turning its
/// typed error into a serde error (kept for the caller); `what` names the
/// handle's kind when there is no context (serializing outside the runtime).
pub(crate) fn encode_handle<R>(
    what: &str,
    f: impl FnOnce(&mut EncodeCx) -> Result<R, RemoteError>,
) -> Result<R, String> {
    with_encode(|cx| f(cx).map_err(|e| set_encode_error(cx, e))).unwrap_or_else(|| {
        Err(format!(
            "{what} handles can only be serialized by the remote runtime"
        ))
    })
}

/// Encodes plain data: a handle inside it is an error.
pub(crate) fn encode_plain<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RemoteError> {
    ENCODE.with(|cx| cx.borrow_mut().push(None));
    let mut bytes = Vec::new();
    let result = codec::encode_into(value, &mut bytes);
    ENCODE.with(|cx| cx.borrow_mut().pop());
    result
        .map(|()| bytes)
        .map_err(|e| RemoteError::Encode(e.to_string()))
}

/// Decodes a `T` that must fill `bytes` exactly, resolving handles in `caps`
/// and byte values in `blobs`, and holding the value to `options`' nesting
/// and collection limits.
pub(crate) fn decode<T: DeserializeOwned>(
    caps: Vec<Cap>,
    blobs: Vec<Blob>,
    bytes: &[u8],
    options: &crate::options::Options,
) -> Result<T, RemoteError> {
    DECODE.with(|cx| {
        cx.borrow_mut().push(DecodeCx {
            caps,
            blobs: blobs.into_iter().map(Some).collect(),
            error: None,
        })
    });
    let limits = crate::wire::limits::Limits::new(options.max_depth, options.max_collection);
    let result = codec::decode_limited::<T>(bytes, &limits);
    let cx = DECODE
        .with(|cx| cx.borrow_mut().pop())
        .expect("decode context pushed above");
    match result {
        Ok((value, used)) if used == bytes.len() => Ok(value),
        Ok((_, used)) => Err(RemoteError::Decode(format!(
            "{} trailing bytes after the value (the peer sent another type)",
            bytes.len() - used
        ))),
        Err(e) => Err(cx.error.unwrap_or(e)),
    }
}

/// Looks up capability `index` of the frame being decoded.
pub(crate) fn take_cap(index: u32) -> Result<Cap, String> {
    DECODE.with(|cx| {
        let cx = cx.borrow();
        let Some(cx) = cx.last() else {
            return Err("a Remote<_> can only be decoded by the remote runtime".to_string());
        };
        cx.caps
            .get(index as usize)
            .cloned()
            .ok_or_else(|| format!("capability index {index} out of range"))
    })
}

/// Takes byte value `index` of the frame being decoded (each may be taken
/// once).
pub(crate) fn take_blob(index: u32) -> Result<Blob, String> {
    DECODE.with(|cx| {
        let mut cx = cx.borrow_mut();
        let Some(cx) = cx.last_mut() else {
            return Err(
                "a byte value beside a frame can only be decoded by the remote runtime".into(),
            );
        };
        cx.blobs
            .get_mut(index as usize)
            .and_then(Option::take)
            .ok_or_else(|| format!("byte value {index} is not beside this frame, or was taken"))
    })
}

/// Puts a blob beside the frame being encoded, if there is one; returns
/// the index the payload names it by.
pub(crate) fn attach_blob(blob: impl FnOnce() -> Blob) -> Option<u32> {
    with_encode(|cx| {
        cx.blobs.push(blob());
        (cx.blobs.len() - 1) as u32
    })
}

/// Records the typed error behind a serde error, so the caller sees it.
pub(crate) fn set_decode_error(e: RemoteError) -> String {
    let msg = e.to_string();
    DECODE.with(|cx| {
        if let Some(cx) = cx.borrow_mut().last_mut() {
            cx.error.get_or_insert(e);
        }
    });
    msg
}

/// Records the typed error behind a serde error while encoding.
pub(crate) fn set_encode_error(cx: &mut EncodeCx, e: RemoteError) -> String {
    let msg = e.to_string();
    cx.error.get_or_insert(e);
    msg
}
