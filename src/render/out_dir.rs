//! `--out-dir`: the files a render owns there (recognised by their
//! header), how they drift from a fresh render, and writing them so that a
//! reader never sees half a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{MARKER, Output};

/// How the files under `--out-dir` differ from a fresh render.
#[derive(Debug, Default)]
pub struct Drift {
    /// A unified diff per differing file, missing and stale ones included.
    pub diffs: Vec<String>,
}

/// Files kexpose wrote earlier into `dir` (recognised by their header).
fn own_files(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yaml") || !entry.file_type()?.is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if text.lines().nth(1) == Some(MARKER) {
            out.insert(name, text);
        }
    }
    Ok(out)
}

/// Compares a fresh render with `dir`.
pub fn drift(outputs: &[Output], dir: &Path) -> std::io::Result<Drift> {
    let mut existing = own_files(dir)?;
    let mut diffs = Vec::new();
    for o in outputs {
        let file = o.file_name();
        let path = dir.join(&file);
        let want = o.file_text();
        let have = match existing.remove(&file) {
            Some(t) => t,
            None => match std::fs::read(&path) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e),
            },
        };
        if have != want {
            diffs.push(unified(&have, &want, &path));
        }
    }
    for (file, text) in existing {
        diffs.push(unified(&text, "", &dir.join(file)));
    }
    Ok(Drift { diffs })
}

pub(crate) fn unified(old: &str, new: &str, path: &Path) -> String {
    let shown = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{shown}"), &format!("b/{shown}"))
        .to_string()
}

/// What `write_dir` did, for the one-line summary every run ends with.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub written: usize,
    pub unchanged: usize,
    /// File names of earlier renders' output that this one no longer produces.
    pub removed: Vec<String>,
}

impl std::fmt::Display for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} written, {} unchanged, {} removed",
            self.written,
            self.unchanged,
            self.removed.len()
        )?;
        if !self.removed.is_empty() {
            write!(f, " ({})", self.removed.join(", "))?;
        }
        Ok(())
    }
}

/// Why `write_dir` wrote nothing.
#[derive(Debug)]
pub enum WriteError {
    /// Files at target paths that kexpose did not write (no header): they
    /// are someone's work, and are never replaced.
    Foreign(Vec<PathBuf>),
    Io(std::io::Error),
}

impl From<std::io::Error> for WriteError {
    fn from(e: std::io::Error) -> Self {
        WriteError::Io(e)
    }
}

/// Writes the outputs into `dir`, each file atomically (a temporary file in
/// the same directory, synced, then renamed over the old one), and removes
/// files an earlier render wrote that this one no longer produces.
///
/// Only kexpose's own files (recognised by their header) are replaced or
/// removed. A file without the header at a path an output needs is an
/// error before anything is written: a hand-written manifest that happens
/// to be named like an output is not overwritten. Files whose content is
/// already right are not touched, so their timestamps stay and file
/// watchers stay quiet.
pub fn write_dir(outputs: &[Output], dir: &Path) -> Result<Written, WriteError> {
    use rayon::prelude::*;
    let mut existing = own_files(dir)?;
    let mut changed = Vec::new();
    let mut foreign = Vec::new();
    let mut done = Written::default();
    for o in outputs {
        let file = o.file_name();
        let path = dir.join(&file);
        let text = o.file_text();
        match existing.remove(&file) {
            Some(old) if old == text => done.unchanged += 1,
            Some(_) => changed.push((path, text)),
            None if std::fs::symlink_metadata(&path).is_ok() => foreign.push(path),
            None => changed.push((path, text)),
        }
    }
    if !foreign.is_empty() {
        return Err(WriteError::Foreign(foreign));
    }
    std::fs::create_dir_all(dir)?;
    // Syncing dominates; files are independent, so sync them in parallel.
    changed
        .par_iter()
        .try_for_each(|(path, text)| write_atomic(path, text.as_bytes()))?;
    done.written = changed.len();
    for file in existing.into_keys() {
        std::fs::remove_file(dir.join(&file))?;
        done.removed.push(file);
    }
    Ok(done)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_file(path, bytes, true)
}

/// Replaces `path` with `bytes` through a temporary file and a rename, so
/// a reader sees the old file or the new one, never part of either. With
/// `sync`, the data is on disk before the rename (rendered output that a
/// deployment reads); `check --fix` edits files under version control and
/// skips that wait, as formatters do.
pub fn replace_file(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp: PathBuf = dir.join(format!(
        ".{}.kexpose-{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
