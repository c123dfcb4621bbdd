//! `kexpose probe`: the seed procedure's last step, calling the exposed
//! endpoint without and with a token, made into checks with a verdict.
//!
//! What Istio answers tells what is wrong (see the APIRule's Istio
//! behaviour): 403 without a token (the authorization policy requires a
//! principal), 401 for a token it cannot verify (wrong issuer, unknown key,
//! bad signature, expired), 403 for a valid token lacking a required scope
//! or audience, 404 when no route matches the host and path.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::Method;
use hyper::header::{self, HeaderValue};
use serde::Serialize;
use serde_json::Value;

use crate::identity::net::{self, Client, Request};
use crate::identity::oidc;

/// What to probe and what to expect.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: String,
    pub method: Method,
    pub token: String,
    /// Scopes the token must grant.
    pub scopes: Vec<String>,
    /// Audiences the token must be for.
    pub audiences: Vec<String>,
    /// What the call with the token must answer (200 unless said otherwise).
    pub status: u16,
}

/// One check and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub observed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The HTTP status of the call a check is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What the APIRules given predict for this call (`--predict`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Predicted>,
}

/// The offline prediction beside a live answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Predicted {
    pub status: u16,
    pub reasons: Vec<String>,
    /// When the live answer differs: what that suggests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggests: Option<String>,
}

/// The three calls a probe makes, by the name of their check.
pub const WITHOUT_TOKEN: &str = "without a token";
pub const TAMPERED_TOKEN: &str = "with a tampered token (signature altered)";
pub const WITH_TOKEN: &str = "with the token";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub url: String,
    pub passed: bool,
    pub checks: Vec<Check>,
}

/// Runs the plan. Only a request that gets no HTTP answer at all is an
/// error; every answer, expected or not, is a check in the report.
pub async fn run(client: &Client, plan: &Plan) -> Result<Report, net::Error> {
    let mut checks = claims(plan);

    let anonymous = call(client, plan, None).await?;
    checks.push(rejected(WITHOUT_TOKEN, &anonymous, "401 or 403", |s| {
        s == 401 || s == 403
    }));

    let tampered = tamper(&plan.token);
    let forged = call(client, plan, Some(&tampered)).await?;
    checks.push(rejected(TAMPERED_TOKEN, &forged, "401", |s| s == 401));

    let answer = call(client, plan, Some(&plan.token)).await?;
    checks.push(Check {
        name: WITH_TOKEN.into(),
        status: Some(answer.status),
        passed: answer.status == plan.status,
        expected: plan.status.to_string(),
        observed: observed(&answer),
        hint: match answer.status {
            s if s == plan.status => None,
            401 => Some(
                "the token was not accepted: its issuer, key or signature does not match the \
                 APIRule's jwt authentication, or it has expired"
                    .into(),
            ),
            403 => Some(
                "the token is valid but not authorized: compare its scopes and audiences with \
                 the rule's requiredScopes and audiences"
                    .into(),
            ),
            404 => Some("no route matches this host, path and method".into()),
            300..=399 => Some("redirected (a login page in front?)".into()),
            _ => None,
        },
        predicted: None,
    });

    Ok(Report {
        url: plan.url.clone(),
        passed: checks.iter().all(|c| c.passed),
        checks,
    })
}

/// Checks on the token itself, before any request: that it is a JWT, not
/// expired, and grants what is expected.
fn claims(plan: &Plan) -> Vec<Check> {
    let (_, claims) = match oidc::decode(&plan.token) {
        Ok(decoded) => decoded,
        Err(why) => {
            return vec![Check {
                name: "the token is a JWT".into(),
                passed: false,
                expected: "a JWT".into(),
                observed: why.to_string(),
                hint: None,
                status: None,
                predicted: None,
            }];
        }
    };
    let mut out = Vec::new();
    if let Some(exp) = claims.get("exp").and_then(Value::as_u64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        out.push(Check {
            name: "the token is not expired".into(),
            passed: exp > now,
            expected: "exp in the future".into(),
            observed: format!("exp {}", crate::identity::lock::rfc3339(exp)),
            hint: (exp <= now).then(|| "fetch a new token".into()),
            status: None,
            predicted: None,
        });
    }
    let expectations = [
        ("grants scope", &plan.scopes, oidc::scopes(&claims)),
        ("is for audience", &plan.audiences, oidc::audiences(&claims)),
    ];
    for (what, wanted, held) in expectations {
        out.extend(wanted.iter().map(|w| Check {
            name: format!("the token {what} {w:?}"),
            passed: held.contains(w),
            expected: w.clone(),
            observed: list(&held),
            hint: None,
            status: None,
            predicted: None,
        }));
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(" ")
    }
}

