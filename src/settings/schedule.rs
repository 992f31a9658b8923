//! `serve`'s schedule: when runs start, what window each covers, where the
//! output goes and where health and metrics are served.

use super::error::SettingsError;
use super::layers::Layers;
use compliance_api::{HumanDuration, Timestamp};
use compliance_pipeline::Rotation;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `serve`'s schedule and where it writes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScheduleArgs {
    /// Where the first run starts when the state store holds no watermark yet:
    /// RFC 3339 in UTC with Z, such as 2023-10-01T00:00:00Z (required only then)
    #[arg(long, value_name = "TIMESTAMP")]
    pub since: Option<String>,
    /// Time between the starts of two runs, such as 30s, 5m, 1h30m [default: 5m]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub every: Option<String>,
    /// How far before the watermark each run re-reads, for violations recorded
    /// late (the API allows 15 minutes) [default: 15m]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub lookback: Option<String>,
    /// How far behind now a run ends. Non-zero holds the newest violations
    /// back: each run stops that far short of now, so they are output a run
    /// later, and those of the last LAG before a stop only after the next
    /// start. Late arrivals are --lookback's job, not this one's [default: 0s]
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub lag: Option<String>,
    /// Directory of the hourly output files violations-YYYYMMDDTHH.jsonl;
    /// `-` writes to standard output instead
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Address of /healthz and /metrics [default: 127.0.0.1:9464]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// How often output files rotate: `hour` (violations-YYYYMMDDTHH.jsonl)
    /// or `day` (violations-YYYYMMDD.jsonl) [default: hour]
    #[arg(long, value_name = "PERIOD")]
    pub rotate: Option<String>,
}

/// `serve`'s schedule, valid by construction.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub since: Option<Timestamp>,
    pub every: Duration,
    pub lookback: Duration,
    pub lag: Duration,
    /// `None`: standard output (`--out-dir -`).
    pub out_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub rotate: Rotation,
}

impl Layers<'_> {
    /// `serve`'s schedule. With a stream sink (`sink`), the output
    /// directory is optional: it then holds only the rejects file.
    pub fn schedule(&self, args: &ScheduleArgs, sink: bool) -> Result<Schedule, SettingsError> {
        let f = &self.file;
        // Zero is allowed for these two: no look-back, or runs up to now.
        let duration = |flag: &str, given: Option<&String>, key: &str, file: &Option<String>| {
            self.parse::<HumanDuration>((flag, given), None, (key, file.clone()))
                .map(|d| d.map(|d| d.get()))
        };
        let every = self
            .positive_duration(("--every", args.every.as_ref()), ("every", f.every.clone()))?
            .unwrap_or(Duration::from_secs(300));
        let lookback = duration(
            "--lookback",
            args.lookback.as_ref(),
            "lookback",
            &f.lookback,
        )?
        .unwrap_or(Duration::from_secs(15 * 60));
        // interface.md: a run covers [watermark - lookback, now).
        let lag = duration("--lag", args.lag.as_ref(), "lag", &f.lag)?.unwrap_or(Duration::ZERO);
        let since = self.parse::<Timestamp>(
            ("--since", args.since.as_ref()),
            None,
            ("since", f.since.clone()),
        )?;
        // [[org]] tables name each org's directory: none is needed here then.
        let optional = sink || self.has_orgs();
        let out_dir = match (args.out_dir.clone().or_else(|| f.out_dir.clone()), optional) {
            (Some(dir), _) => (dir.as_os_str() != "-").then_some(dir),
            (None, true) => None,
            (None, false) => return Err(SettingsError::new(
                "--out-dir",
                "required: the directory for the hourly violations-YYYYMMDDTHH.jsonl files, - for standard output, or --sink for a JetStream stream",
            )),
        };
        let listen = self
            .parse_with(
                ("--listen", args.listen.as_ref()),
                None,
                ("listen", f.listen.clone()),
                |v| {
                    v.parse::<SocketAddr>().map_err(|_| {
                        format!("`{v}` is not an IP:PORT address, such as 127.0.0.1:9464")
                    })
                },
            )?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9464)));
        let rotate = self
            .parse::<Rotation>(
                ("--rotate", args.rotate.as_ref()),
                None,
                ("rotate", f.rotate.clone()),
            )?
            .unwrap_or_default();
        Ok(Schedule {
            rotate,
            since,
            every,
            lookback,
            lag,
            out_dir,
            listen,
        })
    }
}
