//! Synchronous calls nested across a connection: each level that blocks on
//! the other side keeps one thread busy there, so the depth is bounded by
//! `Options::max_busy_threads`, and past it the call fails with
//! `LimitExceeded` instead of hanging or growing threads without bound.
//! Run on every transport.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use common::*;
use remote::{remote_object, Options, Remote, RemoteError, Server};

/// Bounces a call between the two sides `n` times, each bounce a nested
/// blocking call into the other side.
#[remote_object]
pub trait Bouncer: Send + Sync {
    fn bounce(
        &self,
        n: u32,
        me: Remote<dyn Bouncer>,
        other: Remote<dyn Bouncer>,
    ) -> Result<u32, RemoteError>;
}

struct Side;

impl Bouncer for Side {
    fn bounce(
        &self,
        n: u32,
        me: Remote<dyn Bouncer>,
        other: Remote<dyn Bouncer>,
    ) -> Result<u32, RemoteError> {
        if n == 0 {
            return Ok(0);
        }
        // On the other side the roles swap. An error from deeper down comes
        // back as this one's.
        let deeper = other.clone().into_proxy().bounce(n - 1, other, me);
        Ok(deeper.and_then(|inner| inner)? + 1)
    }
}

fn pair<T: Transport>(
    server_options: Options,
    client_options: Options,
) -> (Server, BouncerProxy, Remote<dyn Bouncer>) {
    let server = Server::with_options(server_options);
    server.export("bouncer", Arc::new(Side) as Arc<dyn Bouncer>);
    let client = T::connect_with(&server, client_options);
    let remote: BouncerProxy = client.require("bouncer").unwrap();
    let mine = Remote::<dyn Bouncer>::new(Side);
    (server, remote, mine)
}

macro_rules! nesting_tests {
    ($module:ident, $transport:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn calls_nest_across_the_connection_within_the_bound() {
                let (_server, remote, mine) = pair::<$transport>(Options::new(), Options::new());
                let theirs = remote::Proxy::as_remote(&remote).clone();
                assert_eq!(remote.bounce(40, theirs, mine), Ok(Ok(40)));
            }

            #[test]
            fn nesting_past_the_bound_is_refused_not_hung() {
                let limited = || Options::new().max_busy_threads(8);
                let (_server, remote, mine) = pair::<$transport>(limited(), limited());
                let theirs = remote::Proxy::as_remote(&remote).clone();
                let outcome = remote.bounce(200, theirs.clone(), mine.clone());
                let refused = matches!(
                    outcome,
                    Err(RemoteError::LimitExceeded { .. })
                        | Ok(Err(RemoteError::LimitExceeded { .. }))
                );
                assert!(refused, "{outcome:?}");
                // Both sides let go of the threads (each exits once its
                // reply is out) and serve on.
                eventually("nested calls work again", || {
                    remote.bounce(4, theirs.clone(), mine.clone()) == Ok(Ok(4))
                });
            }
        }
    };
}

nesting_tests!(in_process, InProcess);
nesting_tests!(unix, Unix);
nesting_tests!(tcp, Tcp);
#[cfg(feature = "tls")]
nesting_tests!(tls, Tls);
nesting_tests!(duplex, Duplex);
