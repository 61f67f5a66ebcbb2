//! The rest of Electron's `remote` surface, typed: property snapshots,
//! the module registry, globals, process info, per-connection objects, and
//! calls in the other direction. Run on every transport.
#![allow(missing_docs)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use remote::{
    remote_object, Client, FrameHook, FrameKind, Options, Remote, RemoteError, Server, Verdict,
};

/// A window with enumerable properties.
#[remote_object]
pub trait Window: Send + Sync {
    /// The title bar's text.
    #[property]
    fn title(&self) -> String;
    #[property]
    fn size(&self) -> (u32, u32);
    #[property]
    fn icon(&self) -> Vec<u8>;
    #[property]
    fn thumbnail(&self) -> bytes::Bytes;
    fn set_title(&self, title: String);
    fn icon_now(&self) -> Vec<u8>;
    fn take_icon(&self, icon: Vec<u8>) -> usize;
}

struct BrowserWindow {
    title: Mutex<String>,
    icon: Mutex<Vec<u8>>,
}

impl BrowserWindow {
    fn new(title: &str) -> Arc<BrowserWindow> {
        Arc::new(BrowserWindow {
            title: Mutex::new(title.into()),
            icon: Mutex::new(vec![1, 2, 3]),
        })
    }
}

impl Window for BrowserWindow {
    fn title(&self) -> String {
        self.title.lock().unwrap().clone()
    }
    fn size(&self) -> (u32, u32) {
        (800, 600)
    }
    fn icon(&self) -> Vec<u8> {
        self.icon.lock().unwrap().clone()
    }
    fn thumbnail(&self) -> bytes::Bytes {
        bytes::Bytes::from(self.icon.lock().unwrap().clone())
    }
    fn set_title(&self, title: String) {
        *self.title.lock().unwrap() = title;
    }
    fn icon_now(&self) -> Vec<u8> {
        self.icon()
    }
    fn take_icon(&self, mut icon: Vec<u8>) -> usize {
        // The server changes its copy; the caller's stays as it was.
        icon.push(99);
        icon.len()
    }
}

/// The main process's app module.
#[remote_object]
pub trait App: Send + Sync {
    fn name(&self) -> String;
    fn main_window(&self) -> Remote<dyn Window>;
}

struct TheApp {
    window: Arc<BrowserWindow>,
}

impl App for TheApp {
    fn name(&self) -> String {
        "demo".into()
    }
    fn main_window(&self) -> Remote<dyn Window> {
        Remote::from_arc(self.window.clone() as Arc<dyn Window>)
    }
}

/// What a renderer exports for the main process to call (the analogue of
/// `webContents.executeJavaScript`).
#[remote_object]
pub trait Renderer: Send + Sync {
    fn run(&self, script: String) -> String;
}

struct Page {
    name: String,
}

impl Renderer for Page {
    fn run(&self, script: String) -> String {
        format!("{} ran {script}", self.name)
    }
}

/// Counts frames of each kind a client sends.
#[derive(Default)]
struct Counter(Mutex<Vec<FrameKind>>);
impl FrameHook for Counter {
    fn before_send(&self, kind: FrameKind) -> Verdict {
        self.0.lock().unwrap().push(kind);
        Verdict::Send
    }
}
impl Counter {
    fn count(&self, kind: FrameKind) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|k| **k == kind)
            .count()
    }
}

fn server() -> (Server, Arc<BrowserWindow>) {
    let server = Server::new();
    let window = BrowserWindow::new("Main");
    server.export_module(
        "app",
        Arc::new(TheApp {
            window: window.clone(),
        }) as Arc<dyn App>,
    );
    server.export("windows/main", window.clone() as Arc<dyn Window>);
    server.set_global("answer", 42u32);
    server.set_global(
        "main-window",
        Remote::from_arc(window.clone() as Arc<dyn Window>),
    );
    server.set_version("demo-app", "1.2.3");
    let serial = Arc::new(AtomicU64::new(0));
    server.on_connect(move |connection| {
        let n = serial.fetch_add(1, Ordering::SeqCst) + 1;
        connection.attach(
            "window",
            BrowserWindow::new(&format!("window #{n}")) as Arc<dyn Window>,
        );
    });
    (server, window)
}

