//! The Argo CD config management plugin (v2 sidecar): `kexpose argocd
//! generate` and `kexpose argocd parameters`.
//!
//! The CMP server runs both in the application's source directory with the
//! Application's settings in the environment. `generate` must print only
//! manifests, and must never print an empty stream with exit 0 after a
//! problem: with pruning on, Argo CD would delete every resource of the app.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::apirule::Version;
use crate::config::{Config, Environment};
use crate::load;
use crate::policy::Policy;
use crate::render::{self, Options};
use crate::rules::Code;
use crate::source::{self, Input};
use crate::yaml::emit;

mod refused;

pub use refused::Refused;

/// The parameters the plugin announces, with the defaults `generate`
/// applies when Argo CD sends none (it never sends announced defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// Values files, relative to the application directory, later ones winning.
    pub values_files: Vec<String>,
    pub api_version: Version,
    /// Fail on warnings too.
    pub strict: bool,
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters {
            values_files: Vec::new(),
            api_version: Version::V2,
            strict: false,
        }
    }
}

/// The announcements `argocd parameters` prints: a JSON array in the CMP
/// parameter schema. The values files found in the directory are listed in
/// the tooltip, so users see what they can pick.
pub fn announcements(dir: &Path) -> Value {
    let found = values_candidates(dir);
    let defaults = Parameters::default();
    let tooltip = if found.is_empty() {
        "Values files for the spec templates, relative to the application path; later files win."
            .to_owned()
    } else {
        format!(
            "Values files for the spec templates, relative to the application path; later files win. Found: {}",
            found.join(", ")
        )
    };
    json!([
        {
            "name": "values-files",
            "title": "Values files",
            "tooltip": tooltip,
            "collectionType": "array",
            "array": defaults.values_files,
        },
        {
            "name": "api-version",
            "title": "APIRule version to render (v2, or v1beta1 for clusters before Kyma 3.4)",
            "string": "v2",
        },
        {
            "name": "strict",
            "title": "Treat warnings as errors",
            "itemType": "boolean",
            "string": if defaults.strict { "true" } else { "false" },
        },
    ])
}

/// The first file under `dir` holding an Exposure, for the plugin's
/// `discover` command: the CMP server picks the plugin when it prints one.
pub fn discover(dir: &Path) -> Option<PathBuf> {
    source::expand(&[dir.to_path_buf()])
        .ok()?
        .into_iter()
        .filter_map(|i| match i {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        })
        .find(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| {
                crate::spec::mentioned(&t) && t.lines().any(|l| l.trim_end() == "kind: Exposure")
            })
        })
}

/// YAML files under `dir` that look like values files (not specs).
fn values_candidates(dir: &Path) -> Vec<String> {
    let Ok(inputs) = source::expand(&[dir.to_path_buf()]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for input in inputs {
        let Input::File(path) = input else { continue };
        // Values files are plain mappings: no spec, no Kubernetes object.
        let is_values = std::fs::read_to_string(&path).is_ok_and(|t| {
            !crate::spec::mentioned(&t) && !t.contains("apiVersion:") && !t.contains("kind:")
        });
        if is_values && let Ok(rel) = path.strip_prefix(dir) {
            out.push(rel.display().to_string());
        }
    }
    out
}

/// An Application parameter kexpose cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ParameterError {
    #[error("ARGOCD_APP_PARAMETERS is not a JSON array: {0}")]
    NotAnArray(serde_json::Error),
    #[error("parameter {0}: array items must be strings")]
    ArrayItem(String),
    #[error("parameter api-version: \"{0}\" is not v2 or v1beta1")]
    ApiVersion(String),
    #[error("parameter strict: \"{0}\" is not true or false")]
    Strict(String),
}

/// Reads the parameters from `ARGOCD_APP_PARAMETERS` (JSON), or else from
/// the flattened `PARAM_*` variables.
pub fn parameters(env: &BTreeMap<String, String>) -> Result<Parameters, ParameterError> {
    let mut p = Parameters::default();
    let mut strings: BTreeMap<String, String> = BTreeMap::new();
    let mut arrays: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(raw) = env
        .get("ARGOCD_APP_PARAMETERS")
        .filter(|r| !r.trim().is_empty())
    {
        let list: Vec<Value> = serde_json::from_str(raw).map_err(ParameterError::NotAnArray)?;
        for item in list {
            let Some(name) = item.get("name").and_then(Value::as_str) else {
                continue;
            };
            if let Some(s) = item.get("string").and_then(Value::as_str) {
                strings.insert(name.to_owned(), s.to_owned());
            }
            if let Some(a) = item.get("array").and_then(Value::as_array) {
                let items = a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| ParameterError::ArrayItem(name.to_owned()))
                    })
                    .collect::<Result<_, _>>()?;
                arrays.insert(name.to_owned(), items);
            }
        }
    } else {
        if let Some(v) = env.get("PARAM_API_VERSION") {
            strings.insert("api-version".into(), v.clone());
        }
        if let Some(v) = env.get("PARAM_STRICT") {
            strings.insert("strict".into(), v.clone());
        }
        let mut files: Vec<(usize, String)> = env
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix("PARAM_VALUES_FILES_")?.parse().ok()?,
                    v.clone(),
                ))
            })
            .collect();
        if !files.is_empty() {
            files.sort();
            arrays.insert(
                "values-files".into(),
                files.into_iter().map(|(_, v)| v).collect(),
            );
        }
    }
    if let Some(files) = arrays.remove("values-files") {
        p.values_files = files;
    }
    if let Some(v) = strings.get("api-version") {
        p.api_version = match v.as_str() {
            "v2" | "" => Version::V2,
            "v1beta1" => Version::V1beta1,
            other => return Err(ParameterError::ApiVersion(other.to_owned())),
        };
    }
    if let Some(v) = strings.get("strict") {
        p.strict = match v.as_str() {
            "true" => true,
            "false" | "" => false,
            other => return Err(ParameterError::Strict(other.to_owned())),
        };
    }
    Ok(p)
}

