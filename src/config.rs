//! The project configuration: `kexpose.yaml` at the repository root, found
//! from the working directory upward (as ruff and yamllint find theirs), or
//! named with `--config`. It says where the specs are, which environments
//! they render for, and what every command reads by default, so that the
//! daily loop (a pre-commit hook on one staged file, a drift check, a lock
//! check) needs no flags. Without a file, every command behaves as before.
//!
//! Paths in the file are relative to it; they are resolved relative to the
//! working directory, so that diagnostics name files as users see them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use crate::check::schema;
use crate::diagnostic::{FileError, Position};
use crate::identity::lock;
use crate::source;
use crate::yaml::{self, Limits};

pub const FILE_NAME: &str = "kexpose.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    #[serde(rename = "apiVersion")]
    _api_version: String,
    #[serde(rename = "kind")]
    _kind: String,
    specs: Option<Vec<String>>,
    #[serde(default)]
    environments: BTreeMap<String, RawEnvironment>,
    default_environment: Option<String>,
    policy: Option<String>,
    lock: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    templates: RawTemplates,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnvironment {
    #[serde(default)]
    values: Vec<String>,
    out_dir: Option<String>,
    api_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplates {
    #[serde(default)]
    env: Vec<String>,
}

/// A loaded `kexpose.yaml`, its paths resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file itself, as found.
    pub path: PathBuf,
    /// Its directory: the project root (empty for the working directory).
    pub root: PathBuf,
    pub specs: Vec<PathBuf>,
    pub environments: BTreeMap<String, Environment>,
    pub default_environment: Option<String>,
    pub policy: Option<PathBuf>,
    pub lock: PathBuf,
    exclude: Vec<String>,
    pub template_env: Vec<String>,
}

/// One environment: values files in order, and where its output goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub values: Vec<PathBuf>,
    pub out_dir: Option<PathBuf>,
    /// `v2` or `v1beta1`.
    pub api_version: Option<String>,
}

impl Config {
    /// The config to use: `explicit` if given, else `kexpose.yaml` in the
    /// working directory or the nearest parent directory holding one.
    pub fn discover(explicit: Option<&Path>) -> Result<Option<Config>, FileError> {
        if let Some(path) = explicit {
            return Config::load(path).map(Some);
        }
        let mut dir = PathBuf::new();
        let cwd = std::env::current_dir().map_err(FileError::WorkingDirectory)?;
        for ancestor in cwd.ancestors() {
            if ancestor.join(FILE_NAME).is_file() {
                return Config::load(&dir.join(FILE_NAME)).map(Some);
            }
            dir.push("..");
        }
        Ok(None)
    }

    /// Loads and checks one config file; a problem is reported as
    /// `FILE:line:col: message`.
    pub fn load(path: &Path) -> Result<Config, FileError> {
        let shown = path.display();
        let text = crate::source::text(&crate::source::Input::File(path.to_owned()), 1 << 20)
            .map_err(|e| match e {
                crate::source::Unreadable::Io(source) => FileError::Read {
                    what: "the config",
                    file: shown.to_string(),
                    source,
                },
                crate::source::Unreadable::Content(_, m, at) => {
                    FileError::invalid(&shown, Some(at), m)
                }
            })?;
        Config::parse(path, &text)
    }

