//! The close-handler scenario of Electron's docs, fixed.
//!
//! Run with `cargo run --example close_handlers`.
//!
//! A renderer installs a `close` handler on the window it belongs to and then
//! reloads, again and again, never removing it. In Electron every reload
//! leaked one handler, and closing the window then raised errors from the
//! dead ones. Here handlers live in a `Listeners` set that drops each one the
//! moment its renderer's connection ends: after 100 reloads exactly one live
//! handler runs.
//!
//! It also shows what Electron could not do: a `before-close` handler that
//! answers, so a renderer can veto the close (with a deadline, so a hung
//! renderer cannot hold the window open).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use remote::{remote_object, Callback, Client, Listeners, RemoteError, Server};

/// A window of the main process.
#[remote_object]
pub trait Window: Send + Sync {
    /// Runs `handler` when the window closes.
    fn on_close(&self, handler: Callback<()>);
    /// Asks `handler` before closing; an answer of `false` vetoes the close.
    fn on_before_close(&self, handler: Callback<(String,), bool>);
    /// Closes the window unless a before-close handler says no within
    /// `deadline_ms`. Returns whether it closed.
    fn close(&self, deadline_ms: u64) -> bool;
    /// Registered close and before-close handlers.
    fn handler_counts(&self) -> (usize, usize);
}

#[derive(Default)]
struct BrowserWindow {
    close: Listeners<()>,
    before_close: Listeners<(String,), bool>,
}

impl Window for BrowserWindow {
    fn on_close(&self, handler: Callback<()>) {
        self.close.add(handler);
    }
    fn on_before_close(&self, handler: Callback<(String,), bool>) {
        self.before_close.add(handler);
    }
    fn close(&self, deadline_ms: u64) -> bool {
        let answers = self.before_close.ask_all_blocking(
            ("the user clicked close".into(),),
            Duration::from_millis(deadline_ms),
        );
        if answers.iter().any(|a| matches!(a, Ok(false))) {
            println!("main: a renderer vetoed the close");
            return false;
        }
        let reached = self.close.emit(());
        println!("main: window closed; {reached} close handler(s) notified");
        true
    }
    fn handler_counts(&self) -> (usize, usize) {
        (self.close.len(), self.before_close.len())
    }
}

fn main() -> Result<(), RemoteError> {
    let server = Server::new();
    server.export(
        "window",
        Arc::new(BrowserWindow::default()) as Arc<dyn Window>,
    );

    let ran = Arc::new(AtomicUsize::new(0));
    let mut renderer = None;
    for _ in 0..100 {
        // Load: connect, install a close handler, never remove it.
        let client = Client::in_process(&server)?;
        let window: WindowProxy = client.require("window")?;
        let ran = ran.clone();
        window.on_close(Callback::new(move |()| {
            ran.fetch_add(1, Ordering::SeqCst);
        }))?;
        // Reload: the previous page's connection goes away.
        renderer = Some((client, window));
    }
    let (client, window) = renderer.expect("the live renderer");
    // The server drops each dead handler as it notices its connection end.
    let start = std::time::Instant::now();
    while window.handler_counts()?.0 != 1 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "after 100 reloads: {:?} (close, before-close) handlers",
        window.handler_counts()?
    );

    let unsaved = Arc::new(AtomicBool::new(true));
    let u = unsaved.clone();
    window.on_before_close(Callback::new(move |(why,): (String,)| {
        let ok = !u.load(Ordering::SeqCst);
        println!("renderer: asked to close ({why}); answering {ok}");
        ok
    }))?;
    assert!(!window.close(1_000)?);
    unsaved.store(false, Ordering::SeqCst);
    assert!(window.close(1_000)?);
    client.sync()?;
    println!("close handlers that ran: {}", ran.load(Ordering::SeqCst));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    Ok(())
}
