//! Where output records go. Every sink can `commit`: flush, sync to disk, and
//! say up to where the output is durable, so that a checkpoint can record it
//! and a restart can cut the file back to it.
//!
//! - [`FileSink`]: `extract --out FILE` writes `FILE.partial` and renames it
//!   to `FILE` once the extraction is complete, so a file that looks finished
//!   is finished; `--out -` writes to standard output.
//! - [`HourlySink`]: `serve --out-dir DIR` writes `violations-YYYYMMDDTHH.jsonl`
//!   after the UTC hour the batch was written in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where the output goes: `--out` (a file or standard output), or a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    Stdout,
    File(PathBuf),
    /// A JetStream stream, connected (`--sink nats://...`).
    Stream(crate::nats::NatsStream),
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

    /// The file beside the output that takes what could not be output:
    /// `OUT.rejects.jsonl`; `genesys-compliance-rejects.jsonl` in the working
    /// directory when the output is standard output, a device or a stream.
    pub fn rejects_path(&self) -> PathBuf {
        match self {
            OutputTarget::File(p) if !is_special(p) => {
                let mut name = p.as_os_str().to_owned();
                name.push(".rejects.jsonl");
                PathBuf::from(name)
            }
            _ => PathBuf::from("genesys-compliance-rejects.jsonl"),
        }
    }

    /// Where the output is written until it is complete: `FILE.partial`,
    /// for a regular file (or one yet to be created). Standard output, and a
    /// device or pipe such as `/dev/null`, are written directly: they can be
    /// neither renamed over nor cut back, so they are not checkpointed.
    pub fn partial_path(&self) -> Option<PathBuf> {
        match self {
            OutputTarget::File(p) if !is_special(p) => {
                let mut name = p.as_os_str().to_owned();
                name.push(".partial");
                Some(PathBuf::from(name))
            }
            _ => None,
        }
    }

    /// Whether the complete output, `len` bytes, is already in place: renamed
    /// from `FILE.partial` to `FILE` by a run that stopped right after. A
    /// stream holds a complete output as soon as its last batch is acknowledged.
    pub fn is_in_place(&self, len: u64) -> bool {
        match (self, self.partial_path()) {
            (OutputTarget::File(path), Some(partial)) => {
                !partial.exists() && std::fs::metadata(path).is_ok_and(|m| m.len() == len)
            }
            (OutputTarget::Stream(_), _) => true,
            _ => false,
        }
    }

    /// Whether a rerun can continue this output where it stopped: a file
    /// is cut back to its checkpoint, a stream drops what it already holds.
    pub fn is_resumable(&self) -> bool {
        self.partial_path().is_some() || matches!(self, OutputTarget::Stream(_))
    }
}

impl std::fmt::Display for OutputTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputTarget::Stdout => f.write_str("standard output"),
            OutputTarget::File(p) => write!(f, "{}", p.display()),
            OutputTarget::Stream(s) => s.fmt(f),
        }
    }
}

