//! `extract`: one extraction of one time interval.

use super::Outcome;
use crate::exit::{Exit, Failure};
use crate::report::{print_transport, Progress};
use crate::settings::{ConnectionArgs, FilterArgs, Layers};
use compliance_api::Timestamp;
use compliance_client::{Batch, ExtractorConfig, Query, StatsSnapshot, ViolationExtractor, Window};
use compliance_verify::{RuleMatrix, Tally, Verifier};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const EXAMPLES: &str = "\
Examples:
  # One day from eu-west-1, credentials from the environment:
  export GENESYSCLOUD_OAUTHCLIENT_ID=... GENESYSCLOUD_OAUTHCLIENT_SECRET=...
  genesys-compliance extract --region eu-west-1 \\
      --start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z --out violations.jsonl

  # Only HIGH and CRITICAL of one policy, to standard output:
  genesys-compliance extract --start 2023-10-01T00:00:00Z --end 2023-11-01T00:00:00Z \\
      --severity HIGH,CRITICAL --policy-id 3f1f0e2a-6c1b-4a57-9d7e-2b1a4c9e8f10 --out -

  # Against a local simulator (`genesys-compliance simulate --listen 127.0.0.1:8080`):
  GENESYSCLOUD_OAUTHCLIENT_ID=demo-client GENESYSCLOUD_OAUTHCLIENT_SECRET=demo-secret \\
  genesys-compliance extract --api-base-url http://127.0.0.1:8080 \\
      --start 2023-10-01T00:00:00Z --end 2023-10-02T00:00:00Z --out violations.jsonl

Settings come from flags, then environment variables, then --config FILE.toml, then
defaults. Credentials come only from GENESYSCLOUD_OAUTHCLIENT_ID and
GENESYSCLOUD_OAUTHCLIENT_SECRET (or the config file), never from a flag.

