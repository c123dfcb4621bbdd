//! `kexpose render` as a run of the pipeline: the same run `check` makes,
//! judging the exposure specs alone and keeping the APIRules they compile
//! to. Every finding either command makes (X005, R011, a shared issuer's
//! broken field) comes from one place, so `check` cannot pass what
//! `render` refuses.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Scope, run};
use crate::apirule::Version;
use crate::load::File;
use crate::policy::Policy;
use crate::render::{Options, Output, Rendered, relative};

/// Renders every exposure spec among `files`, as the loader read them.
/// Files that hold no spec (values files, plain manifests) are passed over.
pub fn render(files: &[File], opts: &Options) -> Rendered {
    // v1beta1 is checked under the legacy profile, with the jwt handler
    // the given policy names (its config style is the one rendered).
    let policy = match opts.version {
        Version::V1beta1 => {
            let mut legacy = Policy::legacy();
            legacy.jwt_handler = opts.policy.jwt_handler;
            legacy.discovered = opts.policy.discovered.clone();
            legacy
        }
        _ => opts.policy.clone(),
    };
    let ran = run(files, &[], &policy, Scope::Specs(opts.version));
    // The first exposure to claim a name renders it; any other is X005.
    let mut outputs: BTreeMap<(String, String), Output> = BTreeMap::new();
    for compiled in ran.compiled {
        let name = &files[compiled.doc.source].name;
        let shown = match opts.source_root {
            Some(root) => relative(Path::new(name), root),
            None => name.clone(),
        };
        let output = Output::new(compiled.apirule, compiled.origins, &shown);
        let key = (output.namespace.clone(), output.name.clone());
        outputs.entry(key).or_insert(output);
    }
    let (errors, warnings) = ran.checked.iter().fold((0, 0), |(e, w), c| {
        (e + c.report.summary.errors, w + c.report.summary.warnings)
    });
    Rendered {
        outputs: outputs.into_values().collect(),
        reports: ran.checked,
        errors,
        warnings,
    }
}
