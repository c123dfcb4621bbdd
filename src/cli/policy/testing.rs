//! `kexpose policy test DIR`: policy test cases, in the spirit of `kyverno
//! test`, so teams can test the policy they ship in CI.
//!
//! Every subdirectory of DIR is a case: input files, and `expected.txt`
//! listing the findings the policy must produce, one `file:line:col CODE`
//! per line (`#` starts a comment; an empty list means "no findings"). The
//! policy is DIR/policy.yaml, else the one given on the command line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::identity::lock::Lock;
use crate::load;
use crate::policy::Policy;
use crate::source::{self, Input};

/// One case's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub name: String,
    /// Expected but not found.
    pub missing: Vec<String>,
    /// Found but not expected.
    pub unexpected: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }
}

/// Why the cases could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum Unrunnable {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Inputs(#[from] source::Unfound),
    #[error("invalid policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    #[error("{}: no test cases (subdirectories with expected.txt)", .0.display())]
    NoCases(PathBuf),
}

fn unreadable(path: &Path) -> impl FnOnce(std::io::Error) -> Unrunnable + '_ {
    move |source| Unrunnable::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn expected(path: &Path) -> Result<BTreeSet<String>, Unrunnable> {
    let text = std::fs::read_to_string(path).map_err(unreadable(path))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect())
}

/// Runs one case directory under `policy`.
pub fn case(dir: &Path, policy: &Policy) -> Result<CaseResult, Unrunnable> {
    let want = expected(&dir.join("expected.txt"))?;
    let inputs: Vec<Input> = source::expand(&[dir.to_path_buf()])?
        .into_iter()
        .filter(
            |i| !matches!(i, Input::File(p) if p.file_name().is_some_and(|n| n == "policy.yaml")),
        )
        .collect();
    let template = crate::spec::template::Context::allowing(&[]);
    let lock = Lock::default();
    let settings = load::Settings::new(policy, &template, &lock);
    let mut files = Vec::new();
    for input in &inputs {
        let Input::File(p) = input else { continue };
        let text = std::fs::read_to_string(p).map_err(unreadable(p))?;
        files.push(load::File::of(p.display().to_string(), Ok(text), &settings));
    }
    let checked = crate::pipeline::check_files(&files, &[], policy);
    let mut got = BTreeSet::new();
    for c in checked {
        for d in c.report.diagnostics {
            let rel = Path::new(&d.file)
                .strip_prefix(dir)
                .unwrap_or(Path::new(&d.file))
                .display()
                .to_string();
            got.insert(format!("{rel}:{}:{} {}", d.line, d.column, d.code));
        }
    }
    Ok(CaseResult {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        missing: want.difference(&got).cloned().collect(),
        unexpected: got.difference(&want).cloned().collect(),
    })
}

/// Runs every case under `dir`, in name order.
pub fn run(dir: &Path, fallback: &Policy) -> Result<Vec<CaseResult>, Unrunnable> {
    let own = dir.join("policy.yaml");
    let policy = if own.exists() {
        Policy::load(&own)?
    } else {
        fallback.clone()
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(Unrunnable::NoCases(dir.to_path_buf()));
    }
    cases.iter().map(|c| case(c, &policy)).collect()
}
