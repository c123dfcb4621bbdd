//! The exposure spec: what users write instead of APIRules.
//!
//! An `Exposure` says which Service to expose on which host, and who may
//! call which route; `Issuers` names identity providers once so that many
//! exposures (in many files) can say `jwt: {issuer: ias}`. Both are
//! `kexpose.dev/v1alpha1` documents, checked against `schemas/exposure.json`
//! and `schemas/issuers.json`, then compiled by `compile`.

pub mod template;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apirule::Method;
use crate::apirule::v2::{CorsPolicy, Request};

pub const API_VERSION: &str = "kexpose.dev/v1alpha1";
/// What every spec document's apiVersion starts with.
pub const API_GROUP: &str = "kexpose.dev/";

/// Whether a text may hold spec documents (a cheap test before parsing).
pub fn mentioned(text: &str) -> bool {
    text.contains(API_GROUP)
}
pub use crate::apirule::DEFAULT_GATEWAY;

/// The document kinds of the spec language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Exposure,
    Issuers,
}

impl Kind {
    /// The spec kind of a document, if it is one (`kind: Policy` is not).
    pub fn of(value: &Value) -> Option<Kind> {
        let group = value
            .get("apiVersion")
            .and_then(Value::as_str)?
            .split('/')
            .next()?;
        if group != "kexpose.dev" {
            return None;
        }
        match value.get("kind").and_then(Value::as_str)? {
            "Exposure" => Some(Kind::Exposure),
            "Issuers" => Some(Kind::Issuers),
            _ => None,
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            Kind::Exposure => include_str!("../schemas/exposure.json"),
            Kind::Issuers => include_str!("../schemas/issuers.json"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Exposure {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: ExposureSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExposureSpec {
    pub service: ServiceRef,
    /// A name without dots is a short host the gateway's domain completes;
    /// `*.example.com` is a wildcard host. (APIRule v2 takes one host.)
    pub host: String,
    /// `namespace/name`; `kyma-system/kyma-gateway` when neither this nor
    /// `externalGateway` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_gateway: Option<String>,
    /// Issuers for this exposure only; they shadow shared `Issuers` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuers: Option<BTreeMap<String, Issuer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Headers and cookies added to every route's requests (a route's own win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceRef {
    pub name: String,
    pub port: u32,
    /// Defaults to the exposure's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// An identity provider as routes refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Issuer {
    pub issuer: String,
    /// Required to render; `kexpose lock` can fill it from discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Where the token is read from when not `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_headers: Option<Vec<crate::apirule::JwtHeader>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_params: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    pub path: String,
    pub methods: Vec<Method>,
    /// Anyone may call it (APIRule `noAuth: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_auth: Option<ExtAuthAccess>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
}

/// Who may call a route: tokens from these issuers, with these scopes and
/// audiences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JwtAccess {
    /// One issuer by name; `issuers` for several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audiences: Option<Vec<String>>,
}

impl JwtAccess {
    /// The issuer names, with the JSON Pointer suffix each came from.
    pub fn names(&self) -> Vec<(String, &str)> {
        match (&self.issuer, &self.issuers) {
            (Some(one), _) => vec![("/issuer".to_owned(), one.as_str())],
            (None, Some(many)) => many
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("/issuers/{i}"), n.as_str()))
                .collect(),
            (None, None) => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtAuthAccess {
    pub authorizers: Vec<String>,
    /// Also require a token (APIRule `extAuth.restrictions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtAccess>,
}

/// A shared set of named issuers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Issuers {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    pub spec: IssuersSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IssuersSpec {
    pub issuers: BTreeMap<String, Issuer>,
}