/// An output failure: a file, naming it, or the stream.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {source}; check that its directory exists and is writable")]
    File {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Stream(#[from] crate::nats::NatsError),
}

impl OutputError {
    pub(crate) fn at(path: &Path) -> impl Fn(io::Error) -> OutputError + '_ {
        move |source| OutputError::File {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Up to where a sink's output is durable: the file written last and its length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// `None` for standard output.
    pub file: Option<PathBuf>,
    pub offset: u64,
}

/// A destination of output records, one JSON object per line.
pub trait RecordSink: Send {
    /// Called before each batch: where a sink may switch files.
    fn start_batch(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    /// Appends one line.
    fn write(&mut self, line: &dyn erased::Line) -> Result<(), OutputError>;
    /// Makes everything written durable and says up to where.
    fn commit(&mut self) -> Result<Position, OutputError>;
}

/// Object-safe serialisation of one line.
pub mod erased {
    /// Anything that serialises to one JSON line.
    pub trait Line {
        fn write_json(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()>;
    }
    impl<T: serde::Serialize> Line for T {
        fn write_json(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }
}

const BUFFER: usize = 256 * 1024;

/// A JSONL file (or standard output) that resumes at a committed offset.
pub struct JsonlFile {
    path: Option<PathBuf>,
    out: BufWriter<Box<dyn Write + Send>>,
    /// The file to sync at each commit: `None` for standard output, a
    /// device, or a file no checkpoint will name.
    file: Option<File>,
    offset: u64,
    /// A new file with disk reserved ahead of its writes ([`JsonlFile::reserve`]),
    /// to release past its end when it is complete.
    reserved: Option<File>,
}

impl JsonlFile {
    /// Opens `path`, keeping its first `resume_at` bytes (what an earlier,
    /// interrupted run committed) and dropping anything after them; 0 starts
    /// afresh. Files are created readable by their owner only.
    pub fn open(path: &Path, resume_at: u64) -> Result<JsonlFile, OutputError> {
        JsonlFile::open_by(path, resume_at, open_private)
    }

    /// [`JsonlFile::open`], the file opened by `open` (given the path and
    /// whether to empty it).
    pub(crate) fn open_by(
        path: &Path,
        resume_at: u64,
        open: impl FnOnce(&Path, bool) -> io::Result<File>,
    ) -> Result<JsonlFile, OutputError> {
        let fail = OutputError::at(path);
        let existed = path.exists();
        let mut file = open(path, resume_at == 0).map_err(&fail)?;
        if !existed {
            // A checkpoint will name this file: its directory entry must
            // survive a power cut as surely as the lines synced into it.
            sync_parent(path).map_err(&fail)?;
        }
        let len = file.metadata().map_err(&fail)?.len();
        if len < resume_at {
            return Err(fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "it holds {len} bytes but the checkpoint says {resume_at} were committed; \
                     it was changed outside this program: move it away and start again"
                ),
            )));
        }
        file.set_len(resume_at).map_err(&fail)?;
        file.seek(SeekFrom::Start(resume_at)).map_err(&fail)?;
        let writer: Box<dyn Write + Send> = Box::new(file.try_clone().map_err(&fail)?);
        Ok(JsonlFile {
            path: Some(path.to_path_buf()),
            out: BufWriter::with_capacity(BUFFER, writer),
            file: Some(file),
            offset: resume_at,
            reserved: None,
        })
    }

    /// A new file (emptied if it exists) for output that is never resumed:
    /// no checkpoint names it, so commits flush without syncing to disk.
    pub fn create(path: &Path) -> Result<JsonlFile, OutputError> {
        JsonlFile::create_reserved(path, 0)
    }

    /// [`JsonlFile::create`] with disk for about `bytes` reserved at once,
    /// the file's size unchanged: the file system then allocates large
    /// extents up front instead of blocks page by page as the writes come,
    /// which takes half the system time of writing a large file
    /// (docs/benchmarks.md). What is left unused is given back when the
    /// file is complete ([`FileSink::finish`]); a file system that cannot
    /// reserve allocates as it goes, as without it.
    pub fn create_reserved(path: &Path, bytes: u64) -> Result<JsonlFile, OutputError> {
        let fail = OutputError::at(path);
        let file = open_private(path, true).map_err(&fail)?;
        let reserved = if bytes > 0 && reserve(&file, bytes) {
            Some(file.try_clone().map_err(&fail)?)
        } else {
            None
        };
        Ok(JsonlFile {
            path: Some(path.to_path_buf()),
            out: BufWriter::with_capacity(BUFFER, Box::new(file)),
            file: None,
            offset: 0,
            reserved,
        })
    }

    /// An existing device or pipe, written as it is (no truncation, no seek).
    fn stream(path: &Path) -> Result<JsonlFile, OutputError> {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(OutputError::at(path))?;
        Ok(JsonlFile {
            path: Some(path.to_path_buf()),
            out: BufWriter::with_capacity(BUFFER, Box::new(file)),
            file: None,
            offset: 0,
            reserved: None,
        })
    }

    /// Standard output.
    pub fn stdout() -> JsonlFile {
        JsonlFile {
            path: None,
            out: BufWriter::with_capacity(BUFFER, stdout()),
            file: None,
            offset: 0,
            reserved: None,
        }
    }

    fn name(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("standard output"))
    }

    pub fn write(&mut self, line: &dyn erased::Line) -> Result<(), OutputError> {
        let mut counter = Counting {
            inner: &mut self.out,
            written: 0,
        };
        let result = line
            .write_json(&mut counter)
            .map_err(io::Error::other)
            .and_then(|()| counter.write_all(b"\n"));
        self.offset += counter.written;
        result.map_err(|e| OutputError::at(&self.name())(e))
    }

    /// Appends lines already serialised, each ending in a newline: for a
    /// caller that serialises into a buffer of its own (`verify`).
    pub fn write_lines(&mut self, lines: &[u8]) -> Result<(), OutputError> {
        let result = self.out.write_all(lines);
        result.map_err(|e| OutputError::at(&self.name())(e))?;
        self.offset += lines.len() as u64;
        Ok(())
    }

    /// Gives back the disk reserved past the end of the file, once it is
    /// complete and flushed.
    fn release(&mut self) -> Result<(), OutputError> {
        match self.reserved.take() {
            Some(file) => file
                .set_len(self.offset)
                .map_err(|e| OutputError::at(&self.name())(e)),
            None => Ok(()),
        }
    }

    pub fn commit(&mut self) -> Result<Position, OutputError> {
        let name = self.name();
        let fail = OutputError::at(&name);
        self.out.flush().map_err(&fail)?;
        if let Some(file) = &self.file {
            file.sync_data().map_err(&fail)?;
        }
        Ok(Position {
            file: self.path.clone(),
            offset: self.offset,
        })
    }
}

/// The output of `extract` and `verify`: one file, written as `FILE.partial`
/// until [`FileSink::finish`].
pub struct FileSink {
    target: OutputTarget,
    file: JsonlFile,
    /// Whether the output is synced to disk: at each commit, and the rename.
    durable: bool,
}

impl FileSink {
    /// Opens the output, resuming at `resume_at` bytes of the partial file.
    /// Commits sync it to disk, so that a checkpoint can name them.
    pub fn open(target: &OutputTarget, resume_at: u64) -> Result<FileSink, OutputError> {
        FileSink::with(target, true, |partial| JsonlFile::open(partial, resume_at))
    }

    /// Opens the output of a run that is never resumed (`verify`): the same
    /// files and rename, without syncing to disk, since no checkpoint names it.
    /// `expected` is about how many bytes the run will write (0: unknown),
    /// reserved up front ([`JsonlFile::create_reserved`]).
    pub fn create(target: &OutputTarget, expected: u64) -> Result<FileSink, OutputError> {
        FileSink::with(target, false, |partial| {
            JsonlFile::create_reserved(partial, expected)
        })
    }

    fn with(
        target: &OutputTarget,
        durable: bool,
        open: impl FnOnce(&Path) -> Result<JsonlFile, OutputError>,
    ) -> Result<FileSink, OutputError> {
        let file = match (target, target.partial_path()) {
            (_, Some(partial)) => open(&partial)?,
            (OutputTarget::File(path), None) => JsonlFile::stream(path)?,
            (OutputTarget::Stdout, None) => JsonlFile::stdout(),
            (OutputTarget::Stream(stream), None) => {
                return Err(OutputError::File {
                    path: stream.to_string(),
                    source: io::Error::other("a stream is written by its own sink, not as a file"),
                })
            }
        };
        Ok(FileSink {
            target: target.clone(),
            file,
            durable,
        })
    }

    /// Appends lines already serialised (see [`JsonlFile::write_lines`]).
    pub fn write_lines(&mut self, lines: &[u8]) -> Result<(), OutputError> {
        self.file.write_lines(lines)
    }

    /// Commits and puts the complete output in place.
    pub fn finish(mut self) -> Result<(), OutputError> {
        self.file.commit()?;
        self.file.release()?;
        if let (OutputTarget::File(path), Some(partial)) =
            (&self.target, self.target.partial_path())
        {
            std::fs::rename(&partial, path).map_err(OutputError::at(path))?;
            if self.durable {
                sync_parent(path).map_err(OutputError::at(path))?;
            }
        }
        Ok(())
    }
}

impl RecordSink for FileSink {
    fn write(&mut self, line: &dyn erased::Line) -> Result<(), OutputError> {
        self.file.write(line)
    }
    fn commit(&mut self) -> Result<Position, OutputError> {
        self.file.commit()
    }
}

/// How often `serve`'s output files rotate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rotation {
    /// `violations-YYYYMMDDTHH.jsonl`, after the UTC hour.
    #[default]
    Hour,
    /// `violations-YYYYMMDD.jsonl`, after the UTC day.
    Day,
}

