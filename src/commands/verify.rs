//! `verify`: the verification stage alone, offline: violations in (one API
//! `Violation` per line), output records out (verdict, PII findings, evidence
//! redacted unless `--keep-pii`), streaming in constant memory.

use super::Outcome;
use crate::exit::{Exit, Failure};
use compliance_pipeline::{FileSink, JsonlFile, OutputError, OutputTarget};
use compliance_verify::{redact, scan, PiiType, Reason, RuleMatrix, Tally, Utf8Lines, Verifier};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

const LONG_HELP: &str = "\
Without --rules the design document's defaults apply (rule-uuid-001: gdpr_art5, hipaa_164;
rule-uuid-002: pci_dss_req6); a rule with no regulations gives a false positive
(no_regulatory_mapping), and so does a LOW violation whose rule lacks the tag
low_tolerance (below_severity_threshold).

Lines that are not violations are not dropped: they go, with their line number and the
reason, to the rejects file (PII in them redacted unless --keep-pii), and are counted in
the summary. The output is written to OUT.partial and renamed to OUT when complete.

Exit codes: 0 done (even with rejected lines; see the summary); 1 internal error (such as a
failed write); 2 invalid input: unreadable --in, bad --rules, output not creatable.

Examples:
  genesys-compliance verify --in raw.jsonl --out verified.jsonl
  genesys-compliance verify --in raw.jsonl --out verified.jsonl --rules rules.toml
  cat raw.jsonl | genesys-compliance verify --in - --out - > verified.jsonl";

#[derive(Debug, clap::Args)]
#[command(after_long_help = LONG_HELP, after_help = "See --help for examples and exit codes.")]
pub struct Args {
    /// Input JSONL, one API violation object per line; `-` reads standard input
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Output JSONL of output records; `-` writes to standard output
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Rule matrix (TOML); the design document's defaults without it
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Keep PII in the evidence (findings are still reported)
    #[arg(long)]
    pub keep_pii: bool,
    /// Where lines that are not violations go, with the reason
    /// [default: OUT.rejects.jsonl; genesys-compliance-rejects.jsonl with --out -]
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
}

pub async fn run(args: Args) -> Outcome {
    // Pure CPU and file work: run it on a blocking thread, off the async workers.
    tokio::task::spawn_blocking(move || verify(&args))
        .await
        .map_err(|e| Failure::new(Exit::Internal, e))?
}

const IO_BUFFER: usize = 1 << 20;

