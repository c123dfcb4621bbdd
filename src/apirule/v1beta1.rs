//! APIRule `v1beta1`: deprecated, denied at admission since Kyma 3.4, but
//! still in many Git repositories.

use serde::{Deserialize, Serialize};

use super::{Metadata, Method, Service};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiRule {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Spec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors_policy: Option<serde_json::Value>,
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    pub path: String,
    pub methods: Vec<Method>,
    pub access_strategies: Vec<Handler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutators: Option<Vec<Handler>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

/// The `config` of a `jwt` access strategy in the Ory (Oathkeeper) style
/// the seed's v1beta1 APIRules use. Upstream keeps handler configs
/// free-form; these are the fields kexpose writes and migrates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OryJwtConfig {
    pub jwks_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_audience: Option<Vec<String>>,
    pub trusted_issuers: Vec<String>,
}

/// An access strategy or mutator: a handler name and free-form config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    pub handler: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}
