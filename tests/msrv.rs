//! The declared MSRV (`rust-version` in Cargo.toml) holds for what a user
//! builds: no crate `remote` depends on, with any of its features, declares
//! a newer `rust-version`.
//!
//! This is the part of an MSRV job that runs here: CI machines have one
//! toolchain and cannot install another, so building with 1.86 itself is
//! not possible. The other part is clippy's `incompatible_msrv` lint (on by
//! default, `-D warnings` in CI), which reads the same `rust-version` and
//! refuses standard-library APIs stabilised after it.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn no_dependency_needs_a_newer_rust_than_the_declared_msrv() {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");

    let packages: BTreeMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let root = packages
        .values()
        .find(|p| p["name"] == "remote")
        .expect("the remote package");
    let msrv = version(
        root["rust_version"]
            .as_str()
            .expect("remote declares rust-version"),
    );

    // Walk the normal and build dependencies of `remote`, not its
    // dev-dependencies (benchmarks and tests may need more).
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let mut seen = BTreeSet::new();
    let mut todo = vec![root["id"].as_str().unwrap()];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let used = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if used {
                todo.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    assert!(
        seen.len() > 10,
        "the walk found the dependency tree: {seen:?}"
    );

    let newer: Vec<String> = seen
        .iter()
        .filter_map(|id| {
            let p = packages[id];
            let needs = p["rust_version"].as_str()?;
            (version(needs) > msrv).then(|| format!("{} {} needs {needs}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        newer.is_empty(),
        "the declared rust-version is {msrv:?}, but: {newer:#?}"
    );
}
