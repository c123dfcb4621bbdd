//! Inputs: files, directories and stdin, read with limits so that one bad
//! file becomes one finding and never stops the others.

use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::diagnostic::Position;
use crate::policy::Policy;
use crate::report::FileReport;
use crate::rules::Code;

/// Files larger than this are refused (P005) unless `--max-file-size` says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// A path with `.` and `..` folded (no symlinks are resolved).
pub fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl Input {
    /// Whether two inputs name the same file, however the path is spelled
    /// (`a.yaml`, `./a.yaml`).
    pub fn same(&self, other: &Input) -> bool {
        match (self, other) {
            (Input::File(a), Input::File(b)) => normal(a) == normal(b),
            (a, b) => a == b,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Expands the command line's paths: `-` is stdin, directories are walked
/// for `*.yaml`, `*.yml` and `*.json` (hidden directories skipped), and
/// named files are taken whatever their extension.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, Unfound> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|source| Unfound::Directory {
                path: p.clone(),
                source,
            })?;
            out.extend(found.into_iter().map(Input::File));
        } else if p.exists() {
            out.push(Input::File(p.clone()));
        } else {
            return Err(Unfound::Missing(p.clone()));
        }
    }
    Ok(out)
}

/// Why a path given cannot be expanded into inputs.
#[derive(Debug, thiserror::Error)]
pub enum Unfound {
    #[error("cannot read directory {}: {source}", path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no such file or directory", .0.display())]
    Missing(PathBuf),
}

/// The manifests below `dir`, in path order. Each directory's entries are
/// sorted by name and walked in that order, which is the order of sorting
/// the whole paths by component, without comparing whole paths (on 10,000
/// files that sort was a tenth of the run, on one thread).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        entries.push((entry.file_name(), entry));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, entry) in entries {
        let path = entry.path();
        let hidden = name.as_encoded_bytes().starts_with(b".");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !hidden {
                walk(&path, out)?;
            }
        } else if is_manifest(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Bytes each thread keeps for reading files: more than most manifests.
const SCRATCH_SIZE: usize = 64 * 1024;

thread_local! {
    /// Where this thread reads files (see `read_limited`).
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(SCRATCH_SIZE));
}

/// Reads at most `max + 1` bytes, so an oversized input is detected without
/// being held in memory.
pub fn read_limited(input: &Input, max: u64) -> std::io::Result<Vec<u8>> {
    let Input::File(p) = input else {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .take(max + 1)
            .read_to_end(&mut buf)?;
        return Ok(buf);
    };
    // A manifest in one read: into the thread's buffer, then copied at its
    // size. Into an empty vector, `read_to_end` starts with a 32-byte probe
    // and grows, a read call at each step.
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        let read = std::fs::File::open(p).and_then(|f| f.take(max + 1).read_to_end(scratch));
        let bytes = scratch.clone();
        // A large file's buffer is not kept for the rest of the run.
        if scratch.capacity() > 16 * SCRATCH_SIZE {
            *scratch = Vec::with_capacity(SCRATCH_SIZE);
        }
        read.map(|_| bytes)
    })
}

/// The text of an input, or the P-code finding that says why there is none.
pub fn decode(bytes: &[u8], max: u64) -> Result<&str, (Code, String, Position)> {
    let start = Position { line: 1, column: 1 };
    if bytes.len() as u64 > max {
        return Err((
            Code::P005,
            format!("file is larger than the {max}-byte limit"),
            start,
        ));
    }
    if bytes.contains(&0) {
        return Err((
            Code::P004,
            "file contains NUL bytes; it is binary, not YAML or JSON".into(),
            start,
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() as u32 + 1;
        (
            Code::P003,
            format!(
                "file is not valid UTF-8 (invalid byte 0x{:02x})",
                bytes[e.valid_up_to()]
            ),
            Position { line, column },
        )
    })
}

/// Why an input has no text.
#[derive(Debug)]
pub enum Unreadable {
    Io(std::io::Error),
    /// Too large, binary or not UTF-8: the P-code, message and place.
    Content(Code, String, Position),
}

/// Where a text holds unrendered Helm or Go template syntax: the first `{{`
/// that a `}}` closes on the same line, outside comment lines. Such a file
/// is a template of manifests, not a manifest: its YAML would only yield
/// confusing syntax or format errors.
pub fn unrendered_template(text: &str) -> Option<Position> {
    if !text.contains("{{") {
        return None;
    }
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(open) = line.find("{{")
            && line[open + 2..].contains("}}")
        {
            return Some(Position {
                line: u32::try_from(n + 1).unwrap_or(u32::MAX),
                column: u32::try_from(line[..open].chars().count() + 1).unwrap_or(u32::MAX),
            });
        }
    }
    None
}

/// The text of one input, read within `max` bytes and decoded.
pub fn text(input: &Input, max: u64) -> Result<String, Unreadable> {
    let bytes = read_limited(input, max).map_err(Unreadable::Io)?;
    match decode(&bytes, max) {
        Ok(_) => Ok(String::from_utf8(bytes).expect("decode checked UTF-8")),
        Err((code, message, at)) => Err(Unreadable::Content(code, message, at)),
    }
}

/// The text of one input, or the report that says why there is none.
pub fn read(input: &Input, policy: &Policy, max: u64) -> Result<String, Box<FileReport>> {
    text(input, max).map_err(|why| {
        let (code, message, at) = match why {
            Unreadable::Io(e) => (
                Code::P008,
                format!("cannot read: {e}"),
                Position { line: 1, column: 1 },
            ),
            Unreadable::Content(code, message, at) => (code, message, at),
        };
        Box::new(FileReport::file_error(
            &input.name(),
            code,
            message,
            at,
            policy,
        ))
    })
}

/// The source lines the diagnostics point at, for code frames.
pub fn excerpt(text: &str, report: &FileReport) -> Vec<(u32, String)> {
    let mut wanted: Vec<u32> = report.diagnostics.iter().map(|d| d.line).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = Vec::with_capacity(wanted.len());
    let mut want = wanted.into_iter().peekable();
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if want.peek() == Some(&n) {
            out.push((n, line.to_owned()));
            want.next();
        }
        if want.peek().is_none() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walking each directory in name order gives what sorting the whole
    /// paths by component gave, where byte order and component order part
    /// (`a-b` sorts before `a/…` as bytes, after `a` as a component).
    #[test]
    fn the_walk_is_in_path_order() {
        let root = std::env::temp_dir().join(format!("kexpose-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for file in [
            "a/x.yaml",
            "a-b/y.yaml",
            "a.b.yaml",
            "a/c/z.yml",
            "a/b.json",
            "B.yaml",
            "a0.yaml",
            ".hidden/h.yaml",
            "a/notes.txt",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "a: 1\n").unwrap();
        }
        let walked: Vec<PathBuf> = expand(std::slice::from_ref(&root))
            .unwrap()
            .into_iter()
            .map(|i| match i {
                Input::File(p) => p,
                Input::Stdin => unreachable!(),
            })
            .collect();
        let mut sorted = walked.clone();
        sorted.sort();
        assert_eq!(walked, sorted);
        let names: Vec<String> = walked
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "B.yaml",
                "a/b.json",
                "a/c/z.yml",
                "a/x.yaml",
                "a-b/y.yaml",
                "a.b.yaml",
                "a0.yaml"
            ]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
