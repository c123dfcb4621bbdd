//! kexpose: render, check and admit Kyma APIRules secured with JWT.
//!
//! One validation core (`check`) stands behind every face: the `check`
//! command, the render pipeline and the admission webhook.
//!
//! The modules are listed bottom up, one block per floor of the house: a
//! module uses only those in the blocks above its own (`tests/layers.rs`
//! holds the source to that, and this list to its order).

// Core types: rules, JSON changes, findings, the APIRule model, YAML, specs.
pub mod patch;
pub mod rules;

pub mod diagnostic;

pub mod apirule;
pub mod yaml;

pub mod spec;

// The validation core, and the same rules as admission policies.
pub mod policy;

pub mod check;

pub mod admission_policy;

// Inputs: reports, files, locks and identity providers, the project, the loader.
pub mod report;

pub mod source;

pub mod identity;

pub mod config;

pub mod load;

// Build: specs compiled, APIRules rendered and migrated, repairs applied.
pub mod compile;

pub mod exposure;

pub mod migrate;
pub mod render;

pub mod fix;

// The run behind check and render.
pub mod pipeline;

// Faces: the access model, the Argo CD plugin, the webhook, the command line.
pub mod access;

pub mod argocd;
pub mod webhook;

pub mod cli;
