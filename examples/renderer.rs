//! A renderer enumerates the property snapshot of the window it belongs to,
//! and the main process calls into the renderer (Electron's
//! `webContents.executeJavaScript`, typed).
//!
//! Run with `cargo run --example renderer`.

use std::sync::{Arc, Mutex};

use remote::{remote_object, Client, RemoteError, Server};

/// A window of the main process.
#[remote_object]
pub trait Window: Send + Sync {
    /// The title bar's text.
    #[property]
    fn title(&self) -> String;
    /// Width and height in pixels.
    #[property]
    fn size(&self) -> (u32, u32);
    /// Whether it is maximized.
    #[property]
    fn maximized(&self) -> bool;
    /// Changes the title (a method: a round trip).
    fn set_title(&self, title: String);
}

/// What a renderer lets the main process do in it.
#[remote_object]
pub trait Page: Send + Sync {
    /// Runs a script in the page and returns its result.
    fn execute(&self, script: String) -> String;
}

struct BrowserWindow {
    title: Mutex<String>,
}

impl Window for BrowserWindow {
    fn title(&self) -> String {
        self.title.lock().unwrap().clone()
    }
    fn size(&self) -> (u32, u32) {
        (1024, 768)
    }
    fn maximized(&self) -> bool {
        false
    }
    fn set_title(&self, title: String) {
        *self.title.lock().unwrap() = title;
    }
}

struct RendererPage {
    url: String,
}

impl Page for RendererPage {
    fn execute(&self, script: String) -> String {
        format!("{script} evaluated in {}", self.url)
    }
}

fn main() -> Result<(), RemoteError> {
    // The main process gives each connecting renderer a window of its own.
    let server = Server::new();
    server.on_connect(|connection| {
        let window = BrowserWindow {
            title: Mutex::new(format!("Window of connection {}", connection.id())),
        };
        connection.attach("window", Arc::new(window) as Arc<dyn Window>);
    });

    // A renderer connects and exports its page for the main process.
    let renderer = Client::in_process(&server)?;
    renderer.export(
        "page",
        Arc::new(RendererPage {
            url: "app://index.html".into(),
        }) as Arc<dyn Page>,
    );

    // getCurrentWindow(), and its enumerable properties: a snapshot taken
    // when the handle arrived, read with no round trip.
    let window: WindowProxy = renderer.current("window")?;
    let props = window.properties()?;
    println!(
        "renderer: my window's properties {:?}",
        WindowProperties::NAMES
    );
    println!("renderer:   {props:?}");
    window.set_title("Renamed by the renderer".into())?;
    println!("renderer: title (snapshot)   = {:?}", window.title()?);
    println!(
        "renderer: title (refreshed)  = {:?}",
        window.refresh()?.title
    );

    // The other direction: the main process calls into every renderer.
    for connection in server.connections() {
        let page: PageProxy = connection.require("page")?;
        println!(
            "main: connection {} -> {}",
            connection.id(),
            page.execute("document.title".into())?
        );
    }
    Ok(())
}
