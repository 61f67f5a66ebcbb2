//! Raw frames for tests and fuzzing: what a hostile or broken peer could
//! put on the wire, built without the safety of the proxies. Not a stable
//! API.

use std::io::{self, Read};

use serde::{de::DeserializeOwned, Serialize};

use crate::wire::{self, codec, Frame, Header, Scope, WireCap};
use crate::RemoteError;

const LIMIT: usize = wire::MAX_FRAME;

fn frame(header: &Header, payload: &[u8]) -> Vec<u8> {
    wire::build_frame(header, wire::Body::of(payload), LIMIT, LIMIT)
        .expect("a test frame encodes")
        .into_vec()
}

/// The opening frame every peer sends.
pub fn hello_frame(lease_ms: u64) -> Vec<u8> {
    frame(
        &Header::Hello {
            codec: <wire::codec::Active as wire::codec::Codec>::ID,
            lease_ms,
        },
        &[],
    )
}

/// The wire ID of a method named `name` that has no `#[remote(id = N)]`
/// (for [`call_frame`]).
pub const fn method_id(name: &str) -> u32 {
    crate::dispatch::method_id(name)
}

/// A call of `method` (its wire ID, see [`method_id`]) on the receiver's
/// object `object`. It carries no signature check.
pub fn call_frame(id: u64, object: u64, method: u32, payload: &[u8]) -> Vec<u8> {
    call_frame_with_caps(id, object, method, payload, &[])
}

/// A call like [`call_frame`] whose capability table hands back `handles`:
/// export IDs of the receiver's own objects.
pub fn call_frame_with_handles(
    id: u64,
    object: u64,
    method: u32,
    payload: &[u8],
    handles: &[u64],
) -> Vec<u8> {
    let caps: Vec<RawCap> = handles.iter().map(|&id| RawCap::Receiver { id }).collect();
    call_frame_with_caps(id, object, method, payload, &caps)
}

/// One entry of a raw frame's capability table, for
/// [`call_frame_with_caps`] and [`reply_frame_with_caps`]: any IDs,
/// fingerprints and property bytes, sensible or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawCap {
    /// A handle of the sender's own, lent to the receiver.
    Sender {
        /// The sender's export ID.
        id: u64,
        /// Fingerprint of the trait it claims to speak.
        fingerprint: u64,
        /// Its encoded property snapshot, if it carries one.
        props: Option<Vec<u8>>,
    },
    /// One of the receiver's own objects, coming back to it.
    Receiver {
        /// The receiver's export ID.
        id: u64,
    },
}

fn wire_caps(caps: &[RawCap]) -> Vec<WireCap> {
    caps.iter()
        .map(|cap| match cap {
            RawCap::Sender {
                id,
                fingerprint,
                props,
            } => WireCap::Sender {
                id: *id,
                fingerprint: *fingerprint,
                props: props.clone(),
            },
            RawCap::Receiver { id } => WireCap::Receiver { id: *id },
        })
        .collect()
}

/// A call like [`call_frame`] whose capability table is `caps`.
pub fn call_frame_with_caps(
    id: u64,
    object: u64,
    method: u32,
    payload: &[u8],
    caps: &[RawCap],
) -> Vec<u8> {
    any_call_frame(id, wire::To::Object(object), false, method, payload, caps)
}

/// A call like [`call_frame`] sent *kept*: the receiver keeps the object
/// it answers with, for calls pipelined on it
/// ([`pipelined_call_frame`]) until a [`finish_frame`] names it.
pub fn kept_call_frame(id: u64, object: u64, method: u32, payload: &[u8]) -> Vec<u8> {
    any_call_frame(id, wire::To::Object(object), true, method, payload, &[])
}

/// A pipelined call: its target is the object the sender's kept call
/// `answer` answers with. Kept itself when `keep`.
pub fn pipelined_call_frame(
    id: u64,
    answer: u64,
    keep: bool,
    method: u32,
    payload: &[u8],
) -> Vec<u8> {
    any_call_frame(id, wire::To::Answer(answer), keep, method, payload, &[])
}

