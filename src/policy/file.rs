//! The policy file's shape, as read: every field optional, defaults
//! resolved by `Policy::parse`. The policy schema (`schemas/policy.json`)
//! has refused anything else before these are read.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::{JwtHandler, RegisteredIssuer};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Document {
    pub(super) metadata: Option<Meta>,
    #[serde(default)]
    pub(super) spec: Spec,
}

#[derive(Deserialize)]
pub(super) struct Meta {
    pub(super) name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Spec {
    #[serde(default)]
    pub(super) warnings_as_errors: bool,
    #[serde(default)]
    pub(super) rules: HashMap<String, Value>,
    #[serde(default)]
    pub(super) gateways: Gateways,
    #[serde(default)]
    pub(super) issuers: Vec<RegisteredIssuer>,
    #[serde(default)]
    pub(super) hosts: Hosts,
    #[serde(default)]
    pub(super) no_auth: NoAuth,
    #[serde(default)]
    pub(super) authorization: Authorization,
    #[serde(default)]
    pub(super) limits: Limits,
    #[serde(default)]
    pub(super) suppressions: Suppressions,
    #[serde(default)]
    pub(super) destinations: Destinations,
    #[serde(default)]
    pub(super) v1beta1: V1beta1,
    #[serde(default)]
    pub(super) admission: Admission,
}

#[derive(Deserialize, Default)]
pub(super) struct Admission {
    pub(super) fixes: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct V1beta1 {
    #[serde(default)]
    pub(super) jwt_handler: JwtHandler,
}

#[derive(Deserialize, Default)]
pub(super) struct Gateways {
    pub(super) default: Option<String>,
    #[serde(default)]
    pub(super) allowed: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Hosts {
    #[serde(default)]
    pub(super) domains: Vec<String>,
    pub(super) allow_wildcard: Option<bool>,
}

#[derive(Deserialize, Default)]
pub(super) struct NoAuth {
    pub(super) allowed: Option<bool>,
    #[serde(default)]
    pub(super) namespaces: Vec<String>,
    #[serde(default)]
    pub(super) paths: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Authorization {
    #[serde(default)]
    pub(super) require_scopes: bool,
    #[serde(default)]
    pub(super) require_audiences: bool,
    #[serde(default)]
    pub(super) namespaces: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Limits {
    pub(super) max_timeout: Option<u32>,
    #[serde(default)]
    pub(super) methods: Vec<String>,
    pub(super) allow_http_jwks_uri: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Destinations {
    pub(super) other_namespaces: Option<bool>,
    pub(super) external: Option<bool>,
    #[serde(default)]
    pub(super) authorizers: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct Suppressions {
    pub(super) allowed: Option<bool>,
    pub(super) codes: Option<Vec<String>>,
    #[serde(default)]
    pub(super) namespaces: Vec<String>,
}
