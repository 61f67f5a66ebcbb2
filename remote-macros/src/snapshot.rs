//! Expansion snapshots: each `tests/expand/NAME.rs` at the workspace root holds
//! one annotated trait; its expansion, pretty-printed, must equal the checked-in
//! `tests/expand/NAME.expanded.rs`. Run with `REMOTE_EXPAND=overwrite` to
//! refresh them after a deliberate change, then review the diff.

use std::path::{Path, PathBuf};

use quote::ToTokens;

fn expand_file(source: &str) -> String {
    let file: syn::File = syn::parse_str(source).expect("snapshot input parses");
    let mut out = Vec::new();
    for item in file.items {
        let syn::Item::Trait(mut item) = item else {
            out.push(item.to_token_stream());
            continue;
        };
        let pos = item
            .attrs
            .iter()
            .position(|a| a.path().is_ident("remote_object"))
            .expect("snapshot trait carries #[remote_object]");
        let attr = item.attrs.remove(pos);
        let args = match attr.meta {
            syn::Meta::List(list) => list.tokens,
            _ => proc_macro2::TokenStream::new(),
        };
        out.push(crate::expand::expand(args, item.to_token_stream()));
    }
    let tokens: proc_macro2::TokenStream = out.into_iter().collect();
    let expanded: syn::File = syn::parse2(tokens).expect("expansion parses as a file");
    prettyplease::unparse(&expanded)
}

fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/expand");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "rs")
                && !p.to_string_lossy().ends_with(".expanded.rs")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn expansions_match_their_snapshots() {
    let overwrite = std::env::var("REMOTE_EXPAND").is_ok_and(|v| v == "overwrite");
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no snapshot inputs found");
    let mut stale = Vec::new();
    for input in inputs {
        let source = std::fs::read_to_string(&input).expect("read input");
        let actual = expand_file(&source);
        let snapshot = input.with_extension("expanded.rs");
        if overwrite {
            std::fs::write(&snapshot, &actual).expect("write snapshot");
            continue;
        }
        match std::fs::read_to_string(&snapshot) {
            Ok(expected) if expected == actual => {}
            _ => stale.push(snapshot.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "expansion changed for {stale:?}; review with REMOTE_EXPAND=overwrite cargo test -p remote-macros and `git diff`"
    );
}