/// The sender will name these kept answers no more.
pub fn finish_frame(answers: &[u64]) -> Vec<u8> {
    frame(
        &Header::Finish {
            answers: answers.to_vec(),
        },
        &[],
    )
}

fn any_call_frame(
    id: u64,
    to: wire::To,
    keep: bool,
    method: u32,
    payload: &[u8],
    caps: &[RawCap],
) -> Vec<u8> {
    let header = Header::Call {
        id,
        to,
        keep,
        invoke: wire::Invoke {
            method,
            check: 0,
            trace: None,
        },
        site: 0,
        caps: wire_caps(caps),
    };
    frame(&header, payload)
}

/// A reply to call `id` (`ok`: the payload is a value, else an encoded
/// `RemoteError`) whose capability table is `caps`.
pub fn reply_frame_with_caps(id: u64, ok: bool, payload: &[u8], caps: &[RawCap]) -> Vec<u8> {
    frame(
        &Header::Reply {
            id,
            ok,
            caps: wire_caps(caps),
        },
        payload,
    )
}

/// The sender stopped waiting for its call `id`.
pub fn cancel_frame(id: u64) -> Vec<u8> {
    frame(&Header::Cancel { id }, &[])
}

/// Asks for an empty reply to `id` once everything sent before it was
/// handled.
pub fn ping_frame(id: u64) -> Vec<u8> {
    frame(&Header::Ping { id }, &[])
}

/// A require of export `name`, claiming trait `interface` with
/// `fingerprint`.
pub fn require_frame(id: u64, name: &str, interface: &str, fingerprint: u64) -> Vec<u8> {
    let header = Header::Require {
        id,
        name: name.into(),
        interface: interface.into(),
        fingerprint,
        site: 0,
        scope: Scope::Exports,
    };
    frame(&header, &[])
}

/// A release of `(id, count)` pairs.
pub fn release_frame(entries: &[(u64, u64)]) -> Vec<u8> {
    frame(
        &Header::Release {
            entries: entries.to_vec(),
        },
        &[],
    )
}

/// A plain value (no handles) as a payload.
pub fn encode_value<T: Serialize>(value: &T) -> Vec<u8> {
    let mut buf = Vec::new();
    codec::encode_into(value, &mut buf).expect("a test value encodes");
    buf
}

