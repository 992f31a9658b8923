//! Async clients used from synchronous code on any thread: the state
//! store's PostgreSQL connection, and the stream sink's JetStream one (both
//! are called from tokio tasks as well as from plain threads).
//!
//! A client's connection runs as a task on a small runtime of its own (one
//! worker thread), and each call waits for its work with [`wait`]: with
//! `block_in_place` inside a multi-threaded runtime (that worker's other
//! tasks move elsewhere meanwhile), with a plain `block_on` elsewhere. That
//! never nests a tokio runtime, which would panic.

use std::future::Future;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// A runtime of one worker thread for a connection. Dropping a runtime
/// blocks, which panics inside async code; this one ends in the background.
pub struct OwnRuntime(Option<Runtime>);

impl OwnRuntime {
    /// Starts the runtime; its thread is called `name`.
    pub fn start(name: &str) -> OwnRuntime {
        OwnRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(name)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the {name} runtime thread: {e}")),
        ))
    }

    /// Where to spawn the connection's tasks.
    pub fn handle(&self) -> Handle {
        self.0
            .as_ref()
            .expect("running until dropped")
            .handle()
            .clone()
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Waits for `future` on this thread without nesting a tokio runtime.
pub fn wait<F: Future>(future: F) -> F::Output {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| futures::executor::block_on(future))
        }
        _ => futures::executor::block_on(future),
    }
}
