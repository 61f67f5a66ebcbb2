//! `SharedBuffer` across real processes: its memory crosses a Unix socket
//! (a sealed memfd with `SCM_RIGHTS`), it is the same allocation in-process
//! and a copy over TCP; a renderer SIGKILLed with buffers in flight leaves
//! no descriptor and no mapping behind; descriptors nobody asked for, or
//! memory that is not sealed, close only that connection. Children are
//! copies of this binary (libtest-mimic lets them take their role first).
#![allow(missing_docs)]

#[path = "../examples/shared/gallery.rs"]
mod gallery;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gallery::{checksum, inspect, pattern, Gallery, GalleryProxy, Inspected, MainGallery};
use remote::{Client, Server, SharedBuffer};

const BOUND: Duration = Duration::from_secs(20);
const ROLE: &str = "REMOTE_SHARED_TEST_ROLE";
const IMAGE: usize = 8 << 20;

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match role.as_str() {
            "renderer" => renderer(&args[0]),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let mut args = libtest_mimic::Arguments::from_args();
    // The tests count this process's descriptors and mappings: one at a time.
    args.test_threads = Some(1);
    let tests = vec![
        libtest_mimic::Trial::test("a_shared_buffer_crosses_every_transport", || {
            a_shared_buffer_crosses_every_transport();
            Ok(())
        }),
        libtest_mimic::Trial::test(
            "a_renderer_killed_with_buffers_in_flight_leaves_no_descriptor_or_mapping",
            || {
                a_renderer_killed_with_buffers_in_flight_leaves_no_descriptor_or_mapping();
                Ok(())
            },
        ),
        libtest_mimic::Trial::test(
            "descriptors_nobody_asked_for_close_only_that_connection",
            || {
                descriptors_nobody_asked_for_close_only_that_connection();
                Ok(())
            },
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}

/// Child role: takes shared images from the gallery at `path` and holds
/// them, then sends images of its own as fast as it can, printing once it
/// has; the parent kills it meanwhile.
fn renderer(path: &str) {
    let client = Client::connect_unix(path).expect("connect");
    let gallery: GalleryProxy = client.require("gallery").expect("require");
    let held: Vec<SharedBuffer> = (0..16)
        .map(|_| gallery.image_shared().expect("image"))
        .collect();
    assert!(held.iter().all(SharedBuffer::is_shared_memory));
    let sent = SharedBuffer::new(&pattern(1 << 20, 2));
    let mine = inspect(&sent);
    let mut n = 0u64;
    loop {
        assert_eq!(gallery.inspect(sent.clone()).expect("inspect"), mine);
        // A fresh buffer each time too: new memory in flight.
        let fresh = SharedBuffer::new(&pattern(256 << 10, n));
        assert_eq!(
            gallery.inspect(fresh.clone()).expect("inspect"),
            inspect(&fresh)
        );
        n += 1;
        if n == 8 {
            println!("holding {} sending", held.len());
            std::io::stdout().flush().expect("stdout");
        }
    }
}

fn gallery_server() -> (Server, Arc<MainGallery>) {
    let gallery = Arc::new(MainGallery::new(IMAGE));
    let server = Server::new();
    server.export("gallery", gallery.clone() as Arc<dyn Gallery>);
    (server, gallery)
}

fn a_shared_buffer_crosses_every_transport() {
    let (server, main) = gallery_server();
    let expected = inspect(&main.image);
    assert!(main.image.is_shared_memory(), "made as sealed memory");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sock");
    let _unix = server.listen_unix(&path).unwrap();
    let tcp = server.listen_tcp("127.0.0.1:0").unwrap();
    let clients = [
        ("in-process", Client::in_process(&server).unwrap()),
        ("unix", Client::connect_unix(&path).unwrap()),
        (
            "tcp",
            Client::connect_tcp(tcp.local_addr().unwrap()).unwrap(),
        ),
    ];
    for (name, client) in clients {
        let gallery: GalleryProxy = client.require("gallery").unwrap();
        let image = gallery.image_shared().unwrap();
        assert_eq!(inspect(&image).checksum, expected.checksum, "{name}");
        assert_eq!(image.len(), IMAGE, "{name}");
        match name {
            // The same allocation: no copy at all.
            "in-process" => assert!(SharedBuffer::ptr_eq(&image, &main.image)),
            // The same memory, mapped here.
            "unix" => assert!(image.is_shared_memory()),
            // A copy, read into memory of our own.
            _ => assert!(!image.is_shared_memory()),
        }
        // The other way, and next to a plain byte copy.
        let back = gallery.inspect(image.clone()).unwrap();
        assert_eq!(back.checksum, expected.checksum, "{name}");
        assert_eq!(back.shared_memory, name != "tcp", "{name}");
        assert_eq!(checksum(&gallery.image_bytes().unwrap()), expected.checksum);
        // Small and empty buffers, and many in one call's arguments.
        for len in [0usize, 1, 4095, 70_000] {
            let small = SharedBuffer::new(&pattern(len, 9));
            assert_eq!(
                gallery.inspect(small.clone()).unwrap().checksum,
                checksum(&small)
            );
        }
        // Many at once. Over TCP each is a copy of 8 MiB queued for the
        // peer, and the queue's bound (128 MiB) would cut it off past 16.
        let at_once = if name == "tcp" { 8 } else { 100 };
        let async_gallery = gallery.to_async();
        let many = futures::executor::block_on(futures::future::join_all(
            (0..at_once).map(|_| async_gallery.image_shared()),
        ));
        for image in many {
            assert_eq!(image.expect(name).len(), IMAGE, "{name}");
        }
    }
}

/// What this process's descriptors point at, for failure messages.
fn fd_targets() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.display().to_string())
        .collect()
}

