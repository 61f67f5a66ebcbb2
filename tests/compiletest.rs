//! Compile-time behaviour of `#[remote_object]`: every unsupported shape is
//! rejected with an error on the offending tokens (`tests/ui/fail`), and the
//! supported shapes compile and run (`tests/ui/pass`).
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test --test compiletest`, then read the diff.
#![allow(missing_docs)]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