impl std::str::FromStr for Rotation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hour" | "hourly" => Ok(Rotation::Hour),
            "day" | "daily" => Ok(Rotation::Day),
            _ => Err(format!(
                "`{s}` is not a rotation period; allowed: hour, day"
            )),
        }
    }
}

/// `serve`'s output: `DIR/violations-YYYYMMDDTHH.jsonl` after the UTC hour a
/// batch is written in (or `violations-YYYYMMDD.jsonl` by day). A batch never
/// spans two files, so one position says everything a restart needs.
pub struct HourlySink {
    dir: PathBuf,
    rotation: Rotation,
    current: Option<(PathBuf, JsonlFile)>,
    clock: fn() -> DateTime<Utc>,
    /// Under a lease: the files as this worker found them, so that it never
    /// writes into one another worker made after a takeover.
    claimed: Option<crate::takeover::Claimed>,
}

impl HourlySink {
    pub const PREFIX: &'static str = "violations-";

    /// Opens the directory (creating it, owner-only), first cutting the output
    /// back to `committed`: the file it names is truncated to its offset, and
    /// files of later hours (written after the last commit) are emptied.
    pub fn open(
        dir: &Path,
        rotation: Rotation,
        committed: Option<&Position>,
    ) -> Result<HourlySink, OutputError> {
        create_private_dir(dir).map_err(OutputError::at(dir))?;
        if let Some(Position {
            file: Some(file),
            offset,
        }) = committed
        {
            let name = file
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            for entry in std::fs::read_dir(dir).map_err(OutputError::at(dir))? {
                let entry = entry.map_err(OutputError::at(dir))?;
                let other = entry.file_name();
                let later = other.to_string_lossy().starts_with(Self::PREFIX) && other > name;
                if later {
                    JsonlFile::open(&entry.path(), 0)?.commit()?;
                }
            }
            if file.exists() {
                JsonlFile::open(file, *offset)?.commit()?;
            }
        }
        Ok(HourlySink {
            dir: dir.to_path_buf(),
            rotation,
            current: None,
            clock: Utc::now,
            claimed: None,
        })
    }

