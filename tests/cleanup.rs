//! The tests' temp dirs go when their guard drops, also when the test body
//! panics: nothing is left in the system temp dir.
#![allow(missing_docs)]

mod common;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use common::*;
use remote::{Client, Server};

#[test]
fn a_panicking_test_leaves_no_temp_dir_behind() {
    let (calc, _dropped) = Calc::new();
    let server = Server::new();
    server.export("calculator", calc as Arc<dyn Calculator>);
    let mut made = None;
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        // As the tests do it: the guard first, so it drops last.
        let dir = tempdir();
        let path = dir.path().join("server.sock");
        let _listener = server.listen_unix(&path).unwrap();
        let client = Client::connect_unix(&path).unwrap();
        let calc: CalculatorProxy = client.require("calculator").unwrap();
        assert_eq!(calc.add(1, 2).unwrap(), 3);
        assert!(path.exists(), "the socket file is in the temp dir");
        made = Some((dir.path().to_owned(), path.clone()));
        panic!("a test body failing (expected by this test)");
    }));
    assert!(outcome.is_err(), "the body panicked");
    let (dir, path) = made.expect("the body got as far as the panic");
    assert!(!path.exists(), "{} left behind", path.display());
    assert!(!dir.exists(), "{} left behind", dir.display());
}
