//! What a user can see of calls.
//!
//! - **Spans.** Each call has a `tracing` span on each side, at DEBUG under
//!   the target `remote::call` (`RUST_LOG=remote=debug` shows them): `call`
//!   on the caller's side, `serve` on the owner's, each with the interface,
//!   the method's name, the peer, the call ID and, when it ends, the
//!   outcome. Errors and panics are events inside them.
//! - **A trace context crosses the wire.** When the caller's span is
//!   enabled, the call carries a trace ID and the caller's span ID; the
//!   server's span records them as `trace_id` and `parent_span`, so any
//!   subscriber (logs, JSON, a collector) can join the two sides. A call
//!   made while serving one continues its trace.
//! - **Counts and latencies** go to a [`CallObserver`] set with
//!   [`Options::observe`](crate::Options::observe); [`CallMetrics`] is one,
//!   ready to print.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tracing::field;

use crate::wire::TraceCx;
use crate::RemoteError;

/// Which side of a call a [`CallRecord`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// This process called a method of a peer's object.
    Client,
    /// This process served a call of a peer's.
    Server,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// One finished call, as a [`CallObserver`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct CallRecord<'a> {
    /// Which side this process was on.
    pub side: Side,
    /// The trait.
    pub interface: &'a str,
    /// The method.
    pub method: &'a str,
    /// The peer, as the connection names it.
    pub peer: &'a str,
    /// From sending the call to its reply (client), or from starting to
    /// serve it to its reply being sent (server).
    pub elapsed: Duration,
    /// `None` when the call succeeded (an application error returned by
    /// the method counts as success: the call itself worked).
    pub error: Option<&'a RemoteError>,
}

/// Sees every call a connection makes or serves, when it ends. Set it with
/// [`Options::observe`](crate::Options::observe). It runs on the thread
/// that finished the call: keep it quick.
pub trait CallObserver: Send + Sync + 'static {
    /// One call ended.
    fn call(&self, record: &CallRecord<'_>);
}

impl<F: Fn(&CallRecord<'_>) + Send + Sync + 'static> CallObserver for F {
    fn call(&self, record: &CallRecord<'_>) {
        self(record)
    }
}

/// Per-method counts and latencies, ready to print: a [`CallObserver`] that
/// keeps, for each side, trait and method, the number of calls and of
/// failures, the total and the largest latency, and a histogram for
/// percentiles (powers of two of a microsecond, so within a factor of 2).
///
/// ```
/// # extern crate remote_runtime as remote;
/// use std::sync::Arc;
/// let metrics = Arc::new(remote::CallMetrics::new());
/// let options = remote::Options::new().observe(metrics.clone());
/// # let _ = options;
/// // ... make calls on connections opened with `options` ...
/// println!("{metrics}");
/// ```
#[derive(Debug, Default)]
pub struct CallMetrics {
    methods: Mutex<BTreeMap<(Side, String, String), Tally>>,
}

/// Buckets of the latency histogram: `[0, 1) µs`, `[1, 2)`, `[2, 4)`, ...
/// up to about 35 minutes.
const BUCKETS: usize = 32;

#[derive(Debug, Clone, Default)]
struct Tally {
    calls: u64,
    errors: u64,
    total: Duration,
    max: Duration,
    buckets: [u64; BUCKETS],
}

/// One row of [`CallMetrics::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MethodMetrics {
    /// Which side the calls were on.
    pub side: Side,
    /// The trait.
    pub interface: String,
    /// The method.
    pub method: String,
    /// Calls that ended.
    pub calls: u64,
    /// Of them, calls that failed with a [`RemoteError`].
    pub errors: u64,
    /// Their mean latency.
    pub mean: Duration,
    /// The median latency, to within a factor of 2 (the upper bound of its
    /// histogram bucket).
    pub p50: Duration,
    /// The 99th percentile, likewise.
    pub p99: Duration,
    /// The largest latency.
    pub max: Duration,
}