    /// [`HourlySink::open`] for a worker under a lease, once its output is
    /// detached ([`crate::takeover::detach_output`]): it writes only into
    /// the files it found here now, or creates itself. A file another worker
    /// replaced or created since (after taking the lease over while this
    /// one was stalled) is an error, and is left untouched.
    pub fn open_leased(
        dir: &Path,
        rotation: Rotation,
        committed: Option<&Position>,
    ) -> Result<HourlySink, OutputError> {
        let mut sink = HourlySink::open(dir, rotation, committed)?;
        sink.claimed = Some(crate::takeover::Claimed::files_of(dir)?);
        Ok(sink)
    }

    /// Where the output stands before anything is written: the current
    /// period's file and its length. What a restart cuts back to when no
    /// batch was committed yet.
    pub fn position(&self) -> Result<Position, OutputError> {
        let file = Self::file_for(&self.dir, self.rotation, (self.clock)());
        let offset = match std::fs::metadata(&file) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(OutputError::at(&file)(e)),
        };
        Ok(Position {
            file: Some(file),
            offset,
        })
    }

    /// The file for the period of `at`.
    pub fn file_for(dir: &Path, rotation: Rotation, at: DateTime<Utc>) -> PathBuf {
        let period = match rotation {
            Rotation::Hour => at.format("%Y%m%dT%H"),
            Rotation::Day => at.format("%Y%m%d"),
        };
        dir.join(format!("{}{period}.jsonl", Self::PREFIX))
    }

    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> Self {
        self.clock = clock;
        self
    }
}

