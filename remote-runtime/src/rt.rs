//! Where `async fn` methods run: the runtime given in the options, or a
//! small one of the library's own, started on first use.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

fn own_runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                // Writers to peers whose sockets are full: one per stalled
                // connection at most, and never more than this.
                .max_blocking_threads(64)
                .thread_name("remote-async")
                .enable_all()
                .build()
                .inspect_err(|e| tracing::error!(error = %e, "could not start the async runtime"))
                .ok()
        })
        .as_ref()
}

/// Runs `task` on `handle`, or on the library's own runtime; returns a
/// handle that aborts it, or the task itself when there is no runtime (for
/// the caller to drop where it is safe to).
pub(crate) fn spawn(
    handle: Option<&tokio::runtime::Handle>,
    task: Task,
) -> Result<tokio::task::AbortHandle, Task> {
    match handle {
        Some(handle) => Ok(handle.spawn(task).abort_handle()),
        None => match own_runtime() {
            Some(rt) => Ok(rt.spawn(task).abort_handle()),
            None => {
                tracing::error!("no async runtime: an async method's call is dropped");
                Err(task)
            }
        },
    }
}

/// Runs `job`, which may block, on `handle`'s blocking pool or the
/// library's own; on this thread when there is no runtime at all.
pub(crate) fn spawn_blocking(
    handle: Option<&tokio::runtime::Handle>,
    job: impl FnOnce() + Send + 'static,
) {
    match handle {
        Some(handle) => drop(handle.spawn_blocking(job)),
        None => match own_runtime() {
            Some(rt) => drop(rt.spawn_blocking(job)),
            None => job(),
        },
    }
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