impl CallMetrics {
    /// No calls yet.
    pub fn new() -> Self {
        CallMetrics::default()
    }

    /// Every method seen so far, sorted by side, trait and method.
    pub fn snapshot(&self) -> Vec<MethodMetrics> {
        let methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        methods
            .iter()
            .map(|((side, interface, method), t)| MethodMetrics {
                side: *side,
                interface: interface.clone(),
                method: method.clone(),
                calls: t.calls,
                errors: t.errors,
                mean: t.total / u32::try_from(t.calls.max(1)).unwrap_or(u32::MAX),
                p50: percentile(&t.buckets, t.calls, 0.50),
                p99: percentile(&t.buckets, t.calls, 0.99),
                max: t.max,
            })
            .collect()
    }
}

/// The upper bound of the bucket holding quantile `q`.
fn percentile(buckets: &[u64; BUCKETS], calls: u64, q: f64) -> Duration {
    let rank = ((calls as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Duration::from_micros(1u64 << i);
        }
    }
    Duration::from_micros(1u64 << (BUCKETS - 1))
}

impl CallObserver for CallMetrics {
    fn call(&self, record: &CallRecord<'_>) {
        let micros = u64::try_from(record.elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = (64 - micros.leading_zeros() as usize).min(BUCKETS - 1);
        let mut methods = self.methods.lock().unwrap_or_else(|e| e.into_inner());
        let key = (
            record.side,
            record.interface.to_string(),
            record.method.to_string(),
        );
        let tally = methods.entry(key).or_default();
        tally.calls += 1;
        tally.errors += u64::from(record.error.is_some());
        tally.total += record.elapsed;
        tally.max = tally.max.max(record.elapsed);
        tally.buckets[bucket] += 1;
    }
}

impl fmt::Display for CallMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<7} {:<28} {:>7} {:>6} {:>10} {:>10} {:>10} {:>10}",
            "side", "method", "calls", "errors", "mean", "p50 <", "p99 <", "max"
        )?;
        for m in self.snapshot() {
            writeln!(
                f,
                "{:<7} {:<28} {:>7} {:>6} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?}",
                m.side.to_string(),
                format!("{}::{}", m.interface, m.method),
                m.calls,
                m.errors,
                m.mean,
                m.p50,
                m.p99,
                m.max
            )?;
        }
        Ok(())
    }
}

// ----- trace context ---------------------------------------------------------

thread_local! {
    /// The trace of the call this thread is serving, if it has one: calls it
    /// makes continue it.
    static CURRENT: Cell<Option<TraceCx>> = const { Cell::new(None) };
    /// State of this thread's ID generator.
    static SEED: Cell<u64> = Cell::new({
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        h.finish()
    });
}

/// A random, non-zero 64-bit ID (splitmix64 over a per-thread random seed).
fn next_id() -> u64 {
    SEED.with(|s| {
        let mut z = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).max(1)
    })
}

/// Runs `f` with `cx` as this thread's current trace.
fn with_current<R>(cx: Option<TraceCx>, f: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(|c| c.replace(cx));
    struct Restore(Option<TraceCx>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(before);
    f()
}

/// The name a `RemoteError` is recorded under in a span's `outcome`.
fn outcome_of(error: Option<&RemoteError>) -> &'static str {
    match error {
        None => "ok",
        Some(RemoteError::Panic { .. }) => "panic",
        Some(RemoteError::Timeout { .. }) => "timeout",
        Some(RemoteError::Cancelled) => "cancelled",
        Some(RemoteError::Disconnected | RemoteError::LeaseExpired) => "disconnected",
        Some(_) => "error",
    }
}

// ----- either side -----------------------------------------------------------

/// A method as the observer names it: its trait and its name.
pub(crate) type Named = (&'static str, &'static str);

/// A fresh trace ID.
fn new_trace() -> u128 {
    (u128::from(next_id()) << 64) | u128::from(next_id())
}