impl RecordSink for HourlySink {
    fn start_batch(&mut self) -> Result<(), OutputError> {
        let path = Self::file_for(&self.dir, self.rotation, (self.clock)());
        if self.current.as_ref().is_some_and(|(p, _)| *p == path) {
            return Ok(());
        }
        if let Some((_, mut old)) = self.current.take() {
            old.commit()?;
        }
        // Everything already in the file is committed (open() cut the rest).
        let existing = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let file = match &self.claimed {
            Some(claimed) => JsonlFile::open_by(&path, existing, |path, _| claimed.open(path))?,
            None => JsonlFile::open(&path, existing)?,
        };
        self.current = Some((path, file));
        Ok(())
    }

    fn write(&mut self, line: &dyn erased::Line) -> Result<(), OutputError> {
        if self.current.is_none() {
            self.start_batch()?;
        }
        self.current.as_mut().expect("opened above").1.write(line)
    }

    fn commit(&mut self) -> Result<Position, OutputError> {
        match self.current.as_mut() {
            Some((_, file)) => file.commit(),
            None => Ok(Position::default()),
        }
    }
}

/// Standard output without the line buffering of `std::io::Stdout`, which
/// would scan every block written for newlines and double the work.
fn stdout() -> Box<dyn Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(File::from(fd));
        }
    }
    Box::new(io::stdout())
}

/// An existing path that is not a regular file: a device, a pipe, a socket.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Reserves `bytes` of disk for `file` from its start without changing its
/// size (see [`JsonlFile::create_reserved`]); says whether it did.
#[cfg(target_os = "linux")]
fn reserve(file: &File, bytes: u64) -> bool {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(bytes).unwrap_or(libc::off_t::MAX);
    // SAFETY: fallocate reads no memory; the descriptor is open for writing.
    unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn reserve(_file: &File, _bytes: u64) -> bool {
    false
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

/// Creates `dir` (and its parents) owner-only; a new directory's entry is
/// synced, like a new file's.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    sync_parent(dir)
}

/// Makes a rename or a new entry durable: sync the directory that holds it.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(parent)?.sync_all()?;
    }
    let _ = path;
    Ok(())
}

/// Counts bytes on their way to the writer, so offsets need no `seek`.
struct Counting<'a, W: Write> {
    inner: &'a mut W,
    written: u64,
}

