//! One connection to PostgreSQL, usable from synchronous code on any thread.
//!
//! The store's trait is synchronous. tokio-postgres splits a connection in
//! two: the socket (`Connection`), which needs a tokio reactor, and the
//! `Client`, whose futures only exchange messages with it. So the socket
//! runs on a runtime the store owns, and each call waits for its client
//! future on the caller's thread (see `crate::blocking`).

use crate::blocking::{wait, OwnRuntime};
use compliance_retry::RetryPolicy;
use std::time::{Duration, Instant};
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
    _runtime: OwnRuntime,
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
        let runtime = OwnRuntime::start("state-store-postgres");
        let handle = runtime.handle();
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
    // Notices ("relation ... already exists, skipping" from the migration's
    // `IF NOT EXISTS`, at every start) are the server talking to itself;
    // warnings and errors still come through.
    client
        .batch_execute(
            "SET idle_in_transaction_session_timeout = '5s'; SET client_min_messages = warning",
        )
        .await?;
    Ok(client)
}