/// What either side keeps of a call until it ends: its span, and what its
/// observer will be told.
struct Tracked {
    span: tracing::Span,
    side: Side,
    method: Named,
    observer: Option<(Arc<dyn CallObserver>, Arc<str>, Instant)>,
    done: bool,
}

impl Tracked {
    fn new(
        span: tracing::Span,
        side: Side,
        method: Named,
        peer: &Arc<str>,
        observer: Option<&Arc<dyn CallObserver>>,
    ) -> Tracked {
        Tracked {
            span,
            side,
            method,
            observer: observer.map(|o| (o.clone(), peer.clone(), Instant::now())),
            done: false,
        }
    }

    /// Records on an enabled span this side's trace context and the span it
    /// continues.
    fn record_trace(&self, cx: Option<TraceCx>, parent: Option<TraceCx>) {
        if self.span.is_disabled() {
            return;
        }
        let hex = |v: u64| field::display(format!("{v:016x}"));
        if let Some(cx) = cx {
            let trace = field::display(format!("{:032x}", cx.trace));
            self.span.record("trace_id", trace);
            self.span.record("span_id", hex(cx.span));
        }
        if let Some(p) = parent {
            self.span.record("parent_span", hex(p.span));
        }
    }

    /// The call ended with `error` (or none): said once.
    fn end(&mut self, error: Option<&RemoteError>) {
        if self.done {
            return;
        }
        self.done = true;
        self.span.record("outcome", outcome_of(error));
        match error {
            // A panic was logged where the server caught it.
            Some(RemoteError::Panic { .. }) if self.side == Side::Server => {}
            Some(e) => {
                tracing::debug!(target: "remote::call", parent: &self.span, error = %e, "call failed")
            }
            None => {}
        }
        if let Some((observer, peer, start)) = &self.observer {
            observer.call(&CallRecord {
                side: self.side,
                interface: self.method.0,
                method: self.method.1,
                peer,
                elapsed: start.elapsed(),
                error,
            });
        }
    }
}

// ----- the caller's side -----------------------------------------------------

/// A call this side made, from sending to its reply.
pub(crate) struct Outgoing(Tracked);

impl Outgoing {
    /// Opens the span of a call of `method` to `peer`, and the trace
    /// context it carries (none when the span is disabled and no trace is
    /// being continued).
    pub(crate) fn start(
        method: Named,
        peer: &Arc<str>,
        observer: Option<&Arc<dyn CallObserver>>,
    ) -> (Outgoing, Option<TraceCx>) {
        let span = tracing::debug_span!(
            target: "remote::call",
            "call",
            interface = method.0,
            method = method.1,
            peer = &**peer,
            id = field::Empty,
            trace_id = field::Empty,
            span_id = field::Empty,
            parent_span = field::Empty,
            outcome = field::Empty,
        );
        let inherited = current_trace();
        let cx = if span.is_disabled() {
            // Nobody looks at this side; a trace being continued still
            // reaches the next peer.
            inherited
        } else {
            Some(TraceCx {
                trace: inherited.map_or_else(new_trace, |p| p.trace),
                span: next_id(),
            })
        };
        let tracked = Tracked::new(span, Side::Client, method, peer, observer);
        tracked.record_trace(cx, inherited);
        (Outgoing(tracked), cx)
    }

    /// The call left with ID `id` (0: none, it failed before).
    pub(crate) fn sent(&self, id: u64) {
        if id != 0 {
            self.0.span.record("id", id);
        }
    }

    /// The span, to wait in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.0.span
    }

    /// The call ended with `error` (or none).
    pub(crate) fn finish(mut self, error: Option<&RemoteError>) {
        self.0.end(error);
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        // An async call's future dropped before its reply: abandoned, and
        // counted as cancelled.
        if !self.0.done {
            self.0.end(Some(&RemoteError::Cancelled));
            self.0.span.record("outcome", "abandoned");
        }
    }
}

