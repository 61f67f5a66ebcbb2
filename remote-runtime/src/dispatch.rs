//! The server side of a call: a type-erased object that decodes a call,
//! invokes the method on the local object and encodes the reply. The
//! `#[remote_object]` macro implements [`Dispatch`] for each trait.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};

use crate::context::{self, Cap, Encoded};
use crate::session::Session;
use crate::RemoteError;

/// A local object that can serve calls. Implemented by the generated
/// `{Trait}Dispatcher`; not meant to be implemented by hand.
pub trait Dispatch: Send + Sync + 'static {
    /// The trait's name, for errors and diagnostics.
    fn interface_name(&self) -> &'static str;
    /// The trait's signature fingerprint.
    fn fingerprint(&self) -> u64;
    /// Address of the object's data: its identity.
    fn object_addr(&self) -> usize;
    /// The name of method `index`, if it exists.
    fn method_name(&self, index: u32) -> Option<&'static str>;
    /// Serves one call: reads the arguments from `call`, invokes the method,
    /// and hands the return value to [`Call::reply`].
    fn dispatch(&self, method: u32, call: &mut Call<'_>) -> Result<(), RemoteError>;
    /// For recovering the typed object when a handle comes back to its owner.
    fn as_any(&self) -> &dyn Any;
    /// True for callbacks: their calls run one at a time, in arrival order.
    fn ordered(&self) -> bool {
        false
    }
    /// True when method `index` is an `async fn`: its call makes a future
    /// (no user code runs) and the future runs as a task, so it needs no
    /// thread of the blocking pool.
    fn runs_async(&self, index: u32) -> bool {
        let _ = index;
        false
    }
    /// The object's property snapshot, encoded, when its trait has
    /// properties. Evaluated when a handle first crosses a connection.
    fn snapshot(&self) -> Option<Result<Vec<u8>, RemoteError>> {
        None
    }
}

/// Takes an object's property snapshot; a getter that panics is reported
/// as [`RemoteError::Panic`] instead of unwinding into the runtime.
pub(crate) fn take_snapshot(object: &dyn Dispatch) -> Option<Result<Vec<u8>, RemoteError>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| object.snapshot())).unwrap_or_else(
        |panic| {
            Some(Err(RemoteError::Panic {
                method: format!("{}::properties", object.interface_name()),
                message: panic_message(&*panic),
            }))
        },
    )
}

/// The method index that asks an object for a fresh property snapshot.
pub const SNAPSHOT_METHOD: u32 = u32::MAX;

/// Encodes a property snapshot (plain data only); used by generated code.
#[doc(hidden)]
pub fn encode_snapshot<P: Serialize>(props: &P) -> Result<Vec<u8>, RemoteError> {
    context::encode_plain(props)
}

/// Encodes a finished async method's value for its connection.
pub(crate) type EncodeLater =
    Box<dyn FnOnce(&Arc<Session>, u32) -> Result<Encoded, RemoteError> + Send>;

/// An async method's running future, producing its encoder.
pub(crate) type Deferred = Pin<Box<dyn Future<Output = EncodeLater> + Send>>;

/// One incoming call, as seen by a dispatcher.
pub struct Call<'a> {
    pub(crate) session: &'a Arc<Session>,
    pub(crate) payload: &'a [u8],
    pub(crate) caps: Vec<Cap>,
    pub(crate) blobs: Vec<crate::wire::Blob>,
    pub(crate) site: u32,
    pub(crate) reply: Option<Encoded>,
    pub(crate) deferred: Option<Deferred>,
}

impl Call<'_> {
    /// Decodes the argument tuple.
    pub fn args<A: DeserializeOwned>(&mut self) -> Result<A, RemoteError> {
        context::decode(
            std::mem::take(&mut self.caps),
            std::mem::take(&mut self.blobs),
            self.payload,
            &self.session.options,
        )
    }

    /// Encodes the return value.
    pub fn reply<R: Serialize + ?Sized>(&mut self, value: &R) -> Result<(), RemoteError> {
        self.reply = Some(context::encode(self.session, value, self.site)?);
        Ok(())
    }

    /// Replies with the value of `future` once it completes (an `async fn`
    /// method): it runs on the async runtime, and the connection goes on
    /// serving meanwhile.
    pub fn reply_later<F, R>(&mut self, future: F)
    where
        F: Future<Output = R> + Send + 'static,
        R: Serialize + Send + 'static,
    {
        self.deferred = Some(Box::pin(async move {
            let value = future.await;
            Box::new(move |session: &Arc<Session>, site: u32| {
                context::encode(session, &value, site)
            }) as EncodeLater
        }));
    }
}

/// Turns a caught panic payload into its message.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic payload that is not a string)".to_string()
    }
}

impl crate::protocol::Exported for Arc<dyn Dispatch> {
    fn key(&self) -> crate::protocol::exports::ObjKey {
        crate::protocol::exports::ObjKey {
            addr: self.object_addr(),
            fingerprint: self.fingerprint(),
        }
    }
    fn interface_name(&self) -> &'static str {
        Dispatch::interface_name(&**self)
    }
    fn ordered(&self) -> bool {
        Dispatch::ordered(&**self)
    }
}
