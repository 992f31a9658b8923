//! PostgreSQL databases for tests: each test creates its own and drops it at
//! its end. The server is the one the environment variable [`TEST_PG_ENV`]
//! names (`.ci/run` starts one on a loopback port and sets it).

use crate::postgres::PgConnection;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable with the test server's URL, for example
/// `postgres://gc_test@127.0.0.1:54329/postgres`.
pub const TEST_PG_ENV: &str = "GENESYS_COMPLIANCE_TEST_PG";

/// A database created for one test, dropped when this is dropped.
pub struct TestDatabase {
    server: tokio_postgres::Config,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A new, empty database on the test server. Without [`TEST_PG_ENV`]:
    /// under CI (`CI` set) a panic, since the test would prove nothing;
    /// elsewhere `None`, with the reason printed, and the test returns early.
    pub fn create(test: &str) -> Option<TestDatabase> {
        let server_url = match std::env::var(TEST_PG_ENV) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var_os("CI").is_some() => panic!(
                "{TEST_PG_ENV} is not set, so `{test}` cannot run against PostgreSQL; \
                 .ci/run starts a server and sets it"
            ),
            _ => {
                eprintln!(
                    "skipping `{test}`: {TEST_PG_ENV} is not set (set it to a PostgreSQL \
                     URL whose user may create databases, or run .ci/run)"
                );
                return None;
            }
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "gc_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            crate::now_ms()
        );
        let server: tokio_postgres::Config = server_url
            .parse()
            .unwrap_or_else(|e| panic!("{TEST_PG_ENV} is not a PostgreSQL URL: {e}"));
        run(&server, &format!("CREATE DATABASE {name}"));
        let url = with_dbname(&server_url, &name);
        Some(TestDatabase { server, name, url })
    }

    /// The database's URL, password included (tests only).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `sql` in this database.
    pub fn execute(&self, sql: &str) {
        let mut config = self.server.clone();
        config.dbname(&self.name);
        run(&config, sql);
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // FORCE: a store still open in the test must not keep it alive.
        run(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn run(config: &tokio_postgres::Config, sql: &str) {
    let mut connection = PgConnection::open(config)
        .unwrap_or_else(|e| panic!("cannot connect to the test server ({TEST_PG_ENV}): {e:?}"));
    connection
        .run(async |client| client.batch_execute(sql).await)
        .unwrap_or_else(|e| panic!("`{sql}` failed on the test server: {e:?}"));
}

/// `url` with its database replaced by `name`, its query kept.
fn with_dbname(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            super::with_dbname("postgres://u@127.0.0.1:5/postgres?sslmode=disable", "t1"),
            "postgres://u@127.0.0.1:5/t1?sslmode=disable"
        );
        assert_eq!(
            super::with_dbname("postgres://u@h", "t"),
            "postgres://u@h/t"
        );
    }
}
