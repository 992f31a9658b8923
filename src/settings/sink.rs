//! Where output goes instead of a file: `--sink nats://HOST:PORT/SUBJECT`
//! (settings key `sink`), a NATS JetStream stream, and whether the program
//! may create that stream (`--create-stream`, key `create_stream`).

use super::error::SettingsError;
use super::layers::Layers;
use compliance_pipeline::nats::{NatsTarget, StreamOptions};

/// The stream sink's flags (extract and serve).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SinkArgs {
    /// Publish each output line to NATS JetStream instead of a file, with
    /// the violation's id as Nats-Msg-Id (the stream drops a line sent
    /// twice within its duplicate window):
    /// nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT]/SUBJECT. Put credentials
    /// in the config file's `sink`, out of `ps`
    #[arg(long, value_name = "URL")]
    pub sink: Option<String>,
    /// When no stream takes --sink's subject, create one (named after the
    /// subject, file storage, a 24h duplicate window) instead of refusing
    #[arg(long)]
    pub create_stream: bool,
}

/// The stream sink, valid by construction.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    pub target: NatsTarget,
    pub options: StreamOptions,
    /// Whether it came from the flag (not the config file).
    pub from_flag: bool,
}

impl Layers<'_> {
    /// The stream sink, when the flag or the config file names one.
    pub fn sink(&self, args: &SinkArgs) -> Result<Option<SinkSettings>, SettingsError> {
        let target = self.parse_with(
            ("--sink", args.sink.as_ref()),
            None,
            ("sink", self.file.sink.clone()),
            NatsTarget::parse,
        )?;
        Ok(target.map(|target| SinkSettings {
            target,
            options: StreamOptions {
                create: args.create_stream || self.file.create_stream.unwrap_or(false),
            },
            from_flag: args.sink.is_some(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_sink_is_refused_naming_its_input_and_never_its_password() {
        let env = |_: &str| None;
        let layers = Layers::load(None, &env).unwrap();
        let args = SinkArgs {
            sink: Some("nats://app:hunter2@127.0.0.1:4222/violations.*".into()),
            ..SinkArgs::default()
        };
        let err = layers.sink(&args).unwrap_err();
        assert_eq!(err.input, "--sink");
        assert!(err.message.contains("wildcard"), "{err}");
        assert!(err.message.contains("nats://HOST[:PORT]/SUBJECT"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_config_file_names_a_sink_and_may_let_the_stream_be_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "sink = \"nats://nats.internal/compliance.violations\"\ncreate_stream = true\n",
        )
        .unwrap();
        let env = |_: &str| None;
        let layers = Layers::load(Some(&file), &env).unwrap();
        let sink = layers.sink(&SinkArgs::default()).unwrap().unwrap();
        assert_eq!(
            sink.target.to_string(),
            "nats://nats.internal:4222/compliance.violations"
        );
        assert!(sink.options.create && !sink.from_flag);
        assert!(Layers::load(None, &env)
            .unwrap()
            .sink(&SinkArgs::default())
            .unwrap()
            .is_none());
    }
}