impl<W: Write> Write for Counting<'_, W> {
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
        let mut sink = FileSink::open(&target, 0).unwrap();
        sink.write(&json!({"id": 1})).unwrap();
        let committed = sink.commit().unwrap();
        sink.write(&json!({"id": 2})).unwrap();
        sink.commit().unwrap();
        drop(sink);
        assert!(!dir.path().join("out.jsonl").exists(), "not complete yet");

        let mut sink = FileSink::open(&target, committed.offset).unwrap();
        sink.write(&json!({"id": 3})).unwrap();
        sink.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
        assert_eq!(text, "{\"id\":1}\n{\"id\":3}\n");
        assert!(!dir.path().join("out.jsonl.partial").exists());
    }

    #[test]
    fn a_file_shorter_than_its_checkpoint_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = OutputTarget::File(dir.path().join("out.jsonl"));
        std::fs::write(dir.path().join("out.jsonl.partial"), "{}\n").unwrap();
        let err = FileSink::open(&target, 100).err().unwrap();
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
        FileSink::open(&target, 0).unwrap().finish().unwrap();
        let mode = std::fs::metadata(dir.path().join("out.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// Disk reserved for a new output is held while it is written, the
    /// file's size counting only what was written, and the rest is given
    /// back once it is complete. (Linux file systems reserve; ext4 here.)
    #[cfg(target_os = "linux")]
    #[test]
    fn disk_reserved_for_the_output_is_given_back_when_it_is_complete() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let target = OutputTarget::File(dir.path().join("out.jsonl"));
        let mut sink = FileSink::create(&target, 8 << 20).unwrap();
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..1024 {
            sink.write_lines(line.as_bytes()).unwrap();
        }
        let on_disk = |name: &str| {
            let meta = std::fs::metadata(dir.path().join(name)).unwrap();
            (meta.len(), meta.blocks() * 512)
        };
        let (_, held) = on_disk("out.jsonl.partial");
        assert!(held >= 8 << 20, "{held} bytes held while written");
        sink.finish().unwrap();
        let (len, held) = on_disk("out.jsonl");
        assert_eq!(len, 1 << 20);
        assert!(held < len + (64 << 10), "{held} bytes held for {len}");
    }

    #[test]
    fn rejects_live_beside_the_output() {
        let t = OutputTarget::parse("/tmp/x/violations.jsonl");
        assert_eq!(
            t.rejects_path(),
            PathBuf::from("/tmp/x/violations.jsonl.rejects.jsonl")
        );
        assert_eq!(
            OutputTarget::Stdout.rejects_path(),
            PathBuf::from("genesys-compliance-rejects.jsonl")
        );
        assert_eq!(OutputTarget::parse("-"), OutputTarget::Stdout);
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_is_written_directly_and_never_renamed_over() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        let target = OutputTarget::File(fifo.clone());
        assert!(!target.is_resumable());
        let mut sink = FileSink::open(&target, 0).unwrap();
        sink.write(&json!({"id": 1})).unwrap();
        sink.finish().unwrap();
        assert_eq!(reader.join().unwrap(), "{\"id\":1}\n");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "still a pipe");
        assert!(!dir.path().join("out.fifo.partial").exists());
    }

    fn ten_past_nine() -> DateTime<Utc> {
        "2023-10-01T09:10:00Z".parse().unwrap()
    }
    fn ten_past_ten() -> DateTime<Utc> {
        "2023-10-01T10:10:00Z".parse().unwrap()
    }

    #[test]
    fn hourly_files_are_named_after_the_hour_and_cut_back_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = HourlySink::open(dir.path(), Rotation::Hour, None)
            .unwrap()
            .with_clock(ten_past_nine);
        sink.start_batch().unwrap();
        sink.write(&json!({"id": 1})).unwrap();
        let committed = sink.commit().unwrap();
        sink.write(&json!({"id": 2})).unwrap(); // never committed
        sink.commit().unwrap();
        let mut later = HourlySink::open(dir.path(), Rotation::Hour, None)
            .unwrap()
            .with_clock(ten_past_ten);
        later.start_batch().unwrap();
        later.write(&json!({"id": 3})).unwrap(); // never committed either
        later.commit().unwrap();

        // A restart from the first commit keeps exactly what it covered.
        HourlySink::open(dir.path(), Rotation::Hour, Some(&committed)).unwrap();
        let nine = dir.path().join("violations-20231001T09.jsonl");
        let ten = dir.path().join("violations-20231001T10.jsonl");
        assert_eq!(committed.file.as_deref(), Some(nine.as_path()));
        assert_eq!(std::fs::read_to_string(nine).unwrap(), "{\"id\":1}\n");
        assert_eq!(std::fs::read_to_string(ten).unwrap(), "");
    }

    #[test]
    fn daily_files_are_named_after_the_day() {
        let at = ten_past_nine();
        let dir = Path::new("/out");
        assert_eq!(
            HourlySink::file_for(dir, Rotation::Day, at),
            PathBuf::from("/out/violations-20231001.jsonl")
        );
        assert_eq!("day".parse::<Rotation>().unwrap(), Rotation::Day);
        let err = "weekly".parse::<Rotation>().unwrap_err();
        assert!(err.contains("allowed: hour, day"), "{err}");
    }
}
