//! Calls can be seen: a span per call on each side, linked across a real
//! Unix socket by the trace context the call carries, `async fn` methods
//! run inside theirs, errors and panics are events, and per-method counts
//! and latencies reach an observer. (Its own binary: it installs the
//! process's tracing subscriber.)
#![allow(missing_docs)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use common::tempdir;
use remote::{CallMetrics, Client, Options, Remote, RemoteError, Server, Side};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[remote::remote_object]
pub trait Traced: Send + Sync {
    fn ping(&self, n: u32) -> u32;
    async fn later(&self, n: u32) -> u32;
    fn explode(&self);
    fn tick(&self, n: u32) -> u32;
    /// Calls `echo` on `other`, from inside this call.
    fn relay(&self, other: Remote<dyn Echo>, n: u32) -> u32;
}

#[remote::remote_object]
pub trait Echo: Send + Sync {
    fn echo(&self, n: u32) -> u32;
}

#[remote::remote_object]
pub trait Window: Send + Sync {
    #[property]
    fn title(&self) -> String;
}

struct Win;
impl Window for Win {
    fn title(&self) -> String {
        "main".into()
    }
}

struct Service;

#[remote::async_trait]
impl Traced for Service {
    fn ping(&self, n: u32) -> u32 {
        n + 1
    }
    async fn later(&self, n: u32) -> u32 {
        tracing::info!(n, "inside later");
        tokio::task::yield_now().await;
        tracing::info!(n, "still inside later");
        n * 2
    }
    fn explode(&self) {
        panic!("boom");
    }
    fn tick(&self, n: u32) -> u32 {
        n
    }
    fn relay(&self, other: Remote<dyn Echo>, n: u32) -> u32 {
        <EchoProxy as remote::Proxy>::from_remote(other)
            .echo(n)
            .unwrap_or(0)
    }
}

struct Echoer;
impl Echo for Echoer {
    fn echo(&self, n: u32) -> u32 {
        n
    }
}

// ----- a subscriber that keeps everything ------------------------------------

#[derive(Debug, Clone, Default)]
struct SpanSeen {
    name: String,
    target: String,
    level: String,
    fields: HashMap<String, String>,
    /// The span this one was opened in, in this process.
    local_parent: Option<u64>,
}

#[derive(Debug, Clone)]
struct EventSeen {
    message: String,
    span: Option<u64>,
    fields: HashMap<String, String>,
}

