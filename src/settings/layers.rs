//! The layering itself: each setting is taken from its flag, else its
//! environment variable, else the config file, else its default, and every
//! refusal names the input the value came from.
//!
//! By hand rather than with figment: figment's errors show a malformed value
//! (a client secret included) and name no line of the file, and half of
//! these settings have no environment variable while the others have names
//! of the interface (`GENESYSCLOUD_*`, `COMPLIANCE_*`) rather than a prefix.

use super::error::SettingsError;
use super::file::{self, FileSettings};
use compliance_api::HumanDuration;
use std::ops::RangeInclusive;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Environment variables of the interface.
pub mod env {
    pub const CLIENT_ID: &str = "GENESYSCLOUD_OAUTHCLIENT_ID";
    pub const CLIENT_SECRET: &str = "GENESYSCLOUD_OAUTHCLIENT_SECRET";
    pub const REGION: &str = "GENESYSCLOUD_REGION";
    pub const API_BASE_URL: &str = "GENESYSCLOUD_API_BASE_URL";
    pub const LOGIN_BASE_URL: &str = "GENESYSCLOUD_LOGIN_BASE_URL";
    pub const WEBHOOK_SECRET: &str = "COMPLIANCE_WEBHOOK_SECRET";
}

/// A flag's name and its value, when given.
pub(super) type Flag<'v> = (&'v str, Option<&'v String>);
/// A config-file key and its value, when the file sets it.
pub(super) type Key<'k, T = String> = (&'k str, Option<T>);

/// Reads settings from the layers. `env` looks up an environment variable
/// (injected so that tests need not touch the process environment).
pub struct Layers<'a> {
    pub(super) file: FileSettings,
    pub(super) file_name: Option<String>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    /// Environment variables not read: an org's connection comes from its
    /// `[[org]]` table alone, not from the variables of a single org.
    pub(super) ignored_env: &'static [&'static str],
}

impl<'a> Layers<'a> {
    /// Loads the config file, if one is given, refusing unknown keys.
    pub fn load(
        config: Option<&Path>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let (file, file_name) = match config {
            None => (FileSettings::default(), None),
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| {
                    SettingsError::new("--config", format!("cannot read `{name}`: {e}"))
                })?;
                (file::parse(&name, &text)?, Some(name))
            }
        };
        Ok(Layers {
            file,
            file_name,
            env,
            ignored_env: &[],
        })
    }

    /// How a refusal names a key of the config file.
    pub(super) fn file_key(&self, key: &str) -> String {
        format!(
            "config file {}, key {key}",
            self.file_name.as_deref().unwrap_or("?")
        )
    }

    /// An environment variable's value; an empty one counts as unset.
    pub(super) fn env_var(&self, name: &str) -> Option<String> {
        if self.ignored_env.contains(&name) {
            return None;
        }
        (self.env)(name).filter(|v| !v.is_empty())
    }

    /// Flag, else environment variable, else config file: the value and its name.
    pub(super) fn pick(
        &self,
        flag: Flag<'_>,
        env: Option<&str>,
        file: Key<'_>,
    ) -> Option<(String, String)> {
        if let Some(v) = flag.1 {
            return Some((v.clone(), flag.0.to_string()));
        }
        if let Some(name) = env {
            if let Some(v) = self.env_var(name) {
                return Some((v, name.to_string()));
            }
        }
        file.1.map(|v| (v, self.file_key(file.0)))
    }

    /// Parses the picked value with `parse`, naming its input on failure.
    pub(super) fn parse_with<T, E: ToString>(
        &self,
        flag: Flag<'_>,
        env: Option<&str>,
        file: Key<'_>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, SettingsError> {
        match self.pick(flag, env, file) {
            None => Ok(None),
            Some((v, input)) => parse(&v)
                .map(Some)
                .map_err(|e| SettingsError::new(input, e)),
        }
    }

    /// Parses the picked value, naming its input on failure.
    pub(super) fn parse<T: FromStr>(
        &self,
        flag: Flag<'_>,
        env: Option<&str>,
        file: Key<'_>,
    ) -> Result<Option<T>, SettingsError>
    where
        T::Err: ToString,
    {
        self.parse_with(flag, env, file, str::parse)
    }

    /// A whole number in `allowed` (flag or config file), naming its input
    /// when it is not one.
    pub(super) fn number(
        &self,
        flag: Flag<'_>,
        file: Key<'_, u64>,
        allowed: RangeInclusive<u64>,
    ) -> Result<Option<u64>, SettingsError> {
        let file = (file.0, file.1.map(|n| n.to_string()));
        let Some((v, input)) = self.pick(flag, None, file) else {
            return Ok(None);
        };
        match v.trim().parse::<u64>() {
            Ok(n) if allowed.contains(&n) => Ok(Some(n)),
            _ => Err(SettingsError::new(
                input,
                format!(
                    "`{v}` is not allowed; give a whole number from {} to {}",
                    allowed.start(),
                    allowed.end()
                ),
            )),
        }
    }

    /// A duration that must be longer than zero (flag or config file),
    /// naming its input when it is not.
    pub(super) fn positive_duration(
        &self,
        flag: Flag<'_>,
        file: Key<'_>,
    ) -> Result<Option<Duration>, SettingsError> {
        let Some((v, input)) = self.pick(flag, None, file) else {
            return Ok(None);
        };
        let d = v
            .parse::<HumanDuration>()
            .map_err(|e| SettingsError::new(&input, e))?
            .get();
        if !d.is_zero() {
            return Ok(Some(d));
        }
        let hint = if input.contains("retry") {
            " (to turn retries off, give --retry-max-attempts 1)"
        } else {
            ""
        };
        Err(SettingsError::new(
            input,
            format!("must be longer than zero, such as 30s{hint}"),
        ))
    }
}

/// An environment of `pairs` only, for tests.
#[cfg(test)]
pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// The OAuth client's two variables, for tests.
#[cfg(test)]
pub(super) const CREDS: [(&str, &str); 2] =
    [(env::CLIENT_ID, "id"), (env::CLIENT_SECRET, "secret")];
