//! The main demo: Electron's `remote` module, redone for Rust, across real
//! processes. Run with `cargo run --example window_manager` (it takes well
//! under a second once built; nothing to install, no network).
//!
//! One binary, two roles. Started plainly it is the MAIN process: it owns
//! every window, exports the built-in module `app`, and starts renderer
//! processes (copies of itself, with `renderer NAME LOAD` as arguments) with
//! `Server::spawn_child`; each renderer connects back with
//! `Client::from_parent()`. Every line is prefixed with the process that
//! printed it: main re-prints its renderers' stdout as `[renderer NAME]`.
//!
//! | Electron's `remote` docs                 | here |
//! | ---------------------------------------- | ---- |
//! | `remote.app` (built-in modules)          | `server.export_module("app", ..)`, `client.module::<AppProxy>("app")` |
//! | `remote.getCurrentWindow()`              | `server.on_connect(..)` + `connection.attach("window", ..)`, `client.current::<BrowserWindowProxy>("window")` |
//! | `new remote.BrowserWindow()`             | the remote constructor `app.create_window(title)`: the window stays in main, the renderer holds a proxy |
//! | enumerable properties (`win.id`, ...)    | `#[property]` getters: a snapshot shipped with the handle, read with no round trip; `refresh()` |
//! | exceptions thrown across processes       | `load_url` returns `Result<(), NavError>`: the typed error arrives as itself |
//! | `win.on('close', fn)`, leaked on reload  | `Callback` + `Listeners`: a dead renderer's handlers drop by themselves |
//! | `webContents.executeJavaScript`          | the renderer exports `page`; main calls `connection.require::<PageProxy>("page")` |
//!
//! The story: renderer `a` loads, then reloads (its first process exits
//! without removing its close handlers, and main starts a new one), renderer
//! `b` loads, main closes every window and exactly the live handlers run, the
//! renderers exit, and main checks that nothing is left over: no connection,
//! no handle either way, no callback, no window but the two it holds itself.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use remote::{
    remote_object, Callback, Client, Connection, Listeners, Options, Remote, Server, Sink, Stream,
};
use serde::{Deserialize, Serialize};

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Why a window refused to navigate. Reaches the renderer as itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NavError {
    /// Only `app://` and `https://` pages may be loaded; this was the scheme.
    UnsupportedScheme(String),
    /// The window is closed.
    Closed,
}

/// A window. It lives in the main process; renderers hold proxies.
#[remote_object]
pub trait BrowserWindow: Send + Sync {
    /// Its unique id.
    #[property]
    fn id(&self) -> u32;
    /// The title bar's text.
    #[property]
    fn title(&self) -> String;
    /// The page it shows.
    #[property]
    fn url(&self) -> String;
    /// Where it sits on the screen: x, y, width, height.
    #[property]
    fn bounds(&self) -> (i32, i32, u32, u32);
    /// Whether it is shown.
    #[property]
    fn visible(&self) -> bool;
    /// Changes the title.
    fn set_title(&self, title: String);
    /// Navigates to `url` (`app://` or `https://` only).
    fn load_url(&self, url: String) -> Result<(), NavError>;
    /// Shows the window.
    fn show(&self);
    /// Closes the window and emits `close`; returns how many handlers it reached.
    fn close(&self) -> usize;
    /// Runs `handler` with the window's title whenever `event` happens.
    fn on(&self, event: String, handler: Callback<(String,)>);
}

/// The built-in module `app` of the main process.
#[remote_object]
pub trait App: Send + Sync {
    /// A remote constructor: the window stays here, the caller gets a proxy.
    fn create_window(&self, title: String) -> Remote<dyn BrowserWindow>;
    /// Every open window.
    fn windows(&self) -> Vec<Remote<dyn BrowserWindow>>;
    /// Window events ("#3 created", "#3 shown", ..) from now on, as a
    /// stream: a slow reader holds up no window.
    fn events(&self) -> Stream<String>;
}