async fn call(
    client: &Client,
    plan: &Plan,
    token: Option<&str>,
) -> Result<net::Response, net::Error> {
    let mut request = Request {
        method: plan.method.clone(),
        url: &plan.url,
        headers: Vec::new(),
        body: None,
        // A redirect is an answer to judge (a login page, another host),
        // not a detour to take with the token.
        follow: false,
    };
    if let Some(token) = token {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| net::Error {
                url: plan.url.clone(),
                message: "the token cannot be sent in a header".into(),
            })?;
        value.set_sensitive(true);
        request.headers.push((header::AUTHORIZATION, value));
    }
    client.send(request).await
}

fn rejected(name: &str, answer: &net::Response, expected: &str, ok: fn(u16) -> bool) -> Check {
    let passed = ok(answer.status);
    Check {
        name: name.into(),
        status: Some(answer.status),
        passed,
        expected: expected.into(),
        observed: observed(answer),
        hint: match answer.status {
            _ if passed => None,
            200..=299 => Some("the endpoint is not protected by a jwt rule".into()),
            403 => Some(
                "an invalid token was refused by authorization, not by token validation".into(),
            ),
            404 => Some("no route matches this host, path and method".into()),
            300..=399 => Some("redirected instead of rejected (a login page in front?)".into()),
            _ => None,
        },
        predicted: None,
    }
}

fn observed(answer: &net::Response) -> String {
    let snippet = answer.snippet();
    let reason = hyper::StatusCode::from_u16(answer.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    match (reason, snippet.is_empty()) {
        (_, true) => format!("{} {reason}", answer.status).trim_end().to_owned(),
        _ => format!("{} {reason}: {snippet}", answer.status),
    }
}

/// The token with its signature changed (first byte flipped), so that only
/// signature verification can tell it from the real one.
fn tamper(token: &str) -> String {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return format!("{token}x");
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    match bytes.first_mut() {
        Some(b) => *b ^= 0x01,
        None => bytes.push(0),
    }
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Report {
    /// The human report: one line per check, then the verdict.
    pub fn text(&self) -> String {
        let mut out = format!("probe {}\n", self.url);
        for c in &self.checks {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            out.push_str(&format!("  {mark} {}: {}", c.name, c.observed));
            if !c.passed {
                out.push_str(&format!(" (expected {})", c.expected));
            }
            out.push('\n');
            if let Some(hint) = &c.hint {
                out.push_str(&format!("       {hint}\n"));
            }
            if let Some(p) = &c.predicted {
                let verdict = if p.suggests.is_some() {
                    "differs from the prediction"
                } else {
                    "as predicted"
                };
                out.push_str(&format!("       predicted {} ({verdict})\n", p.status));
                for r in &p.reasons {
                    out.push_str(&format!("         - {r}\n"));
                }
                if let Some(s) = &p.suggests {
                    out.push_str(&format!("       suggests: {s}\n"));
                }
            }
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        if failed == 0 {
            out.push_str(&format!("passed: {} checks\n", self.checks.len()));
        } else {
            out.push_str(&format!(
                "failed: {failed} of {} checks\n",
                self.checks.len()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_only_the_signature() {
        let token = "aGVhZGVy.cGF5bG9hZA.c2lnbmF0dXJl";
        let t = tamper(token);
        assert!(t.starts_with("aGVhZGVy.cGF5bG9hZA."));
        assert_ne!(t, token);
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(t.rsplit_once('.').unwrap().1)
                .unwrap()
                .len(),
            "signature".len()
        );
    }

    #[test]
    fn token_expectations_are_checked_from_its_claims() {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "RS256"})),
            part(serde_json::json!({"exp": 1, "scope": "read", "aud": "api"}))
        );
        let plan = Plan {
            url: "https://api.example/".into(),
            method: Method::GET,
            token,
            scopes: vec!["read".into(), "write".into()],
            audiences: vec!["api".into()],
            status: 200,
        };
        let checks = claims(&plan);
        let verdicts: Vec<(&str, bool)> =
            checks.iter().map(|c| (c.name.as_str(), c.passed)).collect();
        assert_eq!(
            verdicts,
            vec![
                ("the token is not expired", false),
                ("the token grants scope \"read\"", true),
                ("the token grants scope \"write\"", false),
                ("the token is for audience \"api\"", true),
            ]
        );
    }
}
