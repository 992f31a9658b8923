//! Layered settings: flags over environment over config file over defaults,
//! parsed once into domain types. Shared by `extract` and `serve`.
//!
//! Every refusal names the input it came from (`--page-size`,
//! `GENESYSCLOUD_REGION`, `config file x.toml, key page_size`) and what is allowed.
//!
//! One module per concern, each adding its part to [`Layers`]: `layers` (the
//! layering itself), `file` (the config file), `connection`, `selection` and
//! `rules` (what to extract and how to judge it), `audit`, `schedule` (`serve`),
//! `sink` (a JetStream stream instead of files).

mod audit;
mod connection;
mod error;
mod file;
mod layers;
mod orgs;
mod rules;
mod schedule;
mod selection;
mod sink;

pub use audit::{AuditArgs, AuditSettings, DEFAULT_AUDIT_DIR, DEFAULT_STATE};
pub use connection::ConnectionArgs;
pub use layers::Layers;
pub use orgs::OrgSettings;
pub use rules::rule_matrix;
pub use schedule::{Schedule, ScheduleArgs};
pub use selection::FilterArgs;
pub use sink::{SinkArgs, SinkSettings};

#[cfg(test)]
mod tests {
    use super::layers::{env, env_of, CREDS};
    use super::*;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "region = \"usw2\"\npage_size = 100\nrate_limit_per_minute = 600\nclient_id = \"file-id\"\nclient_secret = \"file-secret\"\n",
        )
        .unwrap();
        let env = env_of(&[(env::REGION, "eu-west-1"), (env::CLIENT_ID, "env-id")]);
        let layers = Layers::load(Some(&file), &env).unwrap();

        let c = layers.connection(&ConnectionArgs::default()).unwrap();
        assert_eq!(
            c.transport.endpoints.api.to_string(),
            "https://api.mypurecloud.ie"
        );
        assert_eq!(c.transport.credentials.client_id, "env-id");
        assert_eq!(c.transport.rate_limit_per_minute, 600);
        assert_eq!(c.concurrency, 8);

        let args = ConnectionArgs {
            region: Some("cac1".into()),
            ..Default::default()
        };
        let c = layers.connection(&args).unwrap();
        assert_eq!(
            c.transport.endpoints.login.to_string(),
            "https://login.cac1.pure.cloud"
        );

        let s = layers.selection(&FilterArgs::default()).unwrap();
        assert_eq!(s.page_size.get(), 100);
        let s = layers
            .selection(&FilterArgs {
                page_size: Some("7".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.page_size.get(), 7);

        let creds = env_of(&CREDS);
        let bare = Layers::load(None, &creds).unwrap();
        let c = bare.connection(&ConnectionArgs::default()).unwrap();
        assert_eq!(
            c.transport.endpoints.api.to_string(),
            "https://api.mypurecloud.com"
        );
        assert_eq!(c.transport.rate_limit_per_minute, 300);
        assert_eq!(
            bare.selection(&FilterArgs::default())
                .unwrap()
                .page_size
                .get(),
            500
        );
    }

    #[test]
    fn refusals_name_their_input() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "region = \"usw2\"\npage_sise = 100\n").unwrap();
        let env = env_of(&CREDS);
        let err = Layers::load(Some(&file), &env).err().unwrap().to_string();
        assert!(err.contains("page_sise") && err.contains("c.toml"), "{err}");

        let env = env_of(&[(env::API_BASE_URL, "http://example.com")]);
        let err = Layers::load(None, &env)
            .unwrap()
            .connection(&ConnectionArgs::default())
            .unwrap_err();
        assert_eq!(err.input, env::API_BASE_URL);
        assert!(err.message.contains("loopback"));

        let env = env_of(&[(env::CLIENT_ID, "x")]);
        let err = Layers::load(None, &env)
            .unwrap()
            .connection(&ConnectionArgs::default())
            .unwrap_err();
        assert_eq!(err.input, env::CLIENT_SECRET);
    }

    #[test]
    fn the_documented_example_config_is_accepted() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/config.example.toml"
        ));
        let env = |_: &str| None;
        let layers = Layers::load(Some(path), &env).unwrap();
        let schedule = layers.schedule(&ScheduleArgs::default(), false).unwrap();
        assert_eq!(schedule.every, Duration::from_secs(300));
        assert_eq!(schedule.lookback, Duration::from_secs(900));
        assert_eq!(schedule.lag, Duration::ZERO);
        assert_eq!(schedule.listen.port(), 9464);
        assert_eq!(schedule.rotate, compliance_pipeline::Rotation::Hour);
        let audit = layers.audit(&AuditArgs::default()).unwrap();
        assert!(audit.webhook.is_some() && audit.audit_dir.is_some());
        assert!(!layers.keep_pii(false));
    }

    /// interface.md: a run covers `[watermark - lookback, now)`; `--listen`
    /// and `--state` default to what its synopsis shows.
    #[test]
    fn serve_defaults_are_the_interface_s() {
        let env = |_: &str| None;
        let layers = Layers::load(None, &env).unwrap();
        let args = ScheduleArgs {
            out_dir: Some("out".into()),
            ..ScheduleArgs::default()
        };
        let schedule = layers.schedule(&args, false).unwrap();
        assert_eq!(schedule.lag, Duration::ZERO, "runs end at now");
        assert_eq!(schedule.listen.to_string(), "127.0.0.1:9464");
        assert_eq!(schedule.out_dir, Some(PathBuf::from("out")));
        let audit = layers.audit(&AuditArgs::default()).unwrap();
        assert_eq!(audit.state.to_string(), "genesys-compliance.db");
    }
}
