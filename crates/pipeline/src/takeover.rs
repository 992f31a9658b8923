//! What a worker does to an org's output files when it runs the org under a
//! lease: files cannot check a fencing token, so the committed file is
//! replaced by a copy of its committed part, and the files of later periods
//! are removed. A worker that lost the lease and still holds those files
//! open then writes into files no longer in the directory: whatever it
//! writes after the takeover is gone, and the new holder re-reads it.

use crate::output::{HourlySink, OutputError, Position};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

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
}