/// What a renderer lets the main process do in it.
#[remote_object]
pub trait Page: Send + Sync {
    /// Runs a (tiny) script in the page and returns its result.
    fn execute(&self, script: String) -> String;
}

// ----- the main process's objects ------------------------------------------

static HANDLERS_ADDED: AtomicUsize = AtomicUsize::new(0);

struct Window {
    id: u32,
    feed: Arc<Feed>,
    state: Mutex<State>,
    events: Mutex<HashMap<String, Listeners<(String,)>>>,
}

struct State {
    title: String,
    url: String,
    visible: bool,
    closed: bool,
}

impl Window {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
    fn handlers(&self) -> usize {
        let events = self.events.lock().unwrap();
        events.values().map(Listeners::len).sum()
    }
}

impl BrowserWindow for Window {
    fn id(&self) -> u32 {
        self.id
    }
    fn title(&self) -> String {
        self.state().title.clone()
    }
    fn url(&self) -> String {
        self.state().url.clone()
    }
    fn bounds(&self) -> (i32, i32, u32, u32) {
        (40 * self.id as i32, 40 * self.id as i32, 800, 600)
    }
    fn visible(&self) -> bool {
        self.state().visible
    }
    fn set_title(&self, title: String) {
        self.feed.publish(format!("#{} titled {title:?}", self.id));
        self.state().title = title;
    }
    fn load_url(&self, url: String) -> Result<(), NavError> {
        if !(url.starts_with("app://") || url.starts_with("https://")) {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(NavError::UnsupportedScheme(scheme.into()));
        }
        let mut state = self.state();
        if state.closed {
            return Err(NavError::Closed);
        }
        state.url = url;
        Ok(())
    }
    fn show(&self) {
        self.state().visible = true;
        self.feed.publish(format!("#{} shown", self.id));
    }
    fn close(&self) -> usize {
        let title = {
            let mut state = self.state();
            if state.closed {
                return 0;
            }
            (state.visible, state.closed) = (false, true);
            state.title.clone()
        };
        self.feed.publish(format!("#{} closed", self.id));
        // Like an EventEmitter, the listeners stay registered until removed
        // or until their renderer goes away.
        let close = self.events.lock().unwrap().get("close").cloned();
        close.map_or(0, |listeners| listeners.emit((title,)))
    }
    fn on(&self, event: String, handler: Callback<(String,)>) {
        HANDLERS_ADDED.fetch_add(1, SeqCst);
        let mut events = self.events.lock().unwrap();
        events.entry(event).or_default().add(handler);
    }
}

/// The `app` module. It keeps only `Weak`s: a window lives while someone
/// holds it (main, for the windows it opens; a renderer, for the ones it
/// creates), so a renderer that goes away takes its windows with it.
#[derive(Default)]
struct AppModule {
    windows: Mutex<Vec<Weak<Window>>>,
    next_id: AtomicU32,
    feed: Arc<Feed>,
}

/// The subscribers to window events: one sink per stream handed out.
#[derive(Default)]
struct Feed {
    sinks: Mutex<Vec<Sink<String>>>,
}

impl Feed {
    /// Sends `event` to every subscriber without waiting. One whose reader
    /// is gone is forgotten; one whose window is full misses the event
    /// (and is told so in the log) instead of holding up the window.
    fn publish(&self, event: String) {
        self.sinks
            .lock()
            .unwrap()
            .retain(|sink| match sink.try_send(event.clone()) {
                Ok(()) => true,
                Err(remote::TrySendError::Full(_)) => {
                    println!(
                        "[main] a subscriber is {EVENT_WINDOW} events behind; it misses {event:?}"
                    );
                    true
                }
                Err(remote::TrySendError::Closed(_)) => false,
            });
    }
}

/// Events a subscriber may be behind.
const EVENT_WINDOW: usize = 256;

