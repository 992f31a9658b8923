//! `[[org]]` tables: the orgs that `serve` workers share over a PostgreSQL
//! state store. Each table holds one org's name, connection, credentials
//! (from environment variables it names, or a secret file), source, rules,
//! filters and output; the top level of the file gives the defaults. Every
//! refusal names the file, the org and the key, never a secret's value.

use super::error::SettingsError;
use super::layers::{env, Layers};
use compliance_api::OrgName;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The keys an `[[org]]` table may hold; any other is refused by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgTable {
    #[allow(dead_code)] // read before the table is parsed, to name the org
    name: String,
    region: Option<String>,
    api_base_url: Option<String>,
    login_base_url: Option<String>,
    client_id: Option<String>,
    client_id_env: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    rate_limit_per_minute: Option<u64>,
    source: Option<String>,
    rules: Option<PathBuf>,
    severity: Option<Vec<String>>,
    policy_ids: Option<Vec<String>>,
    agent_ids: Option<Vec<String>>,
    out_dir: Option<PathBuf>,
    audit_dir: Option<PathBuf>,
}

/// One org's settings: its layers (read like a single org's, with the
/// table over the file's top level) and where its output and audit trail go.
pub struct OrgSettings<'a> {
    pub name: OrgName,
    pub layers: Layers<'a>,
    pub out_dir: PathBuf,
    pub audit_dir: PathBuf,
}

/// The variables of a single org's connection: an org reads its own.
const SINGLE_ORG_ENV: &[&str] = &[
    env::CLIENT_ID,
    env::CLIENT_SECRET,
    env::REGION,
    env::API_BASE_URL,
    env::LOGIN_BASE_URL,
];

impl<'a> Layers<'a> {
    /// Whether the config file lists orgs.
    pub fn has_orgs(&self) -> bool {
        self.file.org.as_ref().is_some_and(|o| !o.is_empty())
    }

    /// The orgs of the `[[org]]` tables. `out_dir` (the flag or the top-level
    /// key) is where an org without its own `out_dir` gets a directory of
    /// its name.
    pub fn orgs(&self, out_dir: Option<&Path>) -> Result<Vec<OrgSettings<'a>>, SettingsError> {
        let file = self.file_name.as_deref().unwrap_or("?");
        let base = out_dir.map(Path::to_path_buf).or(self.file.out_dir.clone());
        let mut names = HashSet::new();
        let mut orgs = Vec::new();
        for (i, table) in self.file.org.iter().flatten().enumerate() {
            let name = match table.get("name") {
                Some(toml::Value::String(name)) => name.parse::<OrgName>().map_err(|e| {
                    SettingsError::new(format!("config file {file}, org #{}, key name", i + 1), e)
                })?,
                _ => {
                    return Err(SettingsError::new(
                        format!("config file {file}, org #{}", i + 1),
                        "no name; give each [[org]] a name such as name = \"acme-eu\"",
                    ))
                }
            };
            let input = format!("config file {file}, org `{name}`");
            if !names.insert(name.clone()) {
                return Err(SettingsError::new(
                    input,
                    "named twice; give each [[org]] a name of its own",
                ));
            }
            let org = OrgTable::deserialize(toml::Value::Table(table.clone()))
                .map_err(|e| SettingsError::new(&input, e.message().trim()))?;
            let key = |k: &str| format!("{input}, key {k}");
            let mut merged = self.file.clone();
            merged.org = None;
            let set = |mine: Option<String>, top: Option<String>| mine.or(top);
            merged.region = set(org.region, merged.region);
            merged.api_base_url = set(org.api_base_url, merged.api_base_url);
            merged.login_base_url = set(org.login_base_url, merged.login_base_url);
            merged.source = set(org.source, merged.source);
            merged.rules = org.rules.or(merged.rules);
            merged.severity = org.severity.or(merged.severity);
            merged.policy_ids = org.policy_ids.or(merged.policy_ids);
            merged.agent_ids = org.agent_ids.or(merged.agent_ids);
            merged.rate_limit_per_minute =
                org.rate_limit_per_minute.or(merged.rate_limit_per_minute);
            merged.client_id =
                Some(match (org.client_id, org.client_id_env) {
                    (Some(id), _) => id,
                    (None, Some(var)) => self.named_env(&key("client_id_env"), &var)?,
                    (None, None) => return Err(SettingsError::new(
                        input,
                        "no OAuth client id; give client_id_env = \"VARIABLE\" (the environment \
                         variable holding it) or client_id = \"...\"",
                    )),
                });
            merged.client_secret = Some(match (org.client_secret_env, org.client_secret_file) {
                (Some(var), None) => self.named_env(&key("client_secret_env"), &var)?,
                (None, Some(path)) => read_secret(&key("client_secret_file"), &path)?,
                (Some(_), Some(_)) => {
                    return Err(SettingsError::new(
                        key("client_secret_file"),
                        "give client_secret_env or client_secret_file, not both",
                    ))
                }
                (None, None) => {
                    return Err(SettingsError::new(
                        input,
                        "no OAuth client secret; give client_secret_env = \"VARIABLE\" or \
                         client_secret_file = \"/path/to/file\" (a secret is never written in \
                         the config file itself)",
                    ))
                }
            });
            let out_dir =
                match (org.out_dir, &base) {
                    (Some(dir), _) => dir,
                    (None, Some(base)) => base.join(name.as_str()),
                    (None, None) => return Err(SettingsError::new(
                        key("out_dir"),
                        "not set; give out_dir in the [[org]], or --out-dir (or out_dir at the \
                         top of the file), under which each org gets a directory of its name",
                    )),
                };
            let audit_dir = org
                .audit_dir
                .unwrap_or_else(|| out_dir.join(super::DEFAULT_AUDIT_DIR));
            orgs.push(OrgSettings {
                layers: Layers {
                    file: merged,
                    file_name: Some(format!("{file}, org `{name}`")),
                    env: self.env,
                    ignored_env: SINGLE_ORG_ENV,
                },
                name,
                out_dir,
                audit_dir,
            });
        }
        Ok(orgs)
    }

    /// How long an org's lease lasts unrenewed (`--lease`, or `lease` in the
    /// config file); 30 s by default.
    pub fn lease(&self, flag: Option<&String>) -> Result<std::time::Duration, SettingsError> {
        Ok(self
            .positive_duration(("--lease", flag), ("lease", self.file.lease.clone()))?
            .unwrap_or(std::time::Duration::from_secs(30)))
    }

    /// The value of environment variable `var`, which `input` names.
    fn named_env(&self, input: &str, var: &str) -> Result<String, SettingsError> {
        (self.env)(var).filter(|v| !v.is_empty()).ok_or_else(|| {
            SettingsError::new(
                input,
                format!("the environment variable {var} is not set; set it, or name another"),
            )
        })
    }
}