/// This process's open descriptors, and its mappings of shared buffers.
fn fds_and_mappings() -> (usize, usize) {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mappings = maps
        .lines()
        .filter(|l| l.contains("remote-shared-buffer"))
        .count();
    (fds, mappings)
}

fn a_renderer_killed_with_buffers_in_flight_leaves_no_descriptor_or_mapping() {
    let (server, _main) = gallery_server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sock");
    let _listener = server.listen_unix(&path).unwrap();
    let baseline = fds_and_mappings();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(ROLE, "renderer")
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("a line").expect("utf-8");
        assert_eq!(line, "holding 16 sending", "round {round}");
        // Our end of its stdout is not the library's to close.
        drop(lines);
        // Mid-stream: buffers it sent are being inspected here, and it holds
        // sixteen of ours.
        child.kill().unwrap();
        child.wait().unwrap();
        let start = Instant::now();
        loop {
            let now = fds_and_mappings();
            if server.stats().connections == 0 && now == baseline {
                break;
            }
            assert!(
                start.elapsed() < BOUND,
                "round {round}: descriptors and mappings {now:?}, at the start {baseline:?}, {} connections; open: {:?}",
                server.stats().connections,
                fd_targets()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Sends `bytes` on `stream` with `fds` as `SCM_RIGHTS`.
fn send_with_fds(stream: &UnixStream, bytes: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    let sent = rustix::net::sendmsg(
        stream,
        &[std::io::IoSlice::new(bytes)],
        &mut control,
        SendFlags::empty(),
    )
    .unwrap();
    assert_eq!(sent, bytes.len());
}

/// A call frame (from `testing`) announcing one shared buffer of `len`
/// bytes, passed as a descriptor.
fn with_passed_blob(frame: &[u8], len: u64) -> Vec<u8> {
    let mut out = frame.to_vec();
    out.extend_from_slice(&(len | 1 << 63).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let prefix = (out.len() - 4) as u32 | 1 << 31;
    out[..4].copy_from_slice(&prefix.to_le_bytes());
    out
}

/// Whether the server closed `stream` (EOF within the bound).
fn closed_by_server(stream: &mut UnixStream) -> bool {
    stream.set_read_timeout(Some(BOUND)).unwrap();
    loop {
        match remote::testing::read_frame(stream) {
            Ok(_) => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::UnexpectedEof,
        }
    }
}

fn descriptors_nobody_asked_for_close_only_that_connection() {
    use rustix::fs::{MemfdFlags, SealFlags};
    use std::os::fd::AsFd;
    let (server, main) = gallery_server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gallery.sock");
    let _listener = server.listen_unix(&path).unwrap();
    let good = Client::connect_unix(&path).unwrap();
    let good: GalleryProxy = good.require("gallery").unwrap();
    let baseline = fds_and_mappings();
    let fingerprint = <dyn Gallery as remote::__private::Interface>::FINGERPRINT;
    let connect = || {
        let mut stream = UnixStream::connect(&path).unwrap();
        stream
            .write_all(&remote::testing::hello_frame(30_000))
            .unwrap();
        stream
            .write_all(&remote::testing::require_frame(
                1,
                "gallery",
                "Gallery",
                fingerprint,
            ))
            .unwrap();
        stream.set_read_timeout(Some(BOUND)).unwrap();
        let reply = loop {
            let frame = remote::testing::read_frame(&mut stream).unwrap();
            if let Some(reply) = remote::testing::parse_reply(frame) {
                break reply;
            }
        };
        (stream, reply.handles[0])
    };
    let memfd = |len: usize, seals: SealFlags| {
        let fd =
            rustix::fs::memfd_create("hostile", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
                .unwrap();
        rustix::fs::ftruncate(&fd, len as u64).unwrap();
        if !seals.is_empty() {
            rustix::fs::fcntl_add_seals(&fd, seals).unwrap();
        }
        fd
    };
    const INSPECT: u32 = remote::testing::method_id("inspect");
    const IMAGE_SHARED: u32 = remote::testing::method_id("image_shared");
    let sealed = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;

    // A descriptor with a frame that names none. (Each case in a block:
    // its stream and memfd, ours, close at its end.)
    {
        let (mut stream, gallery) = connect();
        let call = remote::testing::call_frame(
            5,
            gallery,
            IMAGE_SHARED,
            &remote::testing::encode_value(&()),
        );
        let stray = memfd(4096, sealed);
        send_with_fds(&stream, &call, &[stray.as_fd()]);
        assert!(
            closed_by_server(&mut stream),
            "an unasked descriptor was kept"
        );
    }

    // Memory that is not sealed against writes, announced as a buffer:
    // the sender could change it under the receiver.
    for (what, seals, len) in [
        ("unsealed", SealFlags::empty(), 4096u64),
        ("sealed but shorter than announced", sealed, 1 << 20),
    ] {
        let (mut stream, gallery) = connect();
        let call = remote::testing::call_frame(
            6,
            gallery,
            INSPECT,
            &remote::testing::encode_value(&(1u32, 0u32)),
        );
        let fd = memfd(4096, seals);
        send_with_fds(&stream, &with_passed_blob(&call, len), &[fd.as_fd()]);
        assert!(
            closed_by_server(&mut stream),
            "{what}: connection not closed"
        );
    }

    // A buffer announced with no descriptor at all.
    {
        let (mut stream, gallery) = connect();
        let call = remote::testing::call_frame(
            7,
            gallery,
            INSPECT,
            &remote::testing::encode_value(&(1u32, 0u32)),
        );
        stream.write_all(&with_passed_blob(&call, 4096)).unwrap();
        assert!(
            closed_by_server(&mut stream),
            "a buffer without its descriptor"
        );
    }

    // Everyone else is served, and nothing the hostile peers sent stays open.
    assert_eq!(
        good.inspect(main.image.clone()).unwrap(),
        inspect(&main.image)
    );
    let start = Instant::now();
    while server.stats().connections != 1 || fds_and_mappings() != baseline {
        assert!(
            start.elapsed() < BOUND,
            "left behind: {:?} vs {baseline:?}, {} connections",
            fds_and_mappings(),
            server.stats().connections
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let _: Inspected = good.inspect(SharedBuffer::new(b"still fine")).unwrap();
}
