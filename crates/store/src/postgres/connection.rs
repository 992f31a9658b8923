//! One connection to PostgreSQL, usable from synchronous code on any thread.
//!
//! The store's trait is synchronous and is called from tokio tasks as well as
//! from plain threads. tokio-postgres splits a connection in two: the socket
//! (`Connection`), which needs a tokio reactor, and the `Client`, whose
//! futures only exchange messages with it. So the socket runs on a small
//! runtime that the store owns (one worker thread), and each call waits for
//! its client future with `futures::executor::block_on` on the caller's
//! thread: that never nests a tokio runtime (which would panic), and inside a
//! multi-threaded runtime the wait is wrapped in `block_in_place`, so the
//! worker's other tasks move elsewhere while this one waits on the network.

use compliance_retry::RetryPolicy;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio_postgres::{Client, Config, NoTls};

/// How long one attempt to connect may take, when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How connecting is retried before the server counts as unreachable: a
/// restart of PostgreSQL is survived, a server that is not there is reported
/// within seconds.
const CONNECT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(2),
    max_elapsed: Duration::from_secs(8),
};

/// A connected client and the runtime that drives its socket.
pub(crate) struct Connection {
    client: Client,
    // Declared last: dropped after the client.
    _runtime: SocketRuntime,
}

/// The runtime that drives the socket. Dropping a runtime blocks, which
/// panics inside async code; ending it in the background does not.
struct SocketRuntime(Option<Runtime>);

impl Drop for SocketRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Connection {
    /// Connects to the server `config` names, retrying what may pass (a
    /// refused or reset socket, a timeout) by `CONNECT_RETRY`. An answer from
    /// the server (a wrong password, a missing database) is not retried.
    pub(crate) fn open(config: &Config) -> Result<Connection, tokio_postgres::Error> {
        let mut config = config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let runtime = SocketRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("state-store-postgres")
                .enable_all()
                .build()
                .expect("cannot start the state store's runtime thread"),
        ));
        let handle = runtime.0.as_ref().expect("just built").handle().clone();
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let connecting = handle.spawn(connect(config.clone()));
            match wait(connecting).expect("the state store's connect task panicked") {
                Ok(client) => {
                    return Ok(Connection {
                        client,
                        _runtime: runtime,
                    })
                }
                Err(e) if e.as_db_error().is_some() => return Err(e),
                Err(e) => match CONNECT_RETRY.next_wait(attempt, started.elapsed(), None) {
                    Some(pause) => std::thread::sleep(pause),
                    None => return Err(e),
                },
            }
        }
    }

    /// Whether the server closed the connection (a restart, a network cut).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Runs `work` with the client, waiting for it on this thread.
    pub(crate) fn run<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, tokio_postgres::Error> {
        wait(work(&mut self.client))
    }
}

async fn connect(config: Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    // Ends when the client is dropped or the server goes away; the client
    // then reports itself closed (its next call fails with "connection
    // closed", naming the store) and the store reconnects.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // A worker stopped (SIGSTOP, a stall) inside a transaction would hold
    // its locks, the lease row's included, until it resumed, and no other
    // worker could take its lease over: the server ends such a session
    // instead, and the transaction rolls back. Our transactions never wait
    // on anything but the server, so 5 s idle means a stalled client.
    client
        .batch_execute("SET idle_in_transaction_session_timeout = '5s'")
        .await?;
    Ok(client)
}

/// Waits for `future` on this thread without nesting a tokio runtime.
fn wait<F: Future>(future: F) -> F::Output {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => {
            tokio::task::block_in_place(|| futures::executor::block_on(future))
        }
        _ => futures::executor::block_on(future),
    }
}