impl AppModule {
    fn open(&self, title: &str, url: &str) -> Arc<Window> {
        let id = self.next_id.fetch_add(1, SeqCst) + 1;
        self.feed.publish(format!("#{id} created ({title:?})"));
        let window = Arc::new(Window {
            id,
            feed: self.feed.clone(),
            state: Mutex::new(State {
                title: title.into(),
                url: url.into(),
                visible: false,
                closed: false,
            }),
            events: Mutex::default(),
        });
        self.windows.lock().unwrap().push(Arc::downgrade(&window));
        window
    }
    /// Windows still alive, closed or not.
    fn alive(&self) -> usize {
        let all = self.windows.lock().unwrap();
        all.iter().filter(|w| w.strong_count() > 0).count()
    }
    fn open_windows(&self) -> Vec<Arc<Window>> {
        let mut all = self.windows.lock().unwrap();
        all.retain(|w| w.strong_count() > 0);
        let all = all.iter().filter_map(Weak::upgrade);
        all.filter(|w| !w.state().closed).collect()
    }
}

impl App for AppModule {
    fn create_window(&self, title: String) -> Remote<dyn BrowserWindow> {
        Remote::from_arc(self.open(&title, "about:blank") as _)
    }
    fn windows(&self) -> Vec<Remote<dyn BrowserWindow>> {
        let open = self.open_windows().into_iter();
        open.map(|w| Remote::from_arc(w as _)).collect()
    }
    fn events(&self) -> Stream<String> {
        let (sink, stream) = remote::channel(EVENT_WINDOW);
        self.feed.sinks.lock().unwrap().push(sink);
        stream
    }
}

// ----- the main process ----------------------------------------------------

/// Prints a line of the main process's transcript.
macro_rules! say {
    ($($arg:tt)*) => { println!("[main] {}", format_args!($($arg)*)) };
}

/// Polls `done` every 2 ms; panics naming `what` if it is not true within 10 s.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        let late = start.elapsed() > Duration::from_secs(10);
        assert!(!late, "not within 10 s: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What a renderer's printer thread sends when the renderer's stdout closes.
const EXITED: &str = "\0exited";

/// What main needs to start renderers and hear from them.
struct Main {
    server: Server,
    lines: (Sender<String>, Receiver<String>),
}

/// A running renderer process.
struct Renderer {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    connection: Connection,
    printer: std::thread::JoinHandle<()>,
}

impl Main {
    /// Starts renderer `name` in `window` and waits until it says `ready`.
    fn load(&self, name: &'static str, load: u32, window: &Arc<Window>) -> Res<Renderer> {
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["renderer", name, &load.to_string()]);
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        // getCurrentWindow(): the renderer's connection gets the window it is
        // loaded in, attached before the renderer's first request.
        let window = window.clone();
        let (mut child, connection) = self.server.spawn_child_with(&mut command, |connection| {
            connection.attach("window", window as Arc<dyn BrowserWindow>);
        })?;
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let tx = self.lines.0.clone();
        // Re-prints the renderer's lines with its prefix, then hands them to
        // main, so main prints its next line only after the renderer's.
        let printer = std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                println!("[renderer {name}] {line}");
                let _ = tx.send(line);
            }
            let _ = tx.send(EXITED.into());
        });
        let stdin = child.stdin.take().expect("piped stdin");
        self.wait_for("ready", 1)?;
        Ok(Renderer {
            name,
            child,
            stdin,
            connection,
            printer,
        })
    }

    /// Waits until renderers printed `count` lines starting with `prefix`.
    fn wait_for(&self, prefix: &str, count: usize) -> Res {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = 0;
        while seen < count {
            let line = self.lines.1.recv_deadline(deadline).map_err(|_| {
                format!("renderers printed {seen} of {count} {prefix:?} lines within 10 s")
            })?;
            if line == EXITED {
                return Err(format!("a renderer exited before printing {prefix:?}").into());
            }
            seen += usize::from(line.starts_with(prefix));
        }
        Ok(())
    }

    /// Tells `renderer` to `reload` or `exit`, and waits until it has.
    fn finish(&self, mut renderer: Renderer, what: &str) -> Res {
        writeln!(renderer.stdin, "{what}")?;
        let status = renderer.child.wait()?;
        renderer.printer.join().expect("printer thread");
        let name = renderer.name;
        assert!(status.success(), "renderer {name} exited with {status}");
        // Its lines were printed already; forget them (and its EXITED).
        self.lines.1.try_iter().for_each(drop);
        Ok(())
    }
}

