//! The lock file: what OpenID discovery said about every issuer the specs
//! name, recorded so that `render` (and `check`) can fill in `jwksUri`
//! offline, and so that a change at the provider shows up as a diff.
//!
//! ```yaml
//! apiVersion: kexpose.dev/v1alpha1
//! kind: Lock
//! issuers:
//!   https://id.example.com:
//!     jwksUri: https://id.example.com/oauth2/certs
//!     tokenEndpoint: https://id.example.com/oauth2/token
//!     keyIds: [k1]
//!     fetchedAt: 2026-11-30T09:00:00Z
//! ```
//!
//! Keyed by the issuer URL, not by the spec's name for it: two teams naming
//! the same provider differently share one entry, and the URL is what
//! discovery is about.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::sync::OnceLock;

use crate::check::schema;
use crate::diagnostic::{FileError, Invalid};
use crate::identity::oidc::Discovered;
use crate::source::{self, Input, Unreadable};
use crate::spec;
use crate::yaml::{self, Limits, emit};

/// Where the lock is looked for when no `--lock` is given.
pub const DEFAULT_PATH: &str = "kexpose.lock";

const KIND: &str = "Lock";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Lock {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub issuers: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Entry {
    pub jwks_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub key_ids: Vec<String>,
    /// RFC 3339, UTC.
    pub fetched_at: String,
}

impl Entry {
    pub fn new(found: &Discovered, fetched_at: String) -> Entry {
        Entry {
            jwks_uri: found.jwks_uri.clone(),
            token_endpoint: found.token_endpoint.clone(),
            key_ids: found.key_ids.clone(),
            fetched_at,
        }
    }
}

impl Lock {
    pub fn new(issuers: BTreeMap<String, Entry>) -> Lock {
        Lock {
            api_version: spec::API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            issuers,
        }
    }

    /// Reads a lock file; every problem names the file (`path:line:col:`).
    pub fn read(path: &Path) -> Result<Lock, FileError> {
        let input = Input::File(path.to_path_buf());
        let text =
            source::text(&input, source::DEFAULT_MAX_FILE_SIZE).map_err(|why| match why {
                Unreadable::Io(source) => FileError::Read {
                    what: "the lock",
                    file: path.display().to_string(),
                    source,
                },
                Unreadable::Content(_, message, at) => {
                    FileError::invalid(path.display(), Some(at), message)
                }
            })?;
        Lock::parse(&text).map_err(|invalid| FileError::Invalid {
            file: path.display().to_string(),
            invalid,
        })
    }

    /// Parses a lock, checked against `schemas/lock.json`; a problem comes
    /// with its position when it has one (`line:col: message`).
    pub fn parse(text: &str) -> Result<Lock, Invalid> {
        static SCHEMA: OnceLock<schema::Compiled> = OnceLock::new();
        let invalid = |at, message| Invalid { at, message };
        let documents = yaml::load(text, Limits::default()).documents;
        if documents.len() != 1 {
            let n = documents.len();
            return Err(invalid(None, format!("a lock holds one document, not {n}")));
        }
        let doc = match &documents[0] {
            Ok(doc) => doc,
            Err(e) => return Err(invalid(Some(e.position), e.message.clone())),
        };
        let schema =
            SCHEMA.get_or_init(|| schema::compile(include_str!("../../schemas/lock.json")));
        if let Some(f) = schema::findings(schema, &doc.value).into_iter().next() {
            let at = yaml::locate(&documents, 0, &f.pointer, f.at_key);
            return Err(invalid(
                Some(at),
                format!("not a kexpose lock: {}", f.message),
            ));
        }
        Lock::deserialize(&doc.value).map_err(|e| invalid(None, format!("not a kexpose lock: {e}")))
    }

    /// The file's text: a comment saying what it is, then the document.
    pub fn to_text(&self) -> String {
        format!(
            "# OpenID discovery results for the issuers the exposure specs name.\n\
             # Written by `kexpose lock`; `kexpose render` reads jwksUri from here\n\
             # without touching the network. Refresh with `kexpose lock`.\n{}",
            emit::document(self)
        )
    }

    /// Issuer -> jwks_uri, for the rules that compare APIRules with
    /// discovery (`Policy::discovered`).
    pub fn discovered(&self) -> BTreeMap<String, String> {
        self.issuers
            .iter()
            .map(|(issuer, e)| (issuer.clone(), e.jwks_uri.clone()))
            .collect()
    }

    pub fn jwks_uri(&self, issuer: &str) -> Option<&str> {
        self.issuers.get(issuer).map(|e| e.jwks_uri.as_str())
    }

    /// Fills `jwksUri` into every issuer of a spec document (`spec.issuers`
    /// of an `Exposure` or an `Issuers`) that has none, as if written there;
    /// whether it filled any.
    pub fn fill(&self, document: &mut Value) -> bool {
        if self.issuers.is_empty() || spec::Kind::of(document).is_none() {
            return false;
        }
        let Some(issuers) = document
            .pointer_mut("/spec/issuers")
            .and_then(Value::as_object_mut)
        else {
            return false;
        };
        let mut filled = false;
        for entry in issuers.values_mut() {
            let Some(entry) = entry.as_object_mut() else {
                continue;
            };
            if entry.contains_key("jwksUri") {
                continue;
            }
            if let Some(uri) = entry
                .get("issuer")
                .and_then(Value::as_str)
                .and_then(|i| self.jwks_uri(i))
            {
                entry.insert("jwksUri".into(), Value::String(uri.to_owned()));
                filled = true;
            }
        }
        filled
    }
}

/// Which lock `render` and `check` use: the one named, which must exist,
/// else `kexpose.lock` in the current directory if there is one, else none.
pub fn resolve(named: Option<&PathBuf>) -> Result<Lock, FileError> {
    match named {
        Some(path) => Lock::read(path),
        None if Path::new(DEFAULT_PATH).is_file() => Lock::read(Path::new(DEFAULT_PATH)),
        None => Ok(Lock::default()),
    }
}

/// One place a spec names an issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub file: String,
    /// The spec's name for it (`ias` in `jwt: {issuer: ias}`).
    pub name: String,
    /// The jwksUri the spec sets itself, if any.
    pub jwks_uri: Option<String>,
}