macro_rules! surface_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn properties_arrive_with_the_handle_and_cost_no_round_trip() {
                let (server, window_obj) = server();
                let hook = Arc::new(Counter::default());
                let client = <$transport as Transport>::connect_with(
                    &server,
                    Options::new().hook(hook.clone()),
                );
                let window: WindowProxy = client.require("windows/main").unwrap();
                let calls_before = hook.count(FrameKind::Call);
                assert_eq!(window.title().unwrap(), "Main");
                assert_eq!(window.size().unwrap(), (800, 600));
                let props = window.properties().unwrap();
                assert_eq!(props.title, "Main");
                assert_eq!(props.icon, vec![1, 2, 3]);
                assert_eq!(
                    WindowProperties::NAMES,
                    &["title", "size", "icon", "thumbnail"]
                );
                assert_eq!(
                    hook.count(FrameKind::Call),
                    calls_before,
                    "reading properties sent nothing"
                );
                // A snapshot: the owner's later changes are not seen...
                window_obj.set_title("Renamed".into());
                assert_eq!(window.title().unwrap(), "Main");
                // ...until a refresh, which is one round trip.
                let fresh = window.refresh().unwrap();
                assert_eq!(hook.count(FrameKind::Call), calls_before + 1);
                assert_eq!(fresh.title, "Renamed");
                assert_eq!(window.title().unwrap(), "Renamed");
                // The async proxy reads the same snapshot.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let title = rt.block_on(window.to_async().title()).unwrap();
                assert_eq!(title, "Renamed");
            }

            #[test]
            fn a_handle_that_arrives_again_keeps_its_first_snapshot() {
                let (server, window_obj) = server();
                let client = <$transport as Transport>::connect_with(&server, Options::new());
                let app: AppProxy = client.module("app").unwrap();
                let first = app.main_window().unwrap();
                window_obj.set_title("Changed".into());
                let again = app.main_window().unwrap();
                assert!(again.same_object(&first));
                assert_eq!(
                    again.title().unwrap(),
                    "Main",
                    "the snapshot of the first reference"
                );
                drop((first, again));
                client.sync().unwrap();
                // Once released, the next reference is a new one, with a new snapshot.
                let later = app.main_window().unwrap();
                assert_eq!(later.title().unwrap(), "Changed");
            }

            #[test]
            fn buffers_are_copied_both_ways() {
                let (server, window_obj) = server();
                let client = <$transport as Transport>::connect_with(&server, Options::new());
                let window: WindowProxy = client.require("windows/main").unwrap();
                let mut icon = window.icon().unwrap();
                icon[0] = 42;
                let mut now = window.icon_now().unwrap();
                now.clear();
                let thumb = window.thumbnail().unwrap();
                assert_eq!(&thumb[..], &[1, 2, 3]);
                assert_eq!(
                    *window_obj.icon.lock().unwrap(),
                    vec![1, 2, 3],
                    "owner unchanged"
                );
                let mine = vec![7u8, 8];
                assert_eq!(window.take_icon(mine.clone()).unwrap(), 3);
                assert_eq!(mine, vec![7, 8], "the server changed only its copy");
            }

            #[test]
            fn the_registry_resolves_hierarchical_names_and_caches_modules() {
                let (server, _) = server();
                let hook = Arc::new(Counter::default());
                let client = <$transport as Transport>::connect_with(
                    &server,
                    Options::new().hook(hook.clone()),
                );
                let main: WindowProxy = client.require("windows/main").unwrap();
                assert_eq!(main.title().unwrap(), "Main");
                match client.require::<WindowProxy>("windows/missing") {
                    Err(RemoteError::NoSuchExport { name, .. }) => {
                        assert_eq!(name, "windows/missing")
                    }
                    other => panic!("expected NoSuchExport, got {other:?}"),
                }
                assert_eq!(client.module_names().unwrap(), vec!["app".to_string()]);
                let requires = hook.count(FrameKind::Require);
                let app: AppProxy = client.module("app").unwrap();
                let again: AppProxy = client.module("app").unwrap();
                assert!(app.same_object(&again));
                assert_eq!(hook.count(FrameKind::Require), requires + 1, "fetched once");
                assert_eq!(app.name().unwrap(), "demo");
            }

            #[test]
            fn globals_are_copied_or_lent() {
                let (server, _) = server();
                let client = <$transport as Transport>::connect_with(&server, Options::new());
                assert_eq!(client.get_global::<u32>("answer").unwrap(), 42);
                let window: Remote<dyn Window> = client.get_global("main-window").unwrap();
                assert_eq!(window.into_proxy().title().unwrap(), "Main");
                assert!(matches!(
                    client.get_global::<u32>("nope"),
                    Err(RemoteError::NoSuchExport { .. })
                ));
                assert!(matches!(
                    client.get_global::<String>("answer"),
                    Err(RemoteError::Decode(_))
                ));
            }

            #[test]
            fn process_info_is_fetched_once() {
                let (server, _) = server();
                let hook = Arc::new(Counter::default());
                let client = <$transport as Transport>::connect_with(
                    &server,
                    Options::new().hook(hook.clone()),
                );
                let sent = hook.0.lock().unwrap().len();
                let info = client.process().unwrap().clone();
                assert_eq!(info.pid, std::process::id());
                assert_eq!(info.os, std::env::consts::OS);
                assert_eq!(
                    info.versions.get("demo-app").map(String::as_str),
                    Some("1.2.3")
                );
                assert!(info.versions.contains_key("remote"));
                assert!(!info.args.is_empty());
                let after_first = hook.0.lock().unwrap().len();
                assert!(after_first > sent);
                assert_eq!(client.process().unwrap(), &info);
                assert_eq!(hook.0.lock().unwrap().len(), after_first, "cached");
            }

            #[test]
            fn each_connection_sees_only_its_own_objects() {
                let (server, _) = server();
                let a = <$transport as Transport>::connect_with(&server, Options::new());
                let b = <$transport as Transport>::connect_with(&server, Options::new());
                let wa: WindowProxy = a.current("window").unwrap();
                let wb: WindowProxy = b.current("window").unwrap();
                assert_ne!(wa.title().unwrap(), wb.title().unwrap());
                assert!(wa.title().unwrap().starts_with("window #"));
                // Not an export: require cannot reach it, nor another name.
                assert!(matches!(
                    a.require::<WindowProxy>("window"),
                    Err(RemoteError::NoSuchExport { .. })
                ));
                assert!(matches!(
                    a.current::<WindowProxy>("tab"),
                    Err(RemoteError::NoSuchExport { .. })
                ));
                eventually("both connected", || server.connections().len() == 2);
                drop((wa, a));
                eventually("a's connection gone", || server.connections().len() == 1);
                assert_eq!(wb.size().unwrap(), (800, 600));
            }

            #[test]
            fn the_main_process_calls_into_each_renderer() {
                let (server, _) = server();
                let renderers: Vec<Client> = (0..3)
                    .map(|i| {
                        let client =
                            <$transport as Transport>::connect_with(&server, Options::new());
                        client.export(
                            "renderer",
                            Arc::new(Page {
                                name: format!("page {i}"),
                            }) as Arc<dyn Renderer>,
                        );
                        client
                    })
                    .collect();
                eventually("three renderers connected", || {
                    server.connections().len() == 3
                });
                let mut answers: Vec<String> = server
                    .connections()
                    .iter()
                    .map(|c| {
                        let page: RendererProxy = c.require("renderer").unwrap();
                        page.run("document.title".into()).unwrap()
                    })
                    .collect();
                answers.sort();
                assert_eq!(
                    answers,
                    vec![
                        "page 0 ran document.title",
                        "page 1 ran document.title",
                        "page 2 ran document.title"
                    ]
                );
                drop(renderers);
            }
        }
    };
}

surface_tests!(in_process, InProcess);
surface_tests!(unix, Unix);
surface_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
surface_tests!(tls, Tls);
surface_tests!(duplex, Duplex);