fn verify(args: &Args) -> Outcome {
    let rules = match &args.rules {
        Some(path) => RuleMatrix::from_path(path).map_err(Failure::invalid)?,
        None => RuleMatrix::design_default(),
    };
    // The output is about the input's size and a verdict more a line: half
    // as much again is room enough for the disk reserved up front.
    let (input, expected): (Box<dyn Read>, u64) = if args.input == Path::new("-") {
        (Box::new(std::io::stdin().lock()), 0)
    } else {
        let file = File::open(&args.input).map_err(|e| {
            Failure::invalid(anyhow::anyhow!(
                "cannot read --in `{}`: {e}; give a JSONL file of violations, or `-` for standard input",
                args.input.display()
            ))
        })?;
        let len = file.metadata().map_or(0, |m| m.len());
        (Box::new(file), len.saturating_add(len / 2))
    };
    let mut input = BufReader::with_capacity(IO_BUFFER, input);
    let mut output = Output::create(&args.out, args.rejects.as_deref(), expected)?;
    let verifier = Verifier::new(rules, args.keep_pii);
    let mut tally = Tally::default();
    let started = Instant::now();
    let internal = |e: OutputError| Failure::new(Exit::Internal, e);

    // Lines are verified where they lie in the read buffer; only a line
    // that straddles two reads is copied (into `long`).
    let mut long = Vec::new();
    let mut number = 0u64;
    let read_error = |e: std::io::Error, number: u64| {
        Failure::invalid(anyhow::anyhow!(
            "cannot read --in `{}` at line {}: {e}",
            args.input.display(),
            number + 1
        ))
    };
    // UTF-8 is checked once per read buffer, not line by line.
    let mut utf8 = Utf8Lines::default();
    loop {
        let buf = input.fill_buf().map_err(|e| read_error(e, number))?;
        if buf.is_empty() {
            break;
        }
        let (line, used, text): (&[u8], usize, _) = match memchr::memchr(b'\n', buf) {
            Some(end) => (&buf[..end], end + 1, utf8.line(buf, end)),
            None => {
                long.clear();
                input
                    .read_until(b'\n', &mut long)
                    .map_err(|e| read_error(e, number))?;
                utf8.reset();
                (&long, 0, None)
            }
        };
        number += 1;
        let trimmed = line.trim_ascii();
        if !trimmed.is_empty() {
            // Records go straight into the output buffer: one copy fewer.
            let verified = match text {
                // Trimming ASCII white space leaves UTF-8 text.
                Some(known) => {
                    verifier.verify_json_text(known.trim_ascii(), &mut output.buf, &mut tally)
                }
                None => verifier.verify_json(trimmed, &mut output.buf, &mut tally),
            };
            match verified {
                Ok(()) => output.end_record().map_err(internal)?,
                Err(e) => {
                    let late = output.reject(
                        number,
                        &String::from_utf8_lossy(trimmed),
                        &e.to_string(),
                        args.keep_pii,
                    )?;
                    tally.add_late(late);
                }
            }
        }
        input.consume(used);
        utf8.consume(used);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rejects = output.finish()?;
    compliance_pipeline::warn_late_pii(tally.late());
    summary(&tally, elapsed, &rejects);
    Ok(Exit::Done)
}

/// The output and rejects files, by the pipeline's output rules: `OUT.partial`
/// renamed to `OUT` once complete, so that an interrupted run never leaves a
/// file that looks whole; standard output and devices written directly; the
/// rejects file beside the output, created on the first reject.
struct Output {
    /// Output records not yet written: the verifier serialises straight into it.
    buf: Vec<u8>,
    sink: FileSink,
    rejects: Rejects,
}

/// Lines that are not violations, with the reason.
struct Rejects {
    path: PathBuf,
    file: Option<JsonlFile>,
    count: u64,
}

impl Output {
    fn create(out: &Path, rejects: Option<&Path>, expected: u64) -> Result<Output, Failure> {
        let target = OutputTarget::parse(&out.to_string_lossy());
        let sink = FileSink::create(&target, expected).map_err(|e| match e {
            OutputError::File { path, source } => Failure::invalid(anyhow::anyhow!(
                "cannot create the output `{path}`: {source}; --out needs a writable path, or `-` for standard output",
            )),
            other => Failure::from(anyhow::Error::new(other)),
        })?;
        let path = rejects
            .map(Path::to_path_buf)
            .unwrap_or_else(|| target.rejects_path());
        Ok(Output {
            buf: Vec::with_capacity(IO_BUFFER + (IO_BUFFER >> 2)),
            sink,
            rejects: Rejects {
                path,
                file: None,
                count: 0,
            },
        })
    }

    /// Ends the record just appended to `buf`, writing out a full buffer.
    fn end_record(&mut self) -> Result<(), OutputError> {
        self.buf.push(b'\n');
        if self.buf.len() >= IO_BUFFER {
            self.sink.write_lines(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Records a line that is not a violation. Its text may carry PII, so it
    /// is redacted like evidence, and goes through the last pass, unless PII
    /// is kept. Says how many card numbers the last pass redacted.
    fn reject(
        &mut self,
        line: u64,
        text: &str,
        reason: &str,
        keep_pii: bool,
    ) -> Result<compliance_verify::late::Late, Failure> {
        let r = &mut self.rejects;
        if r.file.is_none() {
            let file = JsonlFile::create(&r.path).map_err(|e| {
                Failure::new(
                    Exit::Internal,
                    anyhow::anyhow!(
                        "cannot create the rejects file `{}`: {}",
                        r.path.display(),
                        match &e {
                            OutputError::File { source, .. } => source.to_string(),
                            other => other.to_string(),
                        }
                    ),
                )
            })?;
            r.file = Some(file);
        }
        let shown = if keep_pii {
            text.to_owned()
        } else {
            redact(text, &scan(text))
        };
        let entry = serde_json::json!({"line": line, "reason": reason, "text": shown});
        let file = r.file.as_mut().expect("created above");
        let late = compliance_pipeline::write_swept(&entry, keep_pii, |l| file.write(l))
            .map_err(|e| Failure::new(Exit::Internal, e))?;
        r.count += 1;
        Ok(late)
    }

    fn finish(mut self) -> Result<Rejects, Failure> {
        let internal = |e: OutputError| Failure::new(Exit::Internal, e);
        self.sink.write_lines(&self.buf).map_err(internal)?;
        if let Some(file) = self.rejects.file.as_mut() {
            file.commit().map_err(internal)?;
        }
        self.sink.finish().map_err(internal)?;
        Ok(self.rejects)
    }
}

fn summary(t: &Tally, seconds: f64, rejects: &Rejects) {
    let reasons = [Reason::NoRegulatoryMapping, Reason::BelowSeverityThreshold]
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.as_str(),
                t.by_reason.get(r).copied().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let pii = PiiType::ALL
        .iter()
        .map(|k| {
            format!(
                "{} {}",
                k.as_str(),
                t.pii_by_type.get(k).copied().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let rate = t.violations as f64 / seconds.max(1e-9);
    let mut s = format!(
        "verified {} violations in {seconds:.3} s ({rate:.0} violations/s)\n\
         \x20 validated {}, false positives {} ({reasons})\n\
         \x20 PII findings {} ({pii}); late_pii {}; violations without evidence {}\n\
         \x20 accuracy rate {:.4}\n",
        t.violations,
        t.validated,
        t.false_positives,
        t.pii_exposures,
        t.late_pii,
        t.missing_evidence,
        t.accuracy_rate(),
    );
    if rejects.count > 0 {
        s.push_str(&format!(
            "  rejected {} lines that are not violations: see {}\n",
            rejects.count,
            rejects.path.display()
        ));
    }
    eprint!("{s}");
}
