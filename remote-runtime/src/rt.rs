//! The runtime connections and `async fn` methods run on: the one given
//! in the options, the ambient multi-thread runtime, or a small one of the
//! library's own, started on first use.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::options::Options;
use crate::RemoteError;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Worker threads of the library's own runtime: they only move frames and
/// poll `async fn` methods, so two are plenty.
pub(crate) const OWN_WORKERS: usize = 2;

/// The most threads the library's own runtime runs plain methods and
/// callbacks on at once (threads exist only while calls run; idle ones
/// exit after ten seconds).
pub(crate) const OWN_SERVING_THREADS: usize = 256;

fn own_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(OWN_WORKERS)
                .max_blocking_threads(OWN_SERVING_THREADS)
                .thread_name("remote-rt")
                .enable_all()
                .build()
                .inspect_err(|e| tracing::error!(error = %e, "could not start the runtime"))
                .ok()
        })
        .as_ref()
}

/// The runtime a new connection runs on: `Options::runtime`, else the
/// ambient runtime when it is a multi-thread one, else the library's own.
/// (A current-thread runtime is only used when given explicitly: a
/// blocking proxy called on its thread would stop its connections.)
pub(crate) fn handle(options: &Options) -> Result<Handle, RemoteError> {
    if let Some(handle) = &options.runtime {
        return Ok(handle.clone());
    }
    if let Ok(handle) = Handle::try_current() {
        if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            return Ok(handle);
        }
    }
    own_runtime()
        .map(|rt| rt.handle().clone())
        .ok_or_else(|| RemoteError::Io("could not start the runtime (threads)".into()))
}

/// Runs `task` on `handle`; returns a handle that aborts it.
pub(crate) fn spawn(handle: &Handle, task: Task) -> tokio::task::AbortHandle {
    handle.spawn(task).abort_handle()
}

/// Runs `job`, which may block, on `handle`'s blocking pool.
pub(crate) fn spawn_blocking(handle: &Handle, job: impl FnOnce() + Send + 'static) {
    drop(handle.spawn_blocking(job));
}

/// Runs a future to completion on this thread (a local object's async
/// method called through a blocking proxy), inside the async runtime's
/// context so its timers and sockets work.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let _context = own_runtime().map(tokio::runtime::Runtime::enter);
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(value) => return value,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Polls a future and turns a panic into an error, as the synchronous path
/// does with `catch_unwind`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Runs `future` on `handle` and blocks this thread until it is done.
#[cfg(feature = "tls")]
pub(crate) fn run<T: Send + 'static>(
    handle: &Handle,
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T, RemoteError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(future.await);
    });
    crate::driver::blocking::wait(|| rx.recv()).map_err(|_| RemoteError::Disconnected)
}