/// A values path from a parameter: relative, and inside the application
/// directory (parameters are user input).
fn values_path(dir: &Path, file: &str) -> Result<PathBuf, Refused> {
    let rel = Path::new(file);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Refused::ValuesOutside(file.to_owned()));
    }
    let path = dir.join(rel);
    if !path.is_file() {
        return Err(Refused::NoValues(file.to_owned()));
    }
    Ok(path)
}

/// The repository's project config, if there is one at or above `dir`
/// inside the repository (`ARGOCD_APP_SOURCE_PATH` says how deep the
/// application sits), with the chosen environment. A config is pushed like
/// any file: every path it names must stay inside the repository, so that
/// it cannot make the sidecar read its own files into a manifest.
fn project(
    dir: &Path,
    env: &BTreeMap<String, String>,
    environment: Option<&str>,
) -> Result<Option<(Config, Option<Environment>)>, Refused> {
    let depth = env.get("ARGOCD_APP_SOURCE_PATH").map_or(0, |p| {
        Path::new(p)
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .count()
    });
    let mut at = dir.to_path_buf();
    let mut found = None;
    for level in 0..=depth {
        if at.join(crate::config::FILE_NAME).is_file() {
            found = Some(at.join(crate::config::FILE_NAME));
            break;
        }
        if level < depth {
            at.push("..");
        }
    }
    let Some(path) = found else {
        return Ok(None);
    };
    let config = Config::load(&path)?;
    let repository = (0..depth).fold(dir.to_path_buf(), |p, _| p.join(".."));
    let repository = repository
        .canonicalize()
        .map_err(|source| Refused::Repository {
            path: repository.clone(),
            source,
        })?;
    let environment = config.environment(environment)?.map(|(_, e)| e.clone());
    let named = environment
        .iter()
        .flat_map(|e| e.values.iter())
        .chain(config.policy.iter())
        .chain([&config.lock]);
    for p in named {
        // A file that does not exist is not read; one outside is refused.
        if let Ok(real) = p.canonicalize()
            && !real.starts_with(&repository)
        {
            return Err(Refused::OutsideRepository {
                config: path,
                path: p.clone(),
            });
        }
    }
    Ok(Some((config, environment)))
}

