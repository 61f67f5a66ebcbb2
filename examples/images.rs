//! A renderer asks the main process for a large image, as a
//! `SharedBuffer` (its memory crosses: a sealed memfd mapped read-only) and
//! as a `Vec<u8>` (its bytes are copied), and prints both timings.
//!
//! ```text
//! cargo run --release --example images            # 64 MiB
//! cargo run --release --example images -- 256     # MiB
//! ```
//!
//! The main process is this program; the renderer is this program started
//! again with `--renderer <socket>`.

#[path = "shared/gallery.rs"]
mod gallery;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use gallery::{checksum, Gallery, GalleryProxy, MainGallery};
use remote::{Client, Options, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--renderer") {
        return renderer(&args[1]);
    }
    let mib: usize = args.first().map_or(Ok(64), |a| a.parse())?;
    let len = mib << 20;
    // Values this large need a larger bound than the default 64 MiB.
    let options = Options::new().max_value(len + (1 << 20));
    let main = Arc::new(MainGallery::new(len));
    println!(
        "main: made a {mib} MiB image (checksum {:x})",
        checksum(&main.image)
    );
    let server = Server::with_options(options);
    server.export("gallery", main as Arc<dyn Gallery>);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("main.sock");
    let _listener = server.listen_unix(&path)?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--renderer")
        .arg(&path)
        .env("IMAGE_MAX_VALUE", (len + (1 << 20)).to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        println!("renderer: {}", line?);
    }
    child.wait()?;
    Ok(())
}

fn renderer(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let max_value = std::env::var("IMAGE_MAX_VALUE")?.parse()?;
    let client = Client::connect_unix_with(path, Options::new().max_value(max_value))?;
    let gallery: GalleryProxy = client.require("gallery")?;
    for _ in 0..2 {
        let t = Instant::now();
        let shared = gallery.image_shared()?;
        let got = t.elapsed();
        let t = Instant::now();
        let sum = checksum(&shared);
        let read = t.elapsed();
        println!(
            "SharedBuffer: the call took {got:?} (shared memory: {}); reading it all, first touch included, {read:?} (checksum {sum:x})",
            shared.is_shared_memory()
        );
        let t = Instant::now();
        let bytes = gallery.image_bytes()?;
        let got = t.elapsed();
        let t = Instant::now();
        let sum = checksum(&bytes);
        let read = t.elapsed();
        println!("Vec<u8>:      the call took {got:?}; reading it all {read:?} (checksum {sum:x})");
    }
    Ok(())
}