/// Reads one frame (without its length prefix).
pub fn read_frame(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix)?;
    let mut buf = vec![0u8; u32::from_le_bytes(prefix) as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// The kind of a frame read with [`read_frame`], if its header parses.
pub fn frame_kind(bytes: &[u8]) -> Option<crate::FrameKind> {
    codec::decode::<Header>(bytes).ok().map(|(h, _)| h.kind())
}

/// A reply as raw parts.
#[derive(Debug)]
pub struct RawReply {
    /// The call it answers.
    pub id: u64,
    /// Whether the payload is a value (else an encoded `RemoteError`).
    pub ok: bool,
    /// The handle IDs the sender lent with it.
    pub handles: Vec<u64>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl RawReply {
    /// The error the reply carries, if it is one.
    pub fn error(&self) -> Option<RemoteError> {
        if self.ok {
            return None;
        }
        codec::decode::<RemoteError>(&self.payload)
            .ok()
            .map(|(e, _)| e)
    }

    /// The value the reply carries, decoded as `T` (no handles).
    pub fn value<T: DeserializeOwned>(&self) -> Option<T> {
        codec::decode::<T>(&self.payload).ok().map(|(v, _)| v)
    }
}

/// Parses a frame read with [`read_frame`] if it is a reply.
pub fn parse_reply(bytes: Vec<u8>) -> Option<RawReply> {
    let frame = Frame::new(bytes, 0);
    let (header, at) = wire::parse_frame(&frame).ok()?;
    match header {
        Header::Reply { id, ok, caps } => Some(RawReply {
            id,
            ok,
            handles: caps
                .iter()
                .filter_map(|c| match c {
                    WireCap::Sender { id, .. } => Some(*id),
                    WireCap::Receiver { .. } => None,
                })
                .collect(),
            payload: frame.buf[at..].to_vec(),
        }),
        _ => None,
    }
}

/// The `(id, count)` entries of a frame read with [`read_frame`], if it is
/// a release.
pub fn parse_release(bytes: &[u8]) -> Option<Vec<(u64, u64)>> {
    match codec::decode::<Header>(bytes).ok()?.0 {
        Header::Release { entries } => Some(entries),
        _ => None,
    }
}

/// Feeds `bytes` to the frame decoder, as a reader would; for fuzzing.
/// Never panics: returns whether they parsed as a header.
pub fn fuzz_frame(bytes: &[u8]) -> bool {
    let frame = Frame::new(bytes.to_vec(), 0);
    wire::parse_frame(&frame).is_ok()
}

/// A call or a require, as a hand-written *server* reads it from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// The ID to answer (0: a call that wants no reply).
    pub id: u64,
    /// The export ID called (for a pipelined call, the ID of the call whose
    /// answer it names); 0 for a require.
    pub object: u64,
    /// The ID of the method called; 0 for a require.
    pub method: u32,
    /// The name required, for a require.
    pub name: Option<String>,
    /// Export IDs of the handles the client lends with it (its callbacks,
    /// its objects).
    pub lent: Vec<u64>,
}

/// Reads a frame from [`read_frame`] as a request, if it is a call or a
/// require.
pub fn parse_request(bytes: &[u8]) -> Option<RawRequest> {
    match codec::decode::<Header>(bytes).ok()?.0 {
        Header::Call {
            id,
            to,
            invoke,
            caps,
            ..
        } => Some(RawRequest {
            id,
            object: match to {
                wire::To::Object(object) | wire::To::Answer(object) => object,
            },
            method: invoke.method,
            name: None,
            lent: caps
                .iter()
                .filter_map(|c| match c {
                    WireCap::Sender { id, .. } => Some(*id),
                    WireCap::Receiver { .. } => None,
                })
                .collect(),
        }),
        Header::Require { id, name, .. } => Some(RawRequest {
            id,
            object: 0,
            method: 0,
            name: Some(name),
            lent: Vec::new(),
        }),
        _ => None,
    }
}

/// A TCP relay in front of a server that delivers every byte a fixed time
/// after it arrived, in each direction: a network with that one-way latency
/// (and no bandwidth limit), on loopback. For tests and benchmarks of what
/// round trips cost between machines.
///
/// Each accepted connection is relayed by four threads (a reader and a
/// writer each way). Dropping the relay stops accepting; connections end
/// when their peers close them.
pub struct LatencyRelay {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl LatencyRelay {
    /// Listens on a free loopback port and relays each connection to
    /// `target`, `one_way` late in each direction.
    pub fn start(target: std::net::SocketAddr, one_way: std::time::Duration) -> io::Result<Self> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = std::thread::Builder::new()
            .name("latency-relay".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if stopping.load(Ordering::Acquire) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = std::net::TcpStream::connect(target) else {
                        continue;
                    };
                    for s in [&client, &server] {
                        let _ = s.set_nodelay(true);
                    }
                    let pumps = client
                        .try_clone()
                        .and_then(|c| Ok((c, server.try_clone()?)));
                    if let Ok((client2, server2)) = pumps {
                        delayed_pump(client, server2, one_way);
                        delayed_pump(server, client2, one_way);
                    }
                }
            })?;
        Ok(LatencyRelay {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for LatencyRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        // Wakes the accept loop, which sees `stop` and ends.
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read (in
/// order, so a later chunk never overtakes); closes `to`'s writing half
/// when `from` ends.
fn delayed_pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    delay: std::time::Duration,
) {
    use std::io::Write;
    use std::time::Instant;
    let (tx, rx) = crossbeam_channel::unbounded::<(Instant, Vec<u8>)>();
    let _ = std::thread::Builder::new()
        .name("latency-relay-read".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    let _ = std::thread::Builder::new()
        .name("latency-relay-write".into())
        .spawn(move || {
            for (read_at, chunk) in rx {
                let due = read_at + delay;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if to.write_all(&chunk).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
}
