//! Two versions of one trait, over a real Unix socket: what a plugin host
//! meets when it upgrades before its plugins (or after). Methods are named
//! on the wire by a stable ID, so adding, removing, reordering and renaming
//! (with `#[remote(id = N)]`) are compatible; a changed signature refuses
//! that one method, naming both versions; the rest go on working.

mod common;

use std::sync::Arc;

use common::tempdir;
use remote::__private::Interface;
use remote::{Client, RemoteError, Server};

/// The plugin API as version 1 shipped it.
mod v1 {
    use remote::Remote;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Item {
        pub name: String,
        pub size: u32,
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Entry {
        pub key: String,
    }

    #[remote::remote_object]
    pub trait Leaf: Send + Sync {
        fn label(&self) -> String;
    }

    #[remote::remote_object]
    pub trait Store: Send + Sync {
        fn get(&self, key: String) -> Option<String>;
        fn legacy(&self) -> u32;
        fn open(&self, path: String) -> u64;
        #[remote(id = 7)]
        fn size(&self) -> u64;
        fn item(&self) -> Item;
        fn entry(&self) -> Entry;
        fn leaf(&self) -> Remote<dyn Leaf>;
        async fn slow_get(&self, key: String) -> Option<String>;
    }
}

/// Version 2: methods reordered, one added, one removed, one renamed with
/// its ID kept, one with a new argument, one whose return type gained a
/// field, and one whose return type gained a field under a new name.
mod v2 {
    use remote::Remote;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Item {
        pub name: String,
        pub size: u32,
        pub tags: Vec<String>,
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct EntryV2 {
        pub key: String,
        pub version: u32,
    }

    #[remote::remote_object]
    pub trait Leaf: Send + Sync {
        fn label(&self) -> String;
        fn depth(&self) -> u32;
    }

    #[remote::remote_object]
    pub trait Store: Send + Sync {
        fn added(&self) -> String;
        async fn slow_get(&self, key: String) -> Option<String>;
        fn leaf(&self) -> Remote<dyn Leaf>;
        fn open(&self, path: String, mode: u32) -> u64;
        #[remote(id = 7)]
        fn len(&self) -> u64;
        fn item(&self) -> Item;
        fn entry(&self) -> EntryV2;
        fn get(&self, key: String) -> Option<String>;
    }
}

struct LeafV1;
impl v1::Leaf for LeafV1 {
    fn label(&self) -> String {
        "leaf one".into()
    }
}

struct LeafV2;
impl v2::Leaf for LeafV2 {
    fn label(&self) -> String {
        "leaf two".into()
    }
    fn depth(&self) -> u32 {
        2
    }
}

struct StoreV1;
#[remote::async_trait]
impl v1::Store for StoreV1 {
    fn get(&self, key: String) -> Option<String> {
        (key == "k").then(|| "v1 value".to_string())
    }
    fn legacy(&self) -> u32 {
        1
    }
    fn open(&self, _path: String) -> u64 {
        10
    }
    fn size(&self) -> u64 {
        100
    }
    fn item(&self) -> v1::Item {
        v1::Item {
            name: "one".into(),
            size: 1,
        }
    }
    fn entry(&self) -> v1::Entry {
        v1::Entry { key: "e".into() }
    }
    fn leaf(&self) -> remote::Remote<dyn v1::Leaf> {
        remote::Remote::new(LeafV1)
    }
    async fn slow_get(&self, key: String) -> Option<String> {
        self.get(key)
    }
}

struct StoreV2;
#[remote::async_trait]
impl v2::Store for StoreV2 {
    fn added(&self) -> String {
        "new in v2".into()
    }
    async fn slow_get(&self, key: String) -> Option<String> {
        self.get(key)
    }
    fn leaf(&self) -> remote::Remote<dyn v2::Leaf> {
        remote::Remote::new(LeafV2)
    }
    fn open(&self, _path: String, mode: u32) -> u64 {
        20 + u64::from(mode)
    }
    fn len(&self) -> u64 {
        200
    }
    fn item(&self) -> v2::Item {
        v2::Item {
            name: "two".into(),
            size: 2,
            tags: vec!["t".into()],
        }
    }
    fn entry(&self) -> v2::EntryV2 {
        v2::EntryV2 {
            key: "e".into(),
            version: 2,
        }
    }
    fn get(&self, key: String) -> Option<String> {
        (key == "k").then(|| "v2 value".to_string())
    }
}

/// A server exporting `store` on a Unix socket, and a client of it.
struct Served {
    client: Client,
    metrics: Arc<remote::CallMetrics>,
    _listener: remote::Listener,
    _server: Server,
    _dir: tempfile::TempDir,
}

fn serve<T: ?Sized + Interface>(store: Arc<T>) -> Served {
    let metrics = Arc::new(remote::CallMetrics::new());
    let server = Server::with_options(remote::Options::new().observe(metrics.clone()));
    server.export("store", store);
    let dir = tempdir();
    let path = dir.path().join("store.sock");
    let listener = server.listen_unix(&path).expect("listen");
    let client = Client::connect_unix(&path).expect("connect");
    Served {
        client,
        metrics,
        _listener: listener,
        _server: server,
        _dir: dir,
    }
}

fn changed(result: Result<impl std::fmt::Debug, RemoteError>) -> (String, String, String) {
    match result {
        Err(RemoteError::MethodChanged {
            interface,
            method,
            here,
            there,
        }) => {
            assert_eq!(interface, "Store");
            (method, here, there)
        }
        other => panic!("expected MethodChanged, got {other:?}"),
    }
}

fn missing(result: Result<impl std::fmt::Debug, RemoteError>) -> String {
    match result {
        Err(RemoteError::NoSuchMethod { interface, method }) => {
            assert_eq!(interface, "Store");
            method
        }
        other => panic!("expected NoSuchMethod, got {other:?}"),
    }
}

#[test]
fn an_old_client_calls_a_new_server() {
    let served = serve::<dyn v2::Store>(Arc::new(StoreV2));
    let store: v1::StoreProxy = served
        .client
        .require("store")
        .expect("a client built from version 1 reaches version 2");

    // Unchanged methods work, wherever they moved to.
    assert_eq!(store.get("k".into()).unwrap().as_deref(), Some("v2 value"));
    // Renamed, with its ID kept.
    assert_eq!(store.size().unwrap(), 200);
    // Removed in v2: named, with the trait.
    assert_eq!(missing(store.legacy()), "legacy");
    // A new argument: refused, both signatures named.
    let (method, here, there) = changed(store.open("/tmp/x".into()));
    assert_eq!(method, "open");
    assert_eq!(here, "(String) -> u64");
    assert_eq!(there, "(String, u32) -> u64");
    // The same signature as written, with a type whose fields changed: the
    // shapes differ, so it is refused instead of decoded wrongly.
    let (method, here, there) = changed(store.item());
    assert_eq!(method, "item");
    assert_eq!(here, there, "written the same: `() -> Item`");
    let err = store.item().unwrap_err().to_string();
    assert!(
        err.contains("a type in it changed"),
        "the message says why two equal signatures differ: {err}"
    );
    assert_eq!(changed(store.entry()).0, "entry");
    // Async proxies see the same.
    let async_store = store.to_async();
    futures::executor::block_on(async {
        assert_eq!(
            async_store.slow_get("k".into()).await.unwrap().as_deref(),
            Some("v2 value")
        );
        assert_eq!(missing(async_store.legacy().await), "legacy");
        assert_eq!(changed(async_store.open("/".into()).await).0, "open");
    });
    // A handle of a trait that gained a method crosses, and its old methods
    // work.
    let leaf = store.leaf().unwrap();
    assert_eq!(leaf.label().unwrap(), "leaf two");
    // After all of that, the connection is fine.
    assert_eq!(store.get("k".into()).unwrap().as_deref(), Some("v2 value"));

    // The server counted the refusals beside the calls it ran.
    let rows = served.metrics.snapshot();
    let row = |method: &str| {
        rows.iter()
            .find(|r| {
                r.side == remote::Side::Server && r.interface == "Store" && r.method == method
            })
            .map(|r| (r.calls, r.errors))
    };
    assert_eq!(row("open"), Some((2, 2)), "{rows:#?}");
    assert_eq!(row("(unknown method)"), Some((2, 2)), "{rows:#?}");
    assert_eq!(row("get"), Some((2, 0)), "{rows:#?}");
}

#[test]
fn a_new_client_calls_an_old_server() {
    let served = serve::<dyn v1::Store>(Arc::new(StoreV1));
    let store: v2::StoreProxy = served.client.require("store").unwrap();

    assert_eq!(store.get("k".into()).unwrap().as_deref(), Some("v1 value"));
    assert_eq!(store.len().unwrap(), 100);
    assert_eq!(missing(store.added()), "added");
    let (method, here, there) = changed(store.open("/tmp/x".into(), 1));
    assert_eq!(method, "open");
    assert_eq!(here, "(String, u32) -> u64");
    assert_eq!(there, "(String) -> u64");
    assert_eq!(changed(store.item()).0, "item");
    let leaf = store.leaf().unwrap();
    assert_eq!(leaf.label().unwrap(), "leaf one");
    match leaf.depth() {
        Err(RemoteError::NoSuchMethod { interface, method }) => {
            assert_eq!((interface.as_str(), method.as_str()), ("Leaf", "depth"));
        }
        other => panic!("expected NoSuchMethod, got {other:?}"),
    }
    futures::executor::block_on(async {
        let store = store.to_async();
        assert_eq!(missing(store.added().await), "added");
        assert_eq!(store.len().await.unwrap(), 100);
    });
}

#[test]
fn method_ids_are_the_names_hashed_or_the_ids_given() {
    let ids = |methods: Vec<&'static remote::__private::Method>| -> Vec<(&str, u32)> {
        methods.iter().map(|m| (m.name, m.id)).collect()
    };
    for (name, id) in ids(<dyn v2::Store as Interface>::methods()) {
        if name == "len" {
            assert_eq!(id, 7);
        } else {
            assert_eq!(id, remote::testing::method_id(name), "{name}");
        }
    }
    // The same name has the same ID in both versions, wherever it sits.
    let v1 = ids(<dyn v1::Store as Interface>::methods());
    let v2 = ids(<dyn v2::Store as Interface>::methods());
    for (name, id) in &v1 {
        if let Some((_, other)) = v2.iter().find(|(n, _)| n == name) {
            assert_eq!(id, other, "{name}");
        }
    }
}