Output: one JSON object per line, {\"violation\": {...}, \"verdict\": {...}}, one line per
unique violation, PII in evidence redacted unless --keep-pii, written to OUT.partial and
renamed to OUT when the extraction is complete. Records that
are not usable violations go, with the reason, to the rejects file.

Exit codes: 0 done; 1 internal error; 2 invalid input (nothing was sent);
3 credentials or permission refused; 4 server unavailable after every retry.";

#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES, after_help = "See --help for examples and exit codes.")]
pub struct Args {
    /// Start of the interval (included): RFC 3339 in UTC with Z, such as 2023-10-01T00:00:00Z
    #[arg(long, value_name = "TIMESTAMP")]
    pub start: Timestamp,
    /// End of the interval (excluded), after --start. Longer than 31 days or more than the
    /// API pages through is fine: the program splits it.
    #[arg(long, value_name = "TIMESTAMP")]
    pub end: Timestamp,
    /// Output file (JSONL); `-` writes to standard output
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Where records that are not usable violations go, with the reason
    /// [default: OUT.rejects.jsonl; genesys-compliance-rejects.jsonl with --out -]
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Leave PII in evidence values as received (findings are still reported)
    #[arg(long)]
    pub keep_pii: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub async fn run(args: Args) -> Outcome {
    let env = |name: &str| std::env::var(name).ok();
    let layers = Layers::load(args.connection.config.as_deref(), &env).map_err(Failure::invalid)?;
    let connection = layers
        .connection(&args.connection)
        .map_err(Failure::invalid)?;
    let selection = layers.selection(&args.filters).map_err(Failure::invalid)?;
    let window = Window::new(args.start, args.end).ok_or_else(|| {
        Failure::invalid(anyhow::anyhow!(
            "--end: {} is not after --start {}; give an end later than the start",
            args.end,
            args.start
        ))
    })?;
    let verifier = Verifier::new(
        selection
            .rules
            .map_or_else(RuleMatrix::design_default, |r| r.matrix),
        args.keep_pii,
    );
    let mut output = Output::create(&args.out, args.rejects.as_deref())?;

    let mut config = ExtractorConfig::new(connection.transport);
    config.concurrency = connection.concurrency;
    let extractor = ViolationExtractor::new(config).map_err(Failure::from)?;
    let query = Query {
        window,
        filters: selection.filters,
        page_size: selection.page_size,
    };
    let started = Instant::now();
    let progress = Progress::start(extractor.stats());
    let fetched = async {
        let mut batches = extractor.extract(&query).await?;
        while let Some(batch) = batches.next().await.transpose()? {
            output
                .write(batch, &verifier)
                .map_err(|e| Failure::new(Exit::Internal, e))?;
        }
        Ok::<_, Failure>(())
    }
    .await;
    progress.finish();
    let stats = extractor.stats().snapshot();
    match fetched {
        Ok(()) => {
            let tally = output.tally.clone();
            let rejects = output
                .finish()
                .map_err(|e| Failure::new(Exit::Internal, e))?;
            summary(&stats, started.elapsed(), &args.out, rejects.as_deref());
            verdicts(&tally, args.keep_pii);
            Ok(Exit::Done)
        }
        Err(failure) => {
            output.abandon();
            summary(&stats, started.elapsed(), &args.out, None);
            Err(failure)
        }
    }
}

impl From<compliance_client::Error> for Failure {
    fn from(e: compliance_client::Error) -> Self {
        crate::exit::client_failure(e)
    }
}

/// The output and rejects files. Output goes to `OUT.partial` until the
/// extraction is complete, so that a failed run never leaves a file that
/// looks finished.
struct Output {
    out: Box<dyn Write + Send>,
    target: Option<(PathBuf, PathBuf)>,
    rejects_path: PathBuf,
    rejects: Option<BufWriter<File>>,
    tally: Tally,
}

impl Output {
    fn create(out: &Path, rejects: Option<&Path>) -> Result<Output, Failure> {
        let stdout = out == Path::new("-");
        let (writer, target): (Box<dyn Write + Send>, _) = if stdout {
            (Box::new(BufWriter::new(std::io::stdout())), None)
        } else {
            let mut partial = out.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = File::create(&partial).map_err(|e| {
                Failure::invalid(anyhow::anyhow!(
                    "--out: cannot create `{}`: {e}; give a writable path or `-` for standard output",
                    partial.display()
                ))
            })?;
            (
                Box::new(BufWriter::new(file)),
                Some((partial, out.to_path_buf())),
            )
        };
        let rejects_path = rejects.map(Path::to_path_buf).unwrap_or_else(|| {
            if stdout {
                PathBuf::from("genesys-compliance-rejects.jsonl")
            } else {
                let mut p = out.as_os_str().to_owned();
                p.push(".rejects.jsonl");
                PathBuf::from(p)
            }
        });
        Ok(Output {
            out: writer,
            target,
            rejects_path,
            rejects: None,
            tally: Tally::default(),
        })
    }

    fn write(&mut self, batch: Batch, verifier: &Verifier) -> anyhow::Result<()> {
        for v in batch.violations {
            let record = verifier.verify(v);
            self.tally.add(&record);
            serde_json::to_writer(&mut self.out, &record)?;
            self.out.write_all(b"\n")?;
        }
        if !batch.rejects.is_empty() {
            if self.rejects.is_none() {
                let file = File::create(&self.rejects_path).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot create the rejects file `{}`: {e}",
                        self.rejects_path.display()
                    )
                })?;
                self.rejects = Some(BufWriter::new(file));
            }
            let file = self.rejects.as_mut().expect("created above");
            for r in &batch.rejects {
                tracing::warn!(window = batch.window, page = batch.page, reason = %r.reason, "record rejected");
                serde_json::to_writer(&mut *file, r)?;
                file.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Removes the unfinished output: a failed run leaves nothing that could
    /// pass for a result (the rejects file stays, as evidence of what was refused).
    fn abandon(self) {
        drop(self.out);
        if let Some((partial, _)) = &self.target {
            let _ = std::fs::remove_file(partial);
        }
    }

    /// Flushes everything and puts the output in place; returns the rejects
    /// file when there were rejects.
    fn finish(mut self) -> anyhow::Result<Option<PathBuf>> {
        self.out.flush()?;
        drop(self.out);
        if let Some((partial, out)) = &self.target {
            std::fs::rename(partial, out)?;
        }
        match self.rejects.take() {
            Some(mut file) => {
                file.flush()?;
                Ok(Some(self.rejects_path))
            }
            None => Ok(None),
        }
    }
}

/// The final summary, on standard error (standard output may be the output).
fn summary(s: &StatsSnapshot, elapsed: Duration, out: &Path, rejects: Option<&Path>) {
    let secs = elapsed.as_secs_f64();
    eprintln!(
        "extracted:  {} unique violations in {:.2} s ({:.0}/s) to {}\n\
         duplicates: {} dropped; missing evidence: {}; rejects: {}{}",
        s.violations,
        secs,
        s.violations as f64 / secs.max(1e-3),
        if out == Path::new("-") {
            "standard output".to_string()
        } else {
            out.display().to_string()
        },
        s.duplicates_dropped,
        s.missing_evidence,
        s.rejects,
        rejects
            .map(|p| format!(" (in {})", p.display()))
            .unwrap_or_default(),
    );
    print_transport(s);
}

fn verdicts(t: &Tally, keep_pii: bool) {
    eprintln!(
        "verdicts:   {} validated, {} false positives; accuracy rate {:.3}; \
         PII: {} findings, {}",
        t.validated,
        t.false_positives,
        t.accuracy_rate(),
        t.pii_exposures,
        if keep_pii {
            "kept (--keep-pii)"
        } else {
            "all redacted"
        },
    );
}