impl Renderer {
    /// Calls into the renderer: the other direction.
    fn execute(&self, script: &str) -> Res {
        let page: PageProxy = self.connection.require("page")?;
        let result = page.execute(script.into())?;
        let name = self.name;
        say!("renderer {name}: page.execute({script:?}) = {result:?}");
        Ok(())
    }
}

fn main_process() -> Res {
    // Per-method counts and latencies of every call main serves or makes.
    let metrics = Arc::new(remote::CallMetrics::new());
    let server = Server::with_options(Options::new().observe(metrics.clone()));
    let app = Arc::new(AppModule::default());
    server.export_module("app", app.clone() as Arc<dyn App>);
    let lines = crossbeam_channel::unbounded();
    let main = Main { server, lines };

    let window_a = app.open("a: main", "app://a.html");
    let window_b = app.open("b: main", "app://b.html");
    say!("opened windows #1 and #2, exported module \"app\"; loading renderer a");
    let a = main.load("a", 1, &window_a)?;
    a.execute("document.title")?;
    let (n, open) = (window_a.handlers(), app.open_windows().len());
    say!("window #1 has {n} close handler; {open} windows are open");

    say!("reloading renderer a: its process exits without removing its handlers");
    main.finish(a, "reload")?;
    eventually("renderer a's handlers and window to go", || {
        window_a.handlers() == 0 && app.open_windows().len() == 2
    });
    let n = window_a.handlers();
    say!("window #1 has {n} close handlers: Listeners dropped the dead one");
    say!("window #3, held only by that renderer, is gone too; loading renderer a again");
    let a = main.load("a", 2, &window_a)?;
    a.execute("document.title")?;
    let b = main.load("b", 1, &window_b)?;
    b.execute("location.href")?;
    let stats = main.server.stats();
    let (c, e, i) = (stats.connections, stats.exported, stats.imported);
    say!("{c} renderers hold {e} handles of ours; we hold {i} callbacks of theirs");

    let mut ran = 0;
    for window in app.open_windows() {
        let (id, title, n) = (window.id, window.title(), window.handlers());
        say!("closing window #{id} {title:?} ({n} close handler)");
        let reached = window.close();
        main.wait_for("close handler", reached)?;
        ran += reached;
    }
    let added = HANDLERS_ADDED.load(SeqCst);
    say!("close handlers registered over time: {added}; ran: {ran}");
    let dead = added - ran;
    say!("the other {dead}, of renderer a's first load, were dropped unrun");
    assert_eq!((added, ran), (6, 4));

    main.finish(a, "exit")?;
    main.finish(b, "exit")?;
    eventually("every connection, handle, callback to be released", || {
        let stats = main.server.stats();
        (stats.connections, stats.exported, stats.imported) == (0, 0, 0)
            && window_a.handlers() + window_b.handlers() == 0
            && app.alive() == 2 // the renderers' windows are gone
    });
    say!("renderers exited; {:?}", main.server.stats());
    drop((window_a, window_b));
    assert_eq!(app.alive(), 0, "a window outlived its holders");
    say!("0 live handles, 0 callbacks, 0 windows");
    say!("calls, per method (main's side):");
    for line in metrics.to_string().lines() {
        say!("  {line}");
    }
    say!("done");
    Ok(())
}

// ----- a renderer process --------------------------------------------------

/// Counts the calls this process sends, to show which reads cost a round trip.
#[derive(Default)]
struct CallCounter(AtomicUsize);

impl remote::FrameHook for CallCounter {
    fn before_send(&self, kind: remote::FrameKind) -> remote::Verdict {
        if kind == remote::FrameKind::Call {
            self.0.fetch_add(1, SeqCst);
        }
        remote::Verdict::Send
    }
}

struct RendererPage {
    window: BrowserWindowProxy,
}