    /// A config's text, as if read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, FileError> {
        static SCHEMA: OnceLock<schema::Compiled> = OnceLock::new();
        let shown = path.display();
        let documents = yaml::load(text, Limits::default()).documents;
        let doc = match documents.as_slice() {
            [Ok(doc)] => doc,
            [Err(e)] => return Err(FileError::invalid(&shown, Some(e.position), &e.message)),
            other => {
                return Err(FileError::invalid(
                    &shown,
                    Some(Position { line: 1, column: 1 }),
                    format!("a kexpose config holds one document, not {}", other.len()),
                ));
            }
        };
        let at = |pointer: &str, at_key: bool| Some(yaml::locate(&documents, 0, pointer, at_key));
        let schema = SCHEMA.get_or_init(|| schema::compile(include_str!("../schemas/config.json")));
        if let Some(f) = schema::findings(schema, &doc.value).into_iter().next() {
            return Err(FileError::invalid(
                &shown,
                at(&f.pointer, f.at_key),
                format!("not a kexpose config: {}", f.message),
            ));
        }
        let raw = Raw::deserialize(&doc.value).map_err(|e| {
            FileError::invalid(&shown, at("", false), format!("not a kexpose config: {e}"))
        })?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &str| join(&root, p);
        if let Some(name) = &raw.default_environment
            && !raw.environments.contains_key(name)
        {
            return Err(FileError::invalid(
                &shown,
                at("/defaultEnvironment", false),
                format!(
                    "defaultEnvironment \"{name}\" is not one of the environments ({})",
                    known(raw.environments.keys())
                ),
            ));
        }
        Ok(Config {
            path: path.to_owned(),
            specs: match &raw.specs {
                Some(specs) => specs.iter().map(|s| resolve(s)).collect(),
                None => vec![if root.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    root.clone()
                }],
            },
            environments: raw
                .environments
                .iter()
                .map(|(name, e)| {
                    let env = Environment {
                        values: e.values.iter().map(|v| resolve(v)).collect(),
                        out_dir: e.out_dir.as_deref().map(resolve),
                        api_version: e.api_version.clone(),
                    };
                    (name.clone(), env)
                })
                .collect(),
            default_environment: raw.default_environment,
            policy: raw.policy.as_deref().map(resolve),
            lock: resolve(raw.lock.as_deref().unwrap_or(lock::DEFAULT_PATH)),
            exclude: raw.exclude,
            template_env: raw.templates.env,
            root,
        })
    }

    /// The environment `name` (else the default one), if the config has any.
    pub fn environment(
        &self,
        name: Option<&str>,
    ) -> Result<Option<(&str, &Environment)>, FileError> {
        let Some(name) = name.or(self.default_environment.as_deref()) else {
            return Ok(None);
        };
        self.environments
            .get_key_value(name)
            .map(|(k, e)| Some((k.as_str(), e)))
            .ok_or_else(|| {
                FileError::invalid(
                    self.path.display(),
                    None,
                    format!(
                        "no environment \"{name}\" (known: {})",
                        known(self.environments.keys())
                    ),
                )
            })
    }

    /// Whether `exclude` keeps kexpose away from `path` (a path as given,
    /// relative to the working directory or absolute).
    pub fn excluded(&self, path: &Path) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        // The working directory's config has the empty root, which
        // `std::path::absolute` refuses: it is `.`.
        let root = if self.root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.root
        };
        let (Ok(path), Ok(root)) = (std::path::absolute(path), std::path::absolute(root)) else {
            return false;
        };
        let (path, root) = (source::normal(&path), source::normal(&root));
        let Ok(relative) = path.strip_prefix(&root) else {
            return false;
        };
        let relative = relative.to_string_lossy().replace('\\', "/");
        self.exclude.iter().any(|p| glob(p, &relative))
    }
}

/// Whether `path` lies in `dir` (both as given: relative to the working
/// directory or absolute; no symlinks are resolved).
pub fn within(path: &Path, dir: &Path) -> bool {
    match (std::path::absolute(path), std::path::absolute(dir)) {
        (Ok(path), Ok(dir)) => source::normal(&path).starts_with(source::normal(&dir)),
        _ => false,
    }
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none are defined".to_owned()
    } else {
        names.join(", ")
    }
}

/// `root/p`, without a leading `./` for the working directory.
fn join(root: &Path, p: &str) -> PathBuf {
    let p = p.strip_prefix("./").unwrap_or(p);
    if root.as_os_str().is_empty() || root == Path::new(".") {
        PathBuf::from(p)
    } else {
        root.join(p)
    }
}

