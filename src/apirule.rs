//! Typed model of `gateway.kyma-project.io` APIRules.
//!
//! `v2` and `v2alpha1` share one schema upstream (only `spec` being required
//! differs), so they share these types. Unknown fields are errors, as with
//! kubectl's default strict field validation.
//!
//! These types are the one description of an APIRule's shape: the checks
//! read them, and everything kexpose writes (render, migrate) is built as
//! them and serialised, in their fields' order, which follows upstream's
//! documentation (`apiVersion`, `kind`, `metadata`, `spec`; a rule's path,
//! methods, access, service, request, timeout).

pub mod v1beta1;
pub mod v2;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const GROUP: &str = "gateway.kyma-project.io";
pub const KIND: &str = "APIRule";
/// Kyma's own gateway: what an APIRule uses when it names none.
pub const DEFAULT_GATEWAY: &str = "kyma-system/kyma-gateway";

/// The APIRule versions kexpose understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V2alpha1,
    V1beta1,
}

impl Version {
    pub fn from_api_version(api_version: &str) -> Option<Version> {
        match api_version.strip_prefix(GROUP)?.strip_prefix('/')? {
            "v2" => Some(Version::V2),
            "v2alpha1" => Some(Version::V2alpha1),
            "v1beta1" => Some(Version::V1beta1),
            _ => None,
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Version::V2 => "gateway.kyma-project.io/v2",
            Version::V2alpha1 => "gateway.kyma-project.io/v2alpha1",
            Version::V1beta1 => "gateway.kyma-project.io/v1beta1",
        }
    }
}

/// How messages name an APIRule: `namespace/name`, or the name alone
/// when it has no namespace.
pub fn display_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// An APIRule kexpose writes, in the version it writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    V2(v2::ApiRule),
    V1beta1(v1beta1::ApiRule),
}

impl Object {
    pub fn metadata(&self) -> &Metadata {
        match self {
            Object::V2(r) => &r.metadata,
            Object::V1beta1(r) => &r.metadata,
        }
    }

    /// The object as the check core reads it (and the API server stores it).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an APIRule is plain data")
    }
}

/// The HTTP methods the CRD allows (case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Method {
    GET,
    HEAD,
    POST,
    PUT,
    DELETE,
    CONNECT,
    OPTIONS,
    TRACE,
    PATCH,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::CONNECT => "CONNECT",
            Method::OPTIONS => "OPTIONS",
            Method::TRACE => "TRACE",
            Method::PATCH => "PATCH",
        }
    }
}

/// The part of `metadata` kexpose reads; everything else is kept as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A Service reference (`spec.service`, `rules[].service`), the same in all versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
}

/// `jwt`, and `extAuth.restrictions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentications: Option<Vec<JwtAuthentication>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizations: Option<Vec<JwtAuthorization>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtAuthentication {
    pub issuer: String,
    pub jwks_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_headers: Option<Vec<JwtHeader>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_params: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtAuthorization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
}
