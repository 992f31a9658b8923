//! Where output records go: a JSONL file whose committed position can be
//! checkpointed and resumed, or standard output.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where `--out` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    Stdout,
    File(PathBuf),
}

impl OutputTarget {
    /// `-` is standard output; anything else a file path.
    pub fn parse(s: &str) -> OutputTarget {
        if s == "-" {
            OutputTarget::Stdout
        } else {
            OutputTarget::File(PathBuf::from(s))
        }
    }

    /// The file beside the output that takes what could not be output
    /// (`violations.jsonl` → `violations.rejects.jsonl`); in the working
    /// directory when the output is standard output.
    pub fn rejects_path(&self) -> PathBuf {
        match self {
            OutputTarget::Stdout => PathBuf::from("rejects.jsonl"),
            OutputTarget::File(p) => {
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
                let name = format!("{}.rejects.jsonl", stem.as_deref().unwrap_or("output"));
                p.with_file_name(name)
            }
        }
    }
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputTarget::Stdout => f.write_str("standard output"),
            OutputTarget::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// An output failure, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}; check that its directory exists and is writable")]
pub struct OutputError {
    pub path: String,
    #[source]
    pub source: io::Error,
}

/// A JSONL sink. Lines are buffered; [`JsonlSink::commit`] makes everything
/// written so far durable and returns the byte position a checkpoint may record.
pub struct JsonlSink {
    name: String,
    inner: Inner,
    position: u64,
    lines: u64,
}

enum Inner {
    File(BufWriter<File>),
    Stdout(BufWriter<io::Stdout>),
}

const BUFFER: usize = 256 * 1024;

impl JsonlSink {
    /// Opens the target, keeping its first `resume_at` bytes (what an earlier,
    /// interrupted run committed) and dropping anything after them. `resume_at`
    /// 0 starts a new file. Files are created readable by their owner only.
    pub fn open(target: &OutputTarget, resume_at: u64) -> Result<JsonlSink, OutputError> {
        match target {
            OutputTarget::Stdout => Ok(JsonlSink {
                name: target.to_string(),
                inner: Inner::Stdout(BufWriter::with_capacity(BUFFER, io::stdout())),
                position: 0,
                lines: 0,
            }),
            OutputTarget::File(path) => {
                let fail = |source| OutputError {
                    path: path.display().to_string(),
                    source,
                };
                let mut file = open_private(path, resume_at == 0).map_err(fail)?;
                let len = file.metadata().map_err(fail)?.len();
                if len < resume_at {
                    return Err(fail(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "it holds {len} bytes but the checkpoint says {resume_at} were committed; \
                             it was changed outside this program: move it away and start again"
                        ),
                    )));
                }
                file.set_len(resume_at).map_err(fail)?;
                file.seek(SeekFrom::Start(resume_at)).map_err(fail)?;
                Ok(JsonlSink {
                    name: path.display().to_string(),
                    inner: Inner::File(BufWriter::with_capacity(BUFFER, file)),
                    position: resume_at,
                    lines: 0,
                })
            }
        }
    }

    /// Appends one value as one line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<(), OutputError> {
        let name = &self.name;
        let fail = |source| OutputError {
            path: name.clone(),
            source,
        };
        let mut counter = Counting {
            inner: match &mut self.inner {
                Inner::File(w) => w as &mut dyn Write,
                Inner::Stdout(w) => w as &mut dyn Write,
            },
            written: 0,
        };
        serde_json::to_writer(&mut counter, value).map_err(|e| fail(io::Error::other(e)))?;
        counter.write_all(b"\n").map_err(fail)?;
        self.position += counter.written;
        self.lines += 1;
        Ok(())
    }

    /// Flushes the buffer and, for a file, syncs it to disk. Returns the
    /// position up to which the output is durable.
    pub fn commit(&mut self) -> Result<u64, OutputError> {
        let fail = |source| OutputError {
            path: self.name.clone(),
            source,
        };
        match &mut self.inner {
            Inner::File(w) => {
                w.flush().map_err(fail)?;
                w.get_ref().sync_data().map_err(fail)?;
            }
            Inner::Stdout(w) => w.flush().map_err(fail)?,
        }
        Ok(self.position)
    }

    /// Bytes written so far (committed or not).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Lines written by this sink since it was opened.
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

fn open_private(path: &Path, truncate: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).write(true).read(true);
    if truncate {
        options.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Counts bytes on their way to the writer, so positions need no `seek`.
struct Counting<'a> {
    inner: &'a mut dyn Write,
    written: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resuming_keeps_the_committed_lines_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let target = OutputTarget::File(dir.path().join("out.jsonl"));
        let mut sink = JsonlSink::open(&target, 0).unwrap();
        sink.write(&json!({"id": 1})).unwrap();
        let committed = sink.commit().unwrap();
        sink.write(&json!({"id": 2})).unwrap();
        sink.commit().unwrap();
        drop(sink);

        let mut sink = JsonlSink::open(&target, committed).unwrap();
        sink.write(&json!({"id": 3})).unwrap();
        sink.commit().unwrap();
        let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        assert_eq!(text, "{\"id\":1}\n{\"id\":3}\n");
        assert_eq!(sink.position(), text.len() as u64);
    }

    #[test]
    fn a_file_shorter_than_its_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = OutputTarget::File(dir.path().join("out.jsonl"));
        std::fs::write(dir.path().join("out.jsonl"), "{}\n").unwrap();
        let err = JsonlSink::open(&target, 100).err().unwrap();
        assert!(
            err.to_string().contains("changed outside this program"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn output_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = OutputTarget::File(dir.path().join("out.jsonl"));
        JsonlSink::open(&target, 0).unwrap();
        let mode = std::fs::metadata(dir.path().join("out.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn rejects_live_beside_the_output() {
        let t = OutputTarget::parse("/tmp/x/violations.jsonl");
        assert_eq!(
            t.rejects_path(),
            PathBuf::from("/tmp/x/violations.rejects.jsonl")
        );
        assert_eq!(OutputTarget::parse("-"), OutputTarget::Stdout);
    }
}