/// Whether a `/`-separated relative path matches a glob: `*` and `?`
/// within one segment, `**` for any number of segments; a pattern without
/// `/` matches a file name in any directory (as in .gitignore); a pattern
/// matching a directory excludes everything below it.
pub fn glob(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    let parts: Vec<&str> = path.split('/').collect();
    if !pattern.contains('/') {
        return parts.iter().any(|p| segment(pattern, p));
    }
    let pattern: Vec<&str> = pattern.split('/').collect();
    // A match of any leading part of the path is a match of a directory.
    (1..=parts.len()).any(|n| segments(&pattern, &parts[..n]))
}

fn segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments(rest, &path[skip..])),
        Some((first, rest)) => {
            !path.is_empty() && segment(first, path[0]) && segments(rest, &path[1..])
        }
    }
}

fn segment(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|skip| go(rest, &n[skip..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_gitignore_users_expect() {
        assert!(glob("charts/**", "charts/kexpose/templates/a.yaml"));
        assert!(glob("charts/**", "charts"));
        assert!(glob("charts", "charts/x.yaml"));
        assert!(!glob("charts/**", "mycharts/a.yaml"));
        assert!(glob("**/templates/**", "charts/k/templates/a.yaml"));
        assert!(glob("*.tpl", "deep/dir/x.tpl"));
        assert!(!glob("*.tpl", "deep/dir/x.yaml"));
        assert!(glob("deploy/*.yaml", "deploy/a.yaml"));
        assert!(!glob("deploy/*.yaml", "deploy/sub/a.yaml"));
        assert!(glob("vendor/?/x", "vendor/a/x"));
    }

    #[test]
    fn paths_resolve_against_the_file_and_mistakes_are_placed() {
        let dir = PathBuf::from("/project");
        let path = dir.join(FILE_NAME);
        let c = Config::parse(
            &path,
            "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nspecs: [exposures/]\nenvironments:\n  dev: {values: [env/dev.yaml], outDir: deploy/dev}\ndefaultEnvironment: dev\nexclude: [\"charts/**\"]\ntemplates: {env: [CLUSTER_DOMAIN]}\n",
        )
        .unwrap();
        assert_eq!(c.specs, [dir.join("exposures/")]);
        let (name, env) = c.environment(None).unwrap().unwrap();
        assert_eq!(name, "dev");
        assert_eq!(env.values, [dir.join("env/dev.yaml")]);
        assert_eq!(
            env.out_dir.as_deref(),
            Some(dir.join("deploy/dev").as_path())
        );
        assert_eq!(c.lock, dir.join("kexpose.lock"));
        assert_eq!(c.template_env, ["CLUSTER_DOMAIN"]);
        assert!(c.excluded(&dir.join("charts/x/templates/a.yaml")));
        assert!(!c.excluded(&dir.join("exposures/a.yaml")));
        // Found in the working directory, the root is the empty path.
        let here = Config::parse(
            Path::new(FILE_NAME),
            "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nexclude: [\"charts/**\"]\n",
        )
        .unwrap();
        assert!(here.excluded(Path::new("charts/x/a.yaml")));
        assert!(here.excluded(Path::new("./charts/x/a.yaml")));
        assert!(!here.excluded(Path::new("exposures/a.yaml")));
        let err = c.environment(Some("prod")).unwrap_err().to_string();
        assert!(
            err.ends_with("no environment \"prod\" (known: dev)"),
            "{err}"
        );

        let err = Config::parse(
            &path,
            "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nenvironments:\n  dev: {valuez: [a.yaml]}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("/project/kexpose.yaml:4:9: not a kexpose config"),
            "{err}"
        );
        let err = Config::parse(
            &path,
            "apiVersion: kexpose.dev/v1alpha1\nkind: Config\nenvironments: {dev: {}}\ndefaultEnvironment: prod\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("/project/kexpose.yaml:4:21: defaultEnvironment \"prod\" is not one of the environments (dev)"),
            "{err}"
        );
    }
}