#[derive(Default)]
struct Seen {
    spans: HashMap<u64, SpanSeen>,
    events: Vec<EventSeen>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            format!("{value:?}").trim_matches('"').to_string(),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

struct Capture(Arc<Mutex<Seen>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut span = SpanSeen {
            name: attrs.metadata().name().to_string(),
            target: attrs.metadata().target().to_string(),
            level: attrs.metadata().level().to_string(),
            local_parent: ctx.span_scope(id).and_then(|mut scope| {
                scope.next();
                scope.next().map(|p| p.id().into_u64())
            }),
            ..SpanSeen::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spans
            .insert(id.into_u64(), span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(span) = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spans
            .get_mut(&id.into_u64())
        {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let seen = EventSeen {
            message: fields.get("message").cloned().unwrap_or_default(),
            span: ctx.event_span(event).map(|s| s.id().into_u64()),
            fields,
        };
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .push(seen);
    }
}

fn seen() -> &'static Arc<Mutex<Seen>> {
    static SEEN: OnceLock<Arc<Mutex<Seen>>> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Arc::new(Mutex::new(Seen::default()));
        // What `RUST_LOG=remote=debug,tracing=info` would select.
        let filter = tracing_subscriber::EnvFilter::new("remote=debug,tracing=info");
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(Capture(seen.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        seen
    })
}

/// The spans named `name` for `method`, with their IDs.
fn spans(name: &str, method: &str) -> Vec<(u64, SpanSeen)> {
    let seen = seen().lock().unwrap_or_else(|e| e.into_inner());
    let mut found: Vec<(u64, SpanSeen)> = seen
        .spans
        .iter()
        .filter(|(_, s)| {
            s.name == name && s.fields.get("method").map(String::as_str) == Some(method)
        })
        .map(|(id, s)| (*id, s.clone()))
        .collect();
    found.sort_by_key(|(id, _)| *id);
    found
}

fn one(name: &str, method: &str) -> (u64, SpanSeen) {
    let mut all = spans(name, method);
    assert_eq!(all.len(), 1, "one {name} span of {method}: {all:#?}");
    all.remove(0)
}

/// A server of `Service` on a Unix socket, and a client, both
/// observed.
struct Setup {
    client: Client,
    server_metrics: Arc<CallMetrics>,
    client_metrics: Arc<CallMetrics>,
    _listener: remote::Listener,
    _server: Server,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    seen();
    let server_metrics = Arc::new(CallMetrics::new());
    let client_metrics = Arc::new(CallMetrics::new());
    let server = Server::with_options(Options::new().observe(server_metrics.clone()));
    server.export("traced", Arc::new(Service) as Arc<dyn Traced>);
    server.export("window", Arc::new(Win) as Arc<dyn Window>);
    let dir = tempdir();
    let path = dir.path().join("traced.sock");
    let listener = server.listen_unix(&path).expect("listen");
    let client = Client::connect_unix_with(&path, Options::new().observe(client_metrics.clone()))
        .expect("connect");
    Setup {
        client,
        server_metrics,
        client_metrics,
        _listener: listener,
        _server: server,
        _dir: dir,
    }
}

/// Waits (bounded) until the server's span of `method` has its outcome:
/// the server records it as it sends the reply, which the client may see
/// first.
fn served(method: &str) -> (u64, SpanSeen) {
    let start = std::time::Instant::now();
    loop {
        let found = spans("serve", method);
        if found.len() == 1 && found[0].1.fields.contains_key("outcome") {
            return found.into_iter().next().unwrap();
        }
        assert!(
            start.elapsed() < common::BOUND,
            "no finished serve span of {method}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn each_call_has_a_span_on_each_side_linked_across_the_socket() {
    let s = setup();
    let traced: TracedProxy = s.client.require("traced").unwrap();
    assert_eq!(traced.ping(41).unwrap(), 42);

    let (_, call) = one("call", "ping");
    let (_, serve) = served("ping");
    for span in [&call, &serve] {
        assert_eq!(span.target, "remote::call");
        assert_eq!(span.level, "DEBUG");
        assert_eq!(span.fields["interface"], "Traced");
        assert_eq!(span.fields["outcome"], "ok");
        assert!(span.fields.contains_key("peer"));
    }
    assert_eq!(call.fields["id"], serve.fields["id"], "the same call ID");
    assert_eq!(call.fields["trace_id"].len(), 32);
    assert_eq!(call.fields["trace_id"], serve.fields["trace_id"]);
    assert_eq!(
        serve.fields["parent_span"], call.fields["span_id"],
        "the server's span names the client's as its parent"
    );
    assert_ne!(serve.fields["span_id"], call.fields["span_id"]);
}

#[test]
fn async_methods_run_inside_their_span() {
    let s = setup();
    let traced: TracedProxy = s.client.require("traced").unwrap();
    let doubled = futures::executor::block_on(traced.to_async().later(21)).unwrap();
    assert_eq!(doubled, 42);
    let (call_id, call) = one("call", "later");
    let (serve_id, serve) = served("later");
    assert_eq!(serve.fields["parent_span"], call.fields["span_id"]);
    let seen = seen().lock().unwrap_or_else(|e| e.into_inner());
    let inside: Vec<&EventSeen> = seen
        .events
        .iter()
        .filter(|e| e.message.contains("inside later"))
        .collect();
    assert_eq!(inside.len(), 2, "{inside:?}");
    for event in inside {
        assert_eq!(event.span, Some(serve_id), "before and after an await");
    }
    assert_ne!(call_id, serve_id);
}

#[test]
fn a_call_made_while_serving_one_continues_its_trace() {
    let s = setup();
    let traced: TracedProxy = s.client.require("traced").unwrap();
    // The echo object stays in the client: `relay` calls back across the
    // socket, a second hop of the same trace.
    assert_eq!(traced.relay(Remote::new(Echoer), 7).unwrap(), 7);

    let (_, outer_call) = one("call", "relay");
    let (relay_serve_id, relay_serve) = served("relay");
    let (_, inner_call) = one("call", "echo");
    let (_, inner_serve) = served("echo");
    let trace = &outer_call.fields["trace_id"];
    for span in [&relay_serve, &inner_call, &inner_serve] {
        assert_eq!(&span.fields["trace_id"], trace, "one trace end to end");
    }
    assert_eq!(
        inner_call.fields["parent_span"],
        relay_serve.fields["span_id"]
    );
    assert_eq!(
        inner_serve.fields["parent_span"],
        inner_call.fields["span_id"]
    );
    assert_eq!(
        inner_call.local_parent,
        Some(relay_serve_id),
        "in this process, the nested call's span is opened inside the serving one"
    );
}

#[test]
fn errors_and_panics_are_recorded_and_counted() {
    let s = setup();
    let traced: TracedProxy = s.client.require("traced").unwrap();
    assert!(matches!(traced.explode(), Err(RemoteError::Panic { .. })));
    let (call_id, call) = one("call", "explode");
    let (serve_id, serve) = served("explode");
    assert_eq!(call.fields["outcome"], "panic");
    assert_eq!(serve.fields["outcome"], "panic");
    let seen = seen().lock().unwrap_or_else(|e| e.into_inner());
    let failed = seen
        .events
        .iter()
        .find(|e| e.span == Some(call_id) && e.message == "call failed")
        .expect("a `call failed` event in the client's span");
    assert!(failed.fields["error"].contains("boom"));
    assert!(
        seen.events
            .iter()
            .any(|e| e.span == Some(serve_id) && e.message.contains("panicked")),
        "the panic is logged inside the server's span: {:#?}",
        seen.events
    );
    drop(seen);

    for n in 0..5 {
        traced.tick(n).unwrap();
    }
    let client = s.client_metrics.snapshot();
    let row = |rows: &[remote::MethodMetrics], side, method: &str| {
        rows.iter()
            .find(|r| r.side == side && r.method == method)
            .cloned()
            .unwrap_or_else(|| panic!("no {side} row for {method}: {rows:#?}"))
    };
    let tick = row(&client, Side::Client, "tick");
    assert_eq!((tick.calls, tick.errors), (5, 0));
    assert!(tick.max >= tick.mean && tick.mean > std::time::Duration::ZERO);
    let explode = row(&client, Side::Client, "explode");
    assert_eq!((explode.calls, explode.errors), (1, 1));
    // The server counts as it replies; the client saw the replies, so the
    // server has counted them.
    let server = s.server_metrics.snapshot();
    assert_eq!(row(&server, Side::Server, "tick").calls, 5);
    assert_eq!(row(&server, Side::Server, "explode").errors, 1);
    assert!(s.client_metrics.to_string().contains("Traced::tick"));
}

#[test]
fn a_property_refresh_is_a_call_of_its_trait_on_both_paths() {
    let s = setup();
    let window: WindowProxy = s.client.require("window").unwrap();
    window.refresh().unwrap();
    let fresh = futures::executor::block_on(window.to_async().refresh()).unwrap();
    assert_eq!(fresh.title, "main");
    let calls = spans("call", "properties");
    assert_eq!(calls.len(), 2, "blocking and async: {calls:#?}");
    for (_, span) in &calls {
        assert_eq!(span.fields["interface"], "Window");
        assert_eq!(span.fields["outcome"], "ok");
        assert_eq!(span.fields["trace_id"].len(), 32);
    }
    let rows = s.client_metrics.snapshot();
    let row = rows
        .iter()
        .find(|r| r.interface == "Window" && r.method == "properties")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!((row.calls, row.errors), (2, 0));
}