impl Page for RendererPage {
    fn execute(&self, script: String) -> String {
        // Runs while main waits for the answer, and calls main back.
        let props = self.window.refresh();
        match (script.as_str(), props) {
            ("document.title", Ok(p)) => p.title,
            ("location.href", Ok(p)) => p.url,
            (_, Err(e)) => format!("error: {e}"),
            _ => "undefined".into(),
        }
    }
}

fn renderer(name: String, load: String) -> Res {
    let calls = Arc::new(CallCounter::default());
    let metrics = Arc::new(remote::CallMetrics::new());
    let options = Options::new().hook(calls.clone()).observe(metrics.clone());
    let client = Client::from_parent_with(options)?;
    let app: AppProxy = client.module("app")?;
    // Window events from main, from now on: read below, after this
    // renderer's own changes.
    let mut events = app.events()?;
    let window: BrowserWindowProxy = client.current("window")?;
    let modules = client.module_names()?;
    println!("load #{load}: connected; main's modules: {modules:?}");
    let before = calls.0.load(SeqCst);
    let props = window.properties()?;
    let (id, title) = (window.id()?, window.title()?);
    let sent = calls.0.load(SeqCst) - before;
    let names = BrowserWindowProperties::NAMES;
    println!("getCurrentWindow() = #{id} {title:?}: {props:?}");
    println!("  read {names:?} with {sent} calls: they came with the handle");

    let settings = app.create_window(format!("{name}: settings"))?;
    settings.set_title(format!("{name}: preferences"))?;
    let refused = settings.load_url("ftp://files.example/prefs".into())?;
    let id = settings.id()?;
    println!("created window #{id}; load_url(\"ftp://..\") = {refused:?}");
    assert_eq!(refused, Err(NavError::UnsupportedScheme("ftp".into())));
    let loaded = settings.load_url("app://preferences.html".into())?;
    loaded.map_err(|e| format!("{e:?}"))?;
    settings.show()?;
    let (url, fresh) = (settings.url()?, settings.refresh()?);
    println!("  url {url:?} in the snapshot; refresh() = {fresh:?}");

    // The stream carries what happened since we subscribed (the other
    // renderer's changes too), in order: read until our own "shown".
    let shown = format!("#{id} shown");
    while let Some(event) = events.recv() {
        let event = event?;
        println!("  event from main: {event}");
        if event == shown {
            break;
        }
    }
    drop(events); // main forgets the subscription at its next event

    let mut open = Vec::new();
    for w in app.windows()? {
        let w = w.into_proxy(); // inside a Vec it is a Remote<dyn BrowserWindow>
        open.push(format!("#{} {:?}", w.id()?, w.title()?));
    }
    println!("  app.windows() = [{}]", open.join(", "));

    let ran = Arc::new(AtomicUsize::new(0));
    for w in [&window, &settings] {
        let ran = ran.clone();
        let handler = Callback::new(move |(title,): (String,)| {
            ran.fetch_add(1, SeqCst);
            println!("close handler: window {title:?} closed");
        });
        w.on("close".into(), handler)?;
    }
    let page = RendererPage {
        window: window.clone(),
    };
    client.export("page", Arc::new(page) as Arc<dyn Page>);
    client.sync()?; // main's stats are exact: the proxies dropped above are released
    println!("ready: 2 close handlers registered, \"page\" exported");

    let mut order = String::new();
    std::io::stdin().read_line(&mut order)?;
    if order.trim() == "reload" {
        println!("reloading: exiting with my close handlers still registered");
    } else {
        println!("exiting: {} of my close handlers ran", ran.load(SeqCst));
    }
    println!("calls, per method (this renderer's side):");
    for line in metrics.to_string().lines() {
        println!("  {line}");
    }
    Ok(())
}

fn main() -> Res {
    // `RUST_LOG=remote=debug` shows a span per call on each side, linked by
    // trace ID across the processes (logs go to stderr).
    // Each call's span is printed as it closes, with its fields.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("renderer") => {
            let name = args.next().unwrap_or_default();
            renderer(name, args.next().unwrap_or_default())
        }
        _ => main_process(),
    }
}
