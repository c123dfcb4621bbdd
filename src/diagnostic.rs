//! The one finding type every face of kexpose speaks: the CLI reporters, the
//! webhook's status causes and warnings, and the render pipeline.

use std::fmt;

use serde::Serialize;

use crate::rules::Code;

pub use crate::rules::Severity;

/// What is wrong in a text, and where when that is known. Shown as
/// `line:col: message`, or the message alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    pub at: Option<Position>,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(p) => write!(f, "{}:{}: {}", p.line, p.column, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A file kexpose needs (a config, a lock, a values file) and cannot use.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be read; `what` names it as the message does ("the
    /// lock", "values file").
    #[error("cannot read {what} {file}: {source}")]
    Read {
        what: &'static str,
        file: String,
        source: std::io::Error,
    },
    /// Where to look for it is unknown.
    #[error("cannot read the working directory: {0}")]
    WorkingDirectory(std::io::Error),
    /// Its content is wrong: `FILE:line:col: message`, or `FILE: message`.
    #[error("{file}:{}{invalid}", if invalid.at.is_some() { "" } else { " " })]
    Invalid { file: String, invalid: Invalid },
}

impl FileError {
    /// Content of `file` that is wrong at `at` (or as a whole).
    pub fn invalid(
        file: impl fmt::Display,
        at: Option<Position>,
        message: impl Into<String>,
    ) -> Self {
        FileError::Invalid {
            file: file.to_string(),
            invalid: Invalid {
                at,
                message: message.into(),
            },
        }
    }
}

/// A 1-based line and column (columns count characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// A rule's verdict about one place in one document, before it is placed in
/// a file. Checks produce these from plain values; the caller attaches the
/// location, because only the caller knows where the value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    pub message: String,
    /// JSON Pointer (RFC 6901) to the offending value, relative to the document.
    pub pointer: String,
    /// Whether the location should be the key of the pointed member rather
    /// than its value (unknown fields are about the key).
    pub at_key: bool,
    /// The repair the rule attaches to its finding, in JSON terms.
    pub repair: Option<Box<crate::patch::Repair>>,
    /// That repair as an edit of the file, when the finding is in one.
    pub fix: Option<Box<FixView>>,
}

/// A repair as reporters show it: what it does, how safe it is, and the
/// text it puts where (1-based positions, the end exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FixView {
    pub safety: crate::patch::Safety,
    pub title: String,
    pub start: Position,
    pub end: Position,
    pub insert: String,
}

impl Finding {
    pub fn new(code: Code, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            code,
            message: message.into(),
            pointer: pointer.into(),
            at_key: false,
            repair: None,
            fix: None,
        }
    }

    pub fn at_key(mut self) -> Self {
        self.at_key = true;
        self
    }
}

/// A finding placed in a file, with its effective severity under the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub name: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub pointer: String,
    /// The rule's one-line fix.
    pub help: &'static str,
    /// The repair `check --fix` would make (`--unsafe-fixes` for unsafe ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Box<FixView>>,
}

impl Diagnostic {
    /// The order every reporter prints in: by file, then position, then code.
    pub fn sort_key(&self) -> (&str, u32, u32, Code, &str) {
        (&self.file, self.line, self.column, self.code, &self.message)
    }

    /// The field path the way upstream Kyma and kubectl print it:
    /// `/spec/rules/0/jwt` becomes `spec.rules[0].jwt`.
    pub fn field_path(&self) -> String {
        field_path(&self.pointer)
    }
}

/// A deserialisation error in the words of the YAML the user wrote: serde
/// names the Rust type it wanted (`expected struct JwtAuthentication`),
/// which means nothing to someone writing an APIRule.
pub fn plain_error(e: &serde_json::Error) -> String {
    use std::sync::LazyLock;
    static WORDS: LazyLock<[(regex::Regex, &str); 5]> = LazyLock::new(|| {
        let re = |p| regex::Regex::new(p).expect("a valid pattern");
        [
            (re(r"expected struct \w+"), "expected a mapping"),
            (
                re(r"expected enum \w+"),
                "expected one of the allowed values",
            ),
            (
                re(r"expected (?:u|i)(?:8|16|32|64|128|size)\b"),
                "expected an integer",
            ),
            (re(r"expected f(?:32|64)\b"), "expected a number"),
            (re(r" at line \d+ column \d+$"), ""),
        ]
    });
    let mut text = e.to_string();
    for (pattern, words) in WORDS.iter() {
        text = pattern.replace_all(&text, *words).into_owned();
    }
    text
}

/// Converts a JSON Pointer to the dotted field path Kubernetes users know.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// Appends one reference token to a JSON Pointer, escaping as RFC 6901 asks.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    // Bytes, not chars: this runs for every key of every document.
    if token.bytes().any(|b| b == b'~' || b == b'/') {
        pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
    } else {
        pointer.push_str(token);
    }
}

/// `pointer` with one more reference token: one allocation, the token
/// written in place and escaped only when it needs it.
pub fn join(pointer: &str, token: impl fmt::Display) -> String {
    use fmt::Write as _;
    let mut p = String::with_capacity(pointer.len() + 24);
    p.push_str(pointer);
    p.push('/');
    let start = p.len();
    let _ = write!(p, "{token}");
    if p[start..].contains(['~', '/']) {
        let escaped = p[start..].replace('~', "~0").replace('/', "~1");
        p.truncate(start);
        p.push_str(&escaped);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_tokens_are_escaped_as_rfc_6901_asks() {
        assert_eq!(join("/spec/rules", 3), "/spec/rules/3");
        assert_eq!(
            join("/metadata/annotations", "kexpose.dev/suppress"),
            "/metadata/annotations/kexpose.dev~1suppress"
        );
        assert_eq!(join("", "a~b/c"), "/a~0b~1c");
    }

    #[test]
    fn field_paths_read_like_kubectl() {
        assert_eq!(
            field_path("/spec/rules/0/jwt/authentications/1/jwksUri"),
            "spec.rules[0].jwt.authentications[1].jwksUri"
        );
        assert_eq!(field_path(""), "");
        assert_eq!(
            field_path("/metadata/annotations/a~1b"),
            "metadata.annotations.a/b"
        );
    }

    #[test]
    fn errors_name_no_rust_types() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct JwtAuthentication {
            issuer: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Port {
            port: u16,
        }
        let e = serde_json::from_str::<Vec<JwtAuthentication>>(r#"["x"]"#).unwrap_err();
        assert_eq!(
            plain_error(&e),
            r#"invalid type: string "x", expected a mapping"#
        );
        let e = serde_json::from_value::<Port>(serde_json::json!({"port": "80"})).unwrap_err();
        assert_eq!(
            plain_error(&e),
            r#"invalid type: string "80", expected an integer"#
        );
    }

    #[test]
    fn tokens_are_escaped() {
        assert_eq!(join("/a", "b/c~d"), "/a/b~1c~0d");
        assert_eq!(join("", 3), "/3");
    }
}
