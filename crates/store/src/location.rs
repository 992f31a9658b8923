//! Where the state store is: a file (SQLite, the embedded default) or a
//! `postgres://` URL, told apart by the scheme.

use crate::{PostgresStore, SqliteStore, StateStore, StoreError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A state store's location, parsed from what `--state` was given.
#[derive(Clone)]
pub enum StateLocation {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL database (boxed: its parsed settings are large).
    Postgres(Box<PostgresUrl>),
}

/// A `postgres://` (or `postgresql://`) URL that tokio-postgres accepts.
/// It shows itself without its password or query (which may hold one).
#[derive(Clone)]
pub struct PostgresUrl {
    config: tokio_postgres::Config,
    shown: String,
}

impl PostgresUrl {
    /// Parses `text`; the error names the URL without its password.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let shown = without_secrets(text);
        let config = text.parse().map_err(|e| StoreError::BadLocation {
            shown: shown.clone(),
            problem: crate::describe(&e),
        })?;
        Ok(PostgresUrl { config, shown })
    }

    /// The URL as messages show it: no password, no query.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl StateLocation {
    /// `text` as a location: a URL when it starts with a scheme, a file path
    /// otherwise. A scheme other than postgres is refused, naming it.
    pub fn parse(text: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = text.as_ref();
        let Some(text) = path.to_str() else {
            return Ok(StateLocation::File(path.to_path_buf()));
        };
        match text.split_once("://") {
            Some(("postgres" | "postgresql", _)) => {
                PostgresUrl::parse(text).map(|url| StateLocation::Postgres(Box::new(url)))
            }
            Some((scheme, _)) if !scheme.is_empty() && scheme.chars().all(is_scheme_char) => {
                Err(StoreError::BadLocation {
                    shown: without_secrets(text),
                    problem: format!(
                        "`{scheme}://` is not a kind of state store this program knows; give \
                         a file path (SQLite) or a postgres:// URL"
                    ),
                })
            }
            _ => Ok(StateLocation::File(path.to_path_buf())),
        }
    }

    /// Opens the store, creating it (an SQLite file, a PostgreSQL schema)
    /// when there is none yet.
    pub fn open(&self) -> Result<Arc<dyn StateStore>, StoreError> {
        Ok(match self {
            StateLocation::File(path) => Arc::new(SqliteStore::open(path)?),
            StateLocation::Postgres(url) => Arc::new(PostgresStore::open(url)?),
        })
    }

    /// Opens an existing store: a missing SQLite file is an error rather
    /// than a new, empty store. (A PostgreSQL database exists or not on the
    /// server; its schema is brought up to date like `open`'s.)
    pub fn open_existing(&self) -> Result<Arc<dyn StateStore>, StoreError> {
        Ok(match self {
            StateLocation::File(path) => Arc::new(SqliteStore::open_existing(path)?),
            StateLocation::Postgres(url) => Arc::new(PostgresStore::open(url)?),
        })
    }
}

impl fmt::Display for StateLocation {
    /// The file path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => f.write_str(&url.shown),
        }
    }
}

impl fmt::Debug for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateLocation({self})")
    }
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+-.".contains(c)
}

/// `url` with any password and query removed: `scheme://user@host:port/db`.
fn without_secrets(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password_or_query() {
        assert_eq!(
            without_secrets("postgres://gc:s3cret@db.example.com:5433/state?password=x"),
            "postgres://gc@db.example.com:5433/state"
        );
        assert_eq!(
            without_secrets("postgresql://a:b:c@h/d"),
            "postgresql://a@h/d"
        );
        assert_eq!(without_secrets("postgres://h"), "postgres://h");
    }

    #[test]
    fn the_scheme_chooses_the_store() {
        assert!(matches!(
            StateLocation::parse("state/genesys-compliance.db").unwrap(),
            StateLocation::File(_)
        ));
        let url = "postgres://gc:s3cret@127.0.0.1:5432/state";
        match StateLocation::parse(url).unwrap() {
            StateLocation::Postgres(url) => {
                assert_eq!(url.shown(), "postgres://gc@127.0.0.1:5432/state")
            }
            other => panic!("{other:?}"),
        }
        let err = StateLocation::parse("mysql://gc:s3cret@h/db").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`mysql://`") && text.contains("postgres://"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn a_malformed_url_is_refused_without_its_password() {
        let err =
            StateLocation::parse("postgres://gc:s3cret@127.0.0.1:notaport/state").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StoreError::BadLocation { .. }), "{text}");
        assert!(
            text.contains("postgres://gc@127.0.0.1:notaport/state"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }
}
