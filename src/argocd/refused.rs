//! Why the plugin's `generate` prints no manifests, in the words the Argo
//! CD UI shows.

use std::path::PathBuf;

/// Why `generate` prints no manifests: the short text the Argo CD UI shows.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Parameter(#[from] super::ParameterError),
    #[error("values file \"{0}\" must be a relative path inside the application directory")]
    ValuesOutside(String),
    #[error("values file \"{0}\" does not exist")]
    NoValues(String),
    /// The project config, a values file or the lock cannot be read.
    #[error(transparent)]
    File(#[from] crate::diagnostic::FileError),
    #[error("{}: {source}", path.display())]
    Repository {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The project config names a file outside the repository.
    #[error(
        "{}: {} is outside the repository; the plugin reads only the repository's files",
        config.display(),
        path.display()
    )]
    OutsideRepository { config: PathBuf, path: PathBuf },
    #[error("invalid policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Inputs(#[from] crate::source::Unfound),
    /// Findings that fail the sync, the first of them listed.
    #[error("{0}")]
    Findings(String),
    #[error(
        "kexpose: no Exposure specs or Kubernetes objects found in {}; refusing to return an empty manifest set",
        .0.display()
    )]
    Empty(PathBuf),
}
