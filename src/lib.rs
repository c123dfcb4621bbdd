//! kexpose: render, check and admit Kyma APIRules secured with JWT.
//!
//! One validation core (`check`) stands behind every face: the `check`
//! command, the render pipeline and the admission webhook.
pub mod access;
pub mod admission_policy;
pub mod apirule;
pub mod argocd;
pub mod check;
pub mod cli;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod exposure;
pub mod fix;
pub mod identity;
pub mod load;
pub mod migrate;
pub mod patch;
pub mod pipeline;
pub mod policy;
pub mod render;
pub mod report;
pub mod rules;
pub mod source;
pub mod spec;
pub mod webhook;
pub mod yaml;
