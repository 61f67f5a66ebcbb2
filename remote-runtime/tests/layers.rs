//! The layers of the runtime import one way: `wire` (frames, codec) ←
//! `protocol` (the sans-I/O core) ← the driver (`driver/`, `transport/`,
//! `rt.rs`: connection tasks, transports, the runtime) ← the API (sessions,
//! clients, servers, proxies). A lower layer that names a higher one fails
//! here, with the file and the name.
//!
//! Leaves that serve everyone (`error`, `clock`, `replies`) name nothing of
//! the crate but the error type.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each checked layer: its files (relative to `src/`) and the top-level
/// modules of the crate it may name.
const LAYERS: &[(&str, &[&str])] = &[
    ("error.rs", &[]),
    ("clock.rs", &[]),
    ("replies.rs", &[]),
    ("wire", &["wire", "RemoteError", "error"]),
    ("protocol", &["protocol", "wire", "RemoteError", "error"]),
    ("observe.rs", &["wire", "RemoteError", "error"]),
    ("options.rs", &["wire", "observe", "DEFAULT_MAX_FRAME"]),
    // The driver: connection tasks, transports, the runtime. It feeds the
    // session through `driver::Peer` and never names it.
    ("driver", DRIVER),
    ("transport", DRIVER),
    ("rt.rs", DRIVER),
];

/// What the driver's files may name.
const DRIVER: &[&str] = &[
    "driver",
    "transport",
    "rt",
    "options",
    "protocol",
    "wire",
    "clock",
    "RemoteError",
    "error",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The top-level crate modules a source file names in code (comments are
/// skipped, so doc links do not count).
fn named_modules(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at its top-level commas.
            let mut depth = 0;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            items.push(item);
            for item in items {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn lower_layers_never_name_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    let mut checked = 0;
    for (layer, allowed) in LAYERS {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "layer {layer} has no files");
        for file in files {
            checked += 1;
            let source = std::fs::read_to_string(&file).unwrap();
            for name in named_modules(&source) {
                if !allowed.contains(&name.as_str()) {
                    broken.push(format!(
                        "{} names crate::{name}, above its layer ({layer})",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(checked >= 8, "only {checked} files checked");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_scanner_sees_plain_and_grouped_imports_but_not_comments() {
    let names = named_modules(
        "use crate::{wire::{self, Header}, session::Session};\n\
         // crate::server in a comment\n\
         let x = crate::clock::now_ms();",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["clock", "session", "wire"]
    );
}
