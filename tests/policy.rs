//! The module list under an access policy: it lists exactly the modules the
//! policy lets the connection require, under any policy, and the library's
//! reserved global names cannot be replaced or removed.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use common::{Calc, Calculator, CalculatorProxy};
use remote::{Access, Client, RemoteError, Server};

#[test]
fn module_names_work_under_an_allow_list() {
    let server = Server::new();
    server.export_module("app", Calc::new().0 as Arc<dyn Calculator>);
    server.export_module("secret", Calc::new().0 as Arc<dyn Calculator>);
    // The allow-list of `set_access_policy`'s documentation: it names no
    // reserved global.
    server.set_access_policy(|_, access| {
        matches!(access, Access::Export("app") | Access::Global("process"))
    });
    let client = Client::in_process(&server).unwrap();
    assert_eq!(client.module_names().unwrap(), vec!["app".to_string()]);
    let app: CalculatorProxy = client.module("app").unwrap();
    assert_eq!(app.add(1, 2).unwrap(), 3);
    assert!(matches!(
        client.module::<CalculatorProxy>("secret"),
        Err(RemoteError::Denied { .. })
    ));
    assert!(client.process().is_ok());
}

#[test]
fn reserved_global_names_stay_the_librarys() {
    let server = Server::new();
    server.export_module("app", Calc::new().0 as Arc<dyn Calculator>);
    server.set_global("remote:modules", vec!["forged".to_string()]);
    assert!(!server.remove_global("remote:modules"));
    let client = Client::in_process(&server).unwrap();
    assert_eq!(client.module_names().unwrap(), vec!["app".to_string()]);
}