/// How a lock differs from the specs, or from what discovery says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A spec names an issuer the lock lacks.
    Missing { issuer: String, uses: Vec<Use> },
    /// The lock holds an issuer no spec names any more.
    Stale { issuer: String },
    /// Discovery now gives another value for a locked field.
    Changed {
        issuer: String,
        field: &'static str,
        locked: String,
        now: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Missing { issuer, uses } => {
                let at: Vec<String> = uses
                    .iter()
                    .map(|u| format!("{} ({})", u.file, u.name))
                    .collect();
                write!(f, "{issuer}: named in {} but not locked", at.join(", "))
            }
            Difference::Stale { issuer } => {
                write!(f, "{issuer}: locked but no spec names it any more")
            }
            Difference::Changed {
                issuer,
                field,
                locked,
                now,
            } => write!(
                f,
                "{issuer}: {field} is locked as {locked:?} but discovery now says {now:?}"
            ),
        }
    }
}

/// The lock against the issuers the specs name.
pub fn against_specs(lock: &Lock, named: &BTreeMap<String, Vec<Use>>) -> Vec<Difference> {
    let mut out: Vec<Difference> = named
        .iter()
        .filter(|(issuer, _)| !lock.issuers.contains_key(*issuer))
        .map(|(issuer, uses)| Difference::Missing {
            issuer: issuer.clone(),
            uses: uses.clone(),
        })
        .collect();
    out.extend(
        lock.issuers
            .keys()
            .filter(|issuer| !named.contains_key(*issuer))
            .map(|issuer| Difference::Stale {
                issuer: issuer.clone(),
            }),
    );
    out
}

/// A locked entry against fresh discovery. Key ids are not compared here:
/// providers rotate keys behind the same jwks_uri, which changes nothing
/// in the APIRules (the caller reports rotation as a note).
pub fn against_discovery(issuer: &str, locked: &Entry, now: &Discovered) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut compare = |field: &'static str, locked: &str, now: &str| {
        if locked != now {
            out.push(Difference::Changed {
                issuer: issuer.to_owned(),
                field,
                locked: locked.to_owned(),
                now: now.to_owned(),
            });
        }
    };
    compare("jwksUri", &locked.jwks_uri, &now.jwks_uri);
    compare(
        "tokenEndpoint",
        locked.token_endpoint.as_deref().unwrap_or_default(),
        now.token_endpoint.as_deref().unwrap_or_default(),
    );
    out
}

/// Now as RFC 3339 UTC, second precision (`2026-11-30T09:00:00Z`).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
        .map_or_else(|_| String::new(), |t| t.to_string())
}