/// A secret read from `path` (its last line break dropped); the message
/// names the file, never what it holds.
fn read_secret(input: &str, path: &Path) -> Result<String, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SettingsError::new(
            input,
            format!(
                "cannot read {}: {e}; give a file this user can read",
                path.display()
            ),
        )
    })?;
    let secret = text.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(SettingsError::new(
            input,
            format!(
                "{} is empty; put the OAuth client secret in it",
                path.display()
            ),
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::layers::env_of;
    use crate::settings::ConnectionArgs;

    fn layers_of<'e>(
        dir: &Path,
        text: &str,
        env: &'e dyn Fn(&str) -> Option<String>,
    ) -> Result<Layers<'e>, SettingsError> {
        let file = dir.join("orgs.toml");
        std::fs::write(&file, text).unwrap();
        Layers::load(Some(&file), env)
    }

    const TWO: &str = r#"
out_dir = "/srv/out"
rate_limit_per_minute = 600

[[org]]
name = "acme"
api_base_url = "http://127.0.0.1:9001"
client_id_env = "ACME_ID"
client_secret_env = "ACME_SECRET"

[[org]]
name = "globex-eu"
region = "eu-west-1"
client_id = "globex-client"
client_secret_file = "SECRET_FILE"
out_dir = "/srv/globex"
rate_limit_per_minute = 120
"#;

    #[test]
    fn each_org_reads_its_own_table_over_the_top_level() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("globex.secret");
        std::fs::write(&secret, "globex-s3cret\n").unwrap();
        let env = env_of(&[
            ("ACME_ID", "acme-client"),
            ("ACME_SECRET", "acme-s3cret"),
            // A single org's variables are not an org's.
            (env::CLIENT_ID, "single-id"),
            (env::REGION, "ap-southeast-2"),
        ]);
        let text = TWO.replace("SECRET_FILE", &secret.display().to_string());
        let layers = layers_of(dir.path(), &text, &env).unwrap();
        assert!(layers.has_orgs());
        let orgs = layers.orgs(None).unwrap();
        assert_eq!(orgs.len(), 2);
        let (acme, globex) = (&orgs[0], &orgs[1]);
        assert_eq!(acme.name.as_str(), "acme");
        assert_eq!(acme.out_dir, PathBuf::from("/srv/out/acme"));
        assert_eq!(acme.audit_dir, PathBuf::from("/srv/out/acme/audit"));
        let c = acme.layers.connection(&ConnectionArgs::default()).unwrap();
        assert_eq!(c.transport.credentials.client_id, "acme-client");
        assert_eq!(
            c.transport.endpoints.api.to_string(),
            "http://127.0.0.1:9001"
        );
        assert_eq!(c.transport.rate_limit_per_minute, 600);

        assert_eq!(globex.out_dir, PathBuf::from("/srv/globex"));
        let c = globex
            .layers
            .connection(&ConnectionArgs::default())
            .unwrap();
        assert_eq!(c.transport.credentials.client_id, "globex-client");
        assert_eq!(
            c.transport.endpoints.api.to_string(),
            "https://api.mypurecloud.ie"
        );
        assert_eq!(c.transport.rate_limit_per_minute, 120);
        use secrecy::ExposeSecret;
        assert_eq!(
            c.transport.credentials.client_secret.expose_secret(),
            "globex-s3cret"
        );
    }

    /// A refusal and what it must say.
    fn refused(text: &str, env: &[(&str, &str)]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let env = env_of(env);
        let layers = layers_of(dir.path(), text, &env).unwrap();
        let err = layers.orgs(Some(Path::new("/srv"))).err().expect("refused");
        err.to_string()
    }

    #[test]
    fn bad_org_tables_are_refused_naming_the_org_and_the_key() {
        let creds = "client_id = \"x\"\nclient_secret_env = \"S\"\n";
        let env = [("S", "t0p-s3cret-value")];
        let err = refused(&format!("[[org]]\nname = \"Acme\"\n{creds}"), &env);
        assert!(
            err.contains("org #1, key name") && err.contains("lowercase"),
            "{err}"
        );

        let err = refused(&format!("[[org]]\n{creds}"), &env);
        assert!(err.contains("org #1") && err.contains("no name"), "{err}");

        let err = refused(
            &format!("[[org]]\nname = \"acme\"\nregoin = \"x\"\n{creds}"),
            &env,
        );
        assert!(
            err.contains("org `acme`") && err.contains("regoin"),
            "{err}"
        );

        let twice = format!("[[org]]\nname = \"a\"\n{creds}[[org]]\nname = \"a\"\n{creds}");
        let err = refused(&twice, &env);
        assert!(
            err.contains("org `a`") && err.contains("named twice"),
            "{err}"
        );

        let err = refused(
            "[[org]]\nname = \"acme\"\nclient_id = \"x\"\nclient_secret_env = \"UNSET\"\n",
            &env,
        );
        assert!(
            err.contains("org `acme`, key client_secret_env") && err.contains("UNSET is not set"),
            "{err}"
        );
        let err = refused("[[org]]\nname = \"acme\"\nclient_id = \"x\"\n", &env);
        assert!(
            err.contains("org `acme`") && err.contains("no OAuth client secret"),
            "{err}"
        );
        let err = refused(
            "[[org]]\nname = \"acme\"\nclient_id = \"x\"\nclient_secret_file = \"/nonexistent/s\"\n",
            &env,
        );
        assert!(err.contains("org `acme`, key client_secret_file"), "{err}");
        assert!(!err.contains("t0p-s3cret-value"), "{err}");
    }

    #[test]
    fn an_org_s_bad_connection_setting_names_the_org() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_of(&[("S", "t0p-s3cret-value")]);
        let text = "[[org]]\nname = \"acme\"\nclient_id = \"x\"\nclient_secret_env = \"S\"\napi_base_url = \"http://example.com\"\n";
        let layers = layers_of(dir.path(), text, &env).unwrap();
        let orgs = layers.orgs(Some(Path::new("/srv"))).unwrap();
        let err = orgs[0]
            .layers
            .connection(&ConnectionArgs::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("org `acme`, key api_base_url") && err.contains("loopback"),
            "{err}"
        );
        assert!(!err.contains("t0p-s3cret-value"), "{err}");
    }

    #[test]
    fn the_documented_orgs_example_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("acme-us.secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let example = include_str!("../../deploy/orgs.example.toml").replace(
            "/etc/genesys-compliance/acme-us.secret",
            &secret.display().to_string(),
        );
        let env = env_of(&[
            ("ACME_EU_CLIENT_ID", "eu-id"),
            ("ACME_EU_CLIENT_SECRET", "eu-s"),
        ]);
        let layers = layers_of(dir.path(), &example, &env).unwrap();
        assert_eq!(
            layers.lease(None).unwrap(),
            std::time::Duration::from_secs(30)
        );
        let orgs = layers.orgs(None).unwrap();
        let names: Vec<&str> = orgs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["acme-eu", "acme-us"]);
        assert_eq!(
            orgs[0].out_dir,
            PathBuf::from("/var/lib/genesys-compliance/out/acme-eu")
        );
        for org in &orgs {
            org.layers.connection(&ConnectionArgs::default()).unwrap();
        }
    }
}