// ----- the owner's side ------------------------------------------------------

/// A call this side serves, from dispatch to its reply.
pub(crate) struct Incoming {
    tracked: Tracked,
    cx: Option<TraceCx>,
}

impl Incoming {
    /// Opens the span of serving call `id` of `method` for `peer`, under
    /// the caller's trace `parent` if it sent one.
    pub(crate) fn start(
        id: u64,
        method: Named,
        peer: &Arc<str>,
        parent: Option<TraceCx>,
        observer: Option<&Arc<dyn CallObserver>>,
    ) -> Incoming {
        let span = tracing::debug_span!(
            target: "remote::call",
            "serve",
            interface = method.0,
            method = method.1,
            peer = &**peer,
            id,
            trace_id = field::Empty,
            span_id = field::Empty,
            parent_span = field::Empty,
            outcome = field::Empty,
        );
        // Calls made while serving continue the caller's trace (or start
        // one, when this side traces and the caller did not).
        let cx = match parent {
            Some(p) => Some(TraceCx {
                trace: p.trace,
                span: if span.is_disabled() {
                    p.span
                } else {
                    next_id()
                },
            }),
            None if !span.is_disabled() => Some(TraceCx {
                trace: new_trace(),
                span: next_id(),
            }),
            None => None,
        };
        let tracked = Tracked::new(span, Side::Server, method, peer, observer);
        tracked.record_trace(cx, parent);
        Incoming { tracked, cx }
    }

    /// The span, for events about the call.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.tracked.span
    }

    /// Runs `f` (the method) in the span and the trace.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _enter = self.tracked.span.enter();
        with_current(self.cx, f)
    }

    /// `future` (an `async fn` method), run in the span and the trace at
    /// each poll.
    pub(crate) fn instrument<F: Future + Unpin>(&self, future: F) -> Traced<F> {
        Traced {
            future,
            span: self.tracked.span.clone(),
            cx: self.cx,
        }
    }

    /// The reply is going with `error` (or none).
    pub(crate) fn finish(mut self, error: Option<&RemoteError>) {
        self.tracked.end(error);
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // An `async fn` call aborted (its caller cancelled it, or the
        // connection closed) before it replied.
        self.tracked.end(Some(&RemoteError::Cancelled));
    }
}

/// The trace of the call this thread is serving, for a call it makes that
/// does not open a span of its own (a callback's).
pub(crate) fn current_trace() -> Option<TraceCx> {
    CURRENT.with(Cell::get)
}

/// A future run inside a call's span and trace.
pub(crate) struct Traced<F> {
    future: F,
    span: tracing::Span,
    cx: Option<TraceCx>,
}

impl<F: Future + Unpin> Future for Traced<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _enter = this.span.enter();
        with_current(this.cx, || Pin::new(&mut this.future).poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_bucket_bounds() {
        let m = CallMetrics::new();
        let record = |micros| CallRecord {
            side: Side::Client,
            interface: "I",
            method: "m",
            peer: "p",
            elapsed: Duration::from_micros(micros),
            error: None,
        };
        for _ in 0..98 {
            m.call(&record(3));
        }
        m.call(&record(100));
        m.call(&CallRecord {
            error: Some(&RemoteError::Disconnected),
            ..record(1000)
        });
        let rows = m.snapshot();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!((row.calls, row.errors), (100, 1));
        assert_eq!(row.p50, Duration::from_micros(4));
        assert_eq!(row.p99, Duration::from_micros(128));
        assert_eq!(row.max, Duration::from_micros(1000));
        assert!(m.to_string().contains("I::m"));
    }

    #[test]
    fn ids_are_random_and_never_zero() {
        let a: Vec<u64> = (0..1000).map(|_| next_id()).collect();
        assert!(a.iter().all(|&x| x != 0));
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len());
    }
}