/// Seconds since the epoch as RFC 3339 UTC; a number beyond the years
/// jiff represents (an absurd `exp` claim) is shown as it is.
pub fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| format!("{secs} s after the epoch"), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(jwks: &str) -> Entry {
        Entry {
            jwks_uri: jwks.into(),
            token_endpoint: Some("https://id.example/token".into()),
            key_ids: vec!["k1".into()],
            fetched_at: "2026-11-30T09:00:00Z".into(),
        }
    }

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_028_478), "2026-11-30T08:47:58Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339(u64::MAX), "18446744073709551615 s after the epoch");
        let now = now_rfc3339();
        assert!(
            now.starts_with("20") && now.ends_with('Z') && now.len() == 20,
            "{now}"
        );
    }

    #[test]
    fn a_lock_round_trips_through_its_text() {
        let lock = Lock::new(BTreeMap::from([(
            "https://id.example".to_owned(),
            entry("https://id.example/jwks"),
        )]));
        let text = lock.to_text();
        assert!(text.starts_with("# OpenID discovery"), "{text}");
        assert_eq!(Lock::parse(&text).unwrap(), lock);
    }

    #[test]
    fn other_documents_are_not_locks() {
        assert!(Lock::parse("apiVersion: v1\nkind: ConfigMap\n").is_err());
        let wrong_kind = "apiVersion: kexpose.dev/v1alpha1\nkind: Exposure\nissuers: {}\n";
        let err = Lock::parse(wrong_kind).unwrap_err().to_string();
        assert!(err.starts_with("2:7: not a kexpose lock"), "{err}");
        assert!(
            Lock::parse("a: 1\n---\nb: 2\n")
                .unwrap_err()
                .to_string()
                .contains("one document")
        );
    }

    #[test]
    fn lock_problems_are_placed_at_their_line() {
        let text = "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nissuers:\n  https://id.example:\n    jwksUri: https://id.example/jwks\n    fetchedAt: yesterday\n";
        let err = Lock::parse(text).unwrap_err().to_string();
        assert!(err.starts_with("6:16: not a kexpose lock"), "{err}");
        assert!(err.contains("fetchedAt"), "{err}");
        let dup = "apiVersion: kexpose.dev/v1alpha1\nkind: Lock\nkind: Lock\nissuers: {}\n";
        assert!(
            Lock::parse(dup)
                .unwrap_err()
                .to_string()
                .starts_with("3:1:"),
            "duplicate keys are refused"
        );
    }

    #[test]
    fn fill_sets_only_missing_jwks_uris_of_spec_issuers() {
        let lock = Lock::new(BTreeMap::from([(
            "https://id.example".to_owned(),
            entry("https://id.example/jwks"),
        )]));
        let mut doc = json!({
            "apiVersion": "kexpose.dev/v1alpha1", "kind": "Issuers",
            "spec": {"issuers": {
                "a": {"issuer": "https://id.example"},
                "b": {"issuer": "https://id.example", "jwksUri": "https://own/jwks"},
                "c": {"issuer": "https://unlocked.example"},
            }}
        });
        assert!(lock.fill(&mut doc));
        assert_eq!(
            doc["spec"]["issuers"]["a"]["jwksUri"],
            "https://id.example/jwks"
        );
        assert_eq!(doc["spec"]["issuers"]["b"]["jwksUri"], "https://own/jwks");
        assert!(doc["spec"]["issuers"]["c"].get("jwksUri").is_none());

        let mut apirule = json!({"apiVersion": "gateway.kyma-project.io/v2", "kind": "APIRule",
            "spec": {"issuers": {"a": {"issuer": "https://id.example"}}}});
        let before = apirule.clone();
        assert!(!lock.fill(&mut apirule));
        assert_eq!(apirule, before);
    }

    #[test]
    fn differences_name_missing_stale_and_changed_issuers() {
        let lock = Lock::new(BTreeMap::from([(
            "https://old.example".to_owned(),
            entry("https://old.example/jwks"),
        )]));
        let named = BTreeMap::from([(
            "https://new.example".to_owned(),
            vec![Use {
                file: "specs.yaml".into(),
                name: "ias".into(),
                jwks_uri: None,
            }],
        )]);
        let d = against_specs(&lock, &named);
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].to_string(),
            "https://new.example: named in specs.yaml (ias) but not locked"
        );
        assert!(matches!(&d[1], Difference::Stale { issuer } if issuer == "https://old.example"));

        let now = Discovered {
            jwks_uri: "https://old.example/keys".into(),
            token_endpoint: Some("https://id.example/token".into()),
            key_ids: vec!["k2".into()],
        };
        let changed = against_discovery(
            "https://old.example",
            &entry("https://old.example/jwks"),
            &now,
        );
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert!(changed[0].to_string().contains("jwksUri is locked as"));
    }
}
