//! The report's input: output records from files, directories of `serve`'s
//! hourly files, or standard input, read one line at a time.

use crate::ReportError;
use compliance_verify::OutputRecord;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One place output records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// One JSONL file.
    File(PathBuf),
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Stdin => f.write_str("standard input"),
            Input::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What `--in` names: `-`, files and directories, comma-separated. A
/// directory stands for its `*.jsonl` files (rejects files excepted), in
/// name order, which for `serve`'s `violations-YYYYMMDDTHH.jsonl` is time order.
pub fn resolve(spec: &str) -> Result<Vec<Input>, ReportError> {
    let refuse = |why: String| ReportError::Inputs {
        spec: spec.to_owned(),
        why,
    };
    let mut inputs = Vec::new();
    for part in spec.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(refuse(
                "an empty name; give FILE[,FILE...], a directory, or -".into(),
            ));
        }
        if part == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = Path::new(part);
        let meta =
            std::fs::metadata(path).map_err(|e| refuse(format!("cannot read `{part}`: {e}")))?;
        if meta.is_dir() {
            inputs.extend(
                jsonl_files(path).map_err(|e| refuse(format!("cannot list `{part}`: {e}")))?,
            );
        } else {
            inputs.push(Input::File(path.to_path_buf()));
        }
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(refuse(
            "`-` given twice; standard input can be read once".into(),
        ));
    }
    Ok(inputs)
}

fn jsonl_files(dir: &Path) -> std::io::Result<Vec<Input>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && name.ends_with(".jsonl") && !name.ends_with(".rejects.jsonl")
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(Input::File).collect())
}

/// Reads every output record of `inputs` in order, handing each to `each`.
/// A line that is not an output record stops the report, naming its file
/// and line: a report must not quietly leave records out.
pub fn read_records(
    inputs: &[Input],
    mut each: impl FnMut(OutputRecord),
) -> Result<(), ReportError> {
    for input in inputs {
        let reader: Box<dyn Read> = match input {
            Input::Stdin => Box::new(std::io::stdin().lock()),
            Input::File(path) => {
                Box::new(
                    std::fs::File::open(path).map_err(|e| ReportError::Unreadable {
                        input: input.to_string(),
                        why: e.to_string(),
                    })?,
                )
            }
        };
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let mut line = String::new();
        let mut number = 0usize;
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| ReportError::Unreadable {
                    input: input.to_string(),
                    why: e.to_string(),
                })?;
            if n == 0 {
                break;
            }
            number += 1;
            let text = line.trim_end();
            if text.is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<OutputRecord>(text);
            // A last line without its newline that does not parse is a record
            // still being written (`serve`'s current hourly file): not yet output.
            if parsed.is_err() && !line.ends_with('\n') {
                break;
            }
            let record: OutputRecord = parsed.map_err(|e| ReportError::Record {
                input: input.to_string(),
                line: number,
                // serde quotes values it refuses: redact them too.
                why: crate::Redacted::new(&e.to_string()).as_str().to_owned(),
            })?;
            each(record);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_still_being_written_is_left_out_and_a_broken_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let line = r#"{"violation":{"id":"v1","ruleId":"r","severity":"LOW","detectedAt":"2023-10-01T00:00:00Z"},"verdict":{"status":"validated","reason":null,"regulations":[],"pii":[]}}"#;
        let torn = dir.path().join("torn.jsonl");
        std::fs::write(&torn, format!("{line}\n{}", &line[..40])).unwrap();
        let mut n = 0;
        read_records(&[Input::File(torn)], |_| n += 1).unwrap();
        assert_eq!(n, 1);

        let broken = dir.path().join("broken.jsonl");
        std::fs::write(&broken, format!("{}\n{line}\n", &line[..40])).unwrap();
        let err = read_records(&[Input::File(broken)], |_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("broken.jsonl line 1 is not an output record"),
            "{err}"
        );
    }
}
