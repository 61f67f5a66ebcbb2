//! The frame decoder on arbitrary bytes: `remote::testing::fuzz_frame` feeds
//! them to the header decoder exactly as a reader would (the bytes after the
//! length prefix). It must never panic, whatever arrives.
//!
//! The payload decoder the server uses (with depth and collection limits) is
//! not public; the dispatcher target reaches it through real calls. Here the
//! payload of anything that parses as a reply is also decoded as a few value
//! types through `RawReply`, the public (unlimited) decoder, for its own sake.
//! Only non-recursive types are used: an unlimited decoder on an unbounded
//! recursive type would overflow the stack by design, which is what the
//! limited decoder is for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote::testing;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
    label: String,
    tags: Vec<u16>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Inner {
    A,
    B(u8),
    C { s: String, v: Vec<u64> },
}

#[derive(Debug, Serialize, Deserialize)]
enum Outer {
    Leaf(i64),
    Wrap(Inner),
    Pair(Option<Inner>, Vec<Point>),
}

fuzz_target!(|data: &[u8]| {
    let parsed = testing::fuzz_frame(data);

    if let Some(reply) = testing::parse_reply(data.to_vec()) {
        // A reply is a header that parsed.
        assert!(parsed, "parse_reply accepted what fuzz_frame refused");
        let _ = reply.error();
        let _ = reply.value::<(i64, String)>();
        let _ = reply.value::<Vec<u8>>();
        let _ = reply.value::<Option<Point>>();
        let _ = reply.value::<Outer>();
        let _ = reply.value::<(u8, bool, char, f64, Option<Vec<String>>)>();
    }

    // The same bytes as a payload, both as a value and as an error.
    for ok in [true, false] {
        let reply = testing::RawReply {
            id: 0,
            ok,
            handles: Vec::new(),
            payload: data.to_vec(),
        };
        let _ = reply.error();
        let _ = reply.value::<(i64, String)>();
        let _ = reply.value::<Vec<u8>>();
        let _ = reply.value::<Option<Point>>();
        let _ = reply.value::<Outer>();
    }
});