/// The manifests for the application in `dir`, or the short error text the
/// Argo CD UI shows. `env` is the process environment.
///
/// Exposure specs are rendered; other Kubernetes objects in the directory
/// (the Deployment and Service an exposure routes to) are passed through,
/// APIRules among them checked by the same core. Documents that are not
/// Kubernetes objects (values files) are left out.
///
/// A project config (`kexpose.yaml`) in the application directory or above
/// it inside the repository supplies the environment's values files (when
/// the `values-files` parameter names none), the policy, the lock and the
/// exclusions. The environment is `environment`, else the Application's
/// `KEXPOSE_ENV` (`ARGOCD_ENV_KEXPOSE_ENV`), else the config's default.
pub fn generate(
    dir: &Path,
    env: &BTreeMap<String, String>,
    environment: Option<&str>,
) -> Result<String, Refused> {
    let params = parameters(env)?;
    let environment = environment.or(env.get("ARGOCD_ENV_KEXPOSE_ENV").map(String::as_str));
    let project = project(dir, env, environment)?;
    let files: Vec<PathBuf> = match (&project, params.values_files.is_empty()) {
        (Some((_, Some(e))), true) => e.values.clone(),
        _ => params
            .values_files
            .iter()
            .map(|f| values_path(dir, f))
            .collect::<Result<_, _>>()?,
    };
    // Templates see the Application (`env.ARGOCD_APP_NAME`, `env.ARGOCD_ENV_*`)
    // and nothing else of the sidecar's environment.
    let ctx = crate::spec::template::Context::for_argocd(env).with_values(&files)?;
    // `strict` is what it announces, warnings fail, under the policy each
    // API version is checked with (render picks the legacy one for v1beta1).
    let config = project.as_ref().map(|(c, _)| c);
    let policy = match config.and_then(|c| c.policy.as_ref()) {
        Some(path) => Policy::load(path)?,
        None => Policy::default(),
    };
    // Values files are inputs to templates, never specs themselves; the
    // environments' rendered output is what this plugin renders afresh,
    // so none of it is read (another environment's would be applied here).
    let outputs: Vec<&Path> = config
        .into_iter()
        .flat_map(|c| c.environments.values())
        .filter_map(|e| e.out_dir.as_deref())
        .collect();
    let inputs: Vec<Input> = source::expand(&[dir.to_path_buf()])?
        .into_iter()
        .filter(|i| match i {
            Input::File(p) => {
                !files.contains(p)
                    && !config.is_some_and(|c| c.excluded(p))
                    && !outputs.iter().any(|o| crate::config::within(p, o))
            }
            Input::Stdin => true,
        })
        .collect();
    // The application's kexpose.lock (or the project's) fills in jwksUri,
    // as for `render`.
    let lock_path = config.map_or_else(
        || dir.join(crate::identity::lock::DEFAULT_PATH),
        |c| c.lock.clone(),
    );
    let lock = if lock_path.is_file() {
        crate::identity::lock::Lock::read(&lock_path)?
    } else {
        crate::identity::lock::Lock::default()
    };
    let mut policy = policy;
    policy.discovered = lock.discovered();
    let settings = load::Settings::new(&policy, &ctx, &lock);
    let mut files = load::read(&inputs, &settings);
    let mut rendered = crate::pipeline::render(
        &files,
        &Options {
            version: params.api_version,
            policy: &policy,
            source_root: None,
        },
    );
    let mut reports: Vec<crate::report::FileReport> = std::mem::take(&mut rendered.reports)
        .into_iter()
        .map(|c| c.report)
        .collect();
    let mut passed = Vec::new();
    for file in &mut files {
        // A spec is rendered above, and a file that cannot be read is in
        // its reports; a file `kexpose render` wrote is the output of a
        // spec, never a manifest of its own.
        let Some(text) = file.written() else { continue };
        if file.holds_specs() || render::rendered_from(text).is_some() {
            continue;
        }
        file.keep();
        let report = crate::pipeline::check_file(file, &policy);
        if report.summary.errors > 0 {
            reports.push(report);
            continue;
        }
        for (_, doc) in file.sound() {
            let v = &doc.value;
            if v.get("apiVersion").is_some_and(Value::is_string)
                && v.get("kind").is_some_and(Value::is_string)
            {
                passed.push(emit::document(v));
            }
        }
    }
    // The application's AccessTests gate the sync like findings do: an
    // exposure that would answer other than its tests expect is not applied.
    let tested = files
        .iter()
        .any(|f| f.written().is_some_and(|t| t.contains("AccessTest")));
    if rendered.errors == 0 && tested {
        reports.extend(access_tests(files, &policy));
    }
    // R010 (v1beta1 is deprecated) is the announced consequence of choosing
    // api-version v1beta1, not a warning about the application.
    let chosen = |d: &crate::diagnostic::Diagnostic| {
        params.api_version == Version::V1beta1 && d.code == Code::R010
    };
    let fails = |d: &&crate::diagnostic::Diagnostic| {
        d.severity == crate::diagnostic::Severity::Error || (params.strict && !chosen(d))
    };
    let mut lines: Vec<String> = reports
        .iter()
        .flat_map(|r| r.diagnostics.iter())
        .filter(fails)
        .map(|d| {
            let file = Path::new(&d.file)
                .strip_prefix(dir)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| d.file.clone());
            format!(
                "{file}:{}:{}: {}[{}] {}",
                d.line,
                d.column,
                d.severity.as_str(),
                d.code,
                d.message
            )
        })
        .collect();
    if !lines.is_empty() {
        let total = lines.len();
        let what = if params.strict {
            "error(s) or warning(s) (parameter strict: warnings fail)"
        } else {
            "error(s)"
        };
        // The UI shows stderr whole: the first lines say enough.
        lines.truncate(10);
        let mut text = format!(
            "kexpose: {total} {what}; nothing rendered\n{}",
            lines.join("\n")
        );
        if total > 10 {
            text.push_str(&format!("\n... and {} more", total - 10));
        }
        return Err(Refused::Findings(text));
    }
    if rendered.outputs.is_empty() && passed.is_empty() {
        return Err(Refused::Empty(dir.to_path_buf()));
    }
    let mut stream = rendered.stream();
    for doc in passed {
        stream.push_str("---\n");
        stream.push_str(&doc);
    }
    Ok(stream)
}

/// The reports of the AccessTest documents among `files`. The access
/// model reads v2 APIRules, so the specs are rendered again at v2 (the
/// application may have chosen v1beta1); only applications with tests
/// pay for it.
fn access_tests(files: Vec<load::File>, policy: &Policy) -> Vec<crate::report::FileReport> {
    let loaded = crate::access::load::load(files, policy);
    crate::access::suite::run(&loaded, None, policy)
        .files
        .into_iter()
        .map(|c| c.report)
        .collect()
}

#[cfg(test)]
mod tests;
