//! What a worker does to an org's output files when it runs the org under a
//! lease: files cannot check a fencing token, so the committed file is
//! replaced by a copy of its committed part, and the files of later periods
//! are removed. A worker that lost the lease and still holds those files
//! open then writes into files no longer in the directory: whatever it
//! writes after the takeover is gone, and the new holder re-reads it.

use crate::output::{HourlySink, OutputError, Position};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Detaches the output of `dir` from every open handle, keeping what
/// `committed` says is durable (see the module documentation).
pub(crate) fn detach_output(dir: &Path, committed: &Position) -> Result<(), OutputError> {
    let Some(file) = &committed.file else {
        return Ok(());
    };
    let name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(()); // no directory yet: nothing to detach
    };
    for entry in entries {
        let entry = entry.map_err(OutputError::at(dir))?;
        let other = entry.file_name();
        if other.to_string_lossy().starts_with(HourlySink::PREFIX) && other > name {
            fs::remove_file(entry.path()).map_err(OutputError::at(&entry.path()))?;
        }
    }
    if file.exists() {
        let copy = file.with_extension("jsonl.takeover");
        copy_prefix(file, &copy, committed.offset).map_err(OutputError::at(&copy))?;
        fs::rename(&copy, file).map_err(OutputError::at(file))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(OutputError::at(dir))?;
    }
    Ok(())
}

/// The output files of a directory as a worker found them once its output
/// was detached: each by its identity on disk (device and inode). A takeover
/// replaces files by copies (new identities) and removes later ones, so a
/// worker that lost its lease and opens a file by its name afterwards finds
/// another file there, or one it did not find: it must not write into it.
#[derive(Debug)]
pub(crate) struct Claimed {
    files: HashMap<PathBuf, (u64, u64)>,
}

impl Claimed {
    /// The output files of `dir` now.
    pub(crate) fn files_of(dir: &Path) -> Result<Claimed, OutputError> {
        let mut files = HashMap::new();
        for entry in fs::read_dir(dir).map_err(OutputError::at(dir))? {
            let entry = entry.map_err(OutputError::at(dir))?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(HourlySink::PREFIX)
            {
                let meta = entry.metadata().map_err(OutputError::at(&entry.path()))?;
                files.insert(entry.path(), identity(&meta));
            }
        }
        Ok(Claimed { files })
    }

    /// Opens `path` for writing: a file found at the claim, if it is still
    /// the same file; otherwise a new file, created here and now.
    pub(crate) fn open(&self, path: &Path) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.write(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let stolen = || {
            io::Error::other(
                "another worker replaced or created it after taking this org's lease over: \
                 this worker no longer holds the lease, and writes nothing",
            )
        };
        match self.files.get(path) {
            Some(found) => {
                let file = options.open(path).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => stolen(),
                    _ => e,
                })?;
                if identity(&file.metadata()?) != *found {
                    return Err(stolen());
                }
                Ok(file)
            }
            None => options
                .create_new(true)
                .open(path)
                .map_err(|e| match e.kind() {
                    io::ErrorKind::AlreadyExists => stolen(),
                    _ => e,
                }),
        }
    }
}

/// A file's device and inode: what stays the same while it is renamed and
/// changes when it is replaced by a copy.
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    // No inode: the length at the claim, a weaker check.
    (0, meta.len())
}

/// Writes the first `len` bytes of `from` to a new file `to`, durably.
fn copy_prefix(from: &Path, to: &Path, len: u64) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options.open(to)?;
    io::copy(&mut File::open(from)?.take(len), &mut out)?;
    out.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_stale_writer_s_lines_land_outside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join("violations-20261206T10.jsonl");
        let later = dir.path().join("violations-20261206T11.jsonl");
        let earlier = dir.path().join("violations-20261206T09.jsonl");
        fs::write(&earlier, "e\n").unwrap();
        fs::write(&current, "a\nb\nuncommitted\n").unwrap();
        fs::write(&later, "x\n").unwrap();
        let append = |path: &Path| OpenOptions::new().append(true).open(path).unwrap();
        let (mut stale, mut stale_later) = (append(&current), append(&later));

        let committed = Position {
            file: Some(current.clone()),
            offset: 4,
        };
        detach_output(dir.path(), &committed).unwrap();
        stale.write_all(b"stale\n").unwrap();
        stale_later.write_all(b"stale\n").unwrap();

        assert_eq!(fs::read_to_string(&current).unwrap(), "a\nb\n");
        assert!(!later.exists(), "a later period's file is removed");
        assert_eq!(
            fs::read_to_string(&earlier).unwrap(),
            "e\n",
            "earlier files stay"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no copy left behind: {names:?}");
    }

    /// A worker stalled past its lease that opens its files by name after
    /// the takeover (the next period's, or the current one's first batch)
    /// writes into none of the new holder's: it is refused, and their
    /// files stay as the new holder wrote them.
    #[test]
    fn a_stale_worker_opening_files_after_the_takeover_is_refused() {
        use crate::output::{HourlySink, RecordSink, Rotation};
        let dir = tempfile::tempdir().unwrap();
        let current = dir.path().join("violations-20261206T10.jsonl");
        fs::write(&current, "a\n").unwrap();
        let committed = Position {
            file: Some(current.clone()),
            offset: 2,
        };
        // The stale worker detached and claimed the files, then stalled.
        detach_output(dir.path(), &committed).unwrap();
        let stale = Claimed::files_of(dir.path()).unwrap();
        // The new holder detaches (a new copy of the file) and writes on,
        // into this period's file and the next.
        detach_output(dir.path(), &committed).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(&current)
            .unwrap()
            .write_all(b"b\n")
            .unwrap();
        let next = dir.path().join("violations-20261206T11.jsonl");
        fs::write(&next, "c\n").unwrap();

        for path in [&current, &next] {
            let err = stale.open(path).unwrap_err();
            assert!(
                err.to_string().contains("no longer holds the lease"),
                "{err}"
            );
        }
        assert_eq!(fs::read_to_string(&current).unwrap(), "a\nb\n");
        assert_eq!(fs::read_to_string(&next).unwrap(), "c\n");

        // A worker that still holds its lease opens what it found, and makes new files.
        let holder = Claimed::files_of(dir.path()).unwrap();
        assert!(holder.open(&current).is_ok());
        assert!(holder
            .open(&dir.path().join("violations-20261206T12.jsonl"))
            .is_ok());

        // Through the sink: the first batch of a stale worker is refused.
        fn ten_past_ten() -> chrono::DateTime<chrono::Utc> {
            "2026-12-06T10:10:00Z".parse().unwrap()
        }
        let mut sink = HourlySink::open_leased(dir.path(), Rotation::Hour, Some(&committed))
            .unwrap()
            .with_clock(ten_past_ten);
        detach_output(dir.path(), &committed).unwrap();
        assert!(sink.start_batch().is_err());
    }
}
