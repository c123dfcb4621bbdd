//! The comment that opens an export: the target version, where the
//! policy's values live, and every rule with where it is enforced, so that
//! whoever applies the file sees what it leaves to the webhook.

use super::params::{self, Params};
use super::{KUBE_MAX, Kinds, Left, Options, coverage, mutations};
use crate::policy::Policy;
use crate::rules::{Code, Severity};

/// The comment that opens the export: the target, and every rule with
/// where it is enforced.
pub(super) fn header(policy: &Policy, options: &Options, mutating: bool) -> String {
    let mut out = format!(
        "# kexpose policy export: policy {}, Kubernetes 1.{}\n",
        policy.name, options.kube
    );
    if options.kube > KUBE_MAX {
        out.push_str(&format!(
            "# Kubernetes 1.{} is newer than the newest version known here: exported with the APIs of 1.{KUBE_MAX}.\n",
            options.kube
        ));
    }
    out.push_str(&match &options.params {
        Params::Inline => "# The policy's values are written into the expressions: export again when the policy changes.\n".to_owned(),
        Params::ConfigMap { namespace } => format!(
            "# The policy's values are read from ConfigMap {namespace}/{}; on Kubernetes 1.36 and older,\n#   deleting and re-creating a binding can lock out APIRule writes until the API server restarts\n#   (kubernetes issue 133827).\n",
            params::NAME
        ),
    });
    if options.static_manifests {
        out.push_str(match options.kinds {
            Kinds::Validating => "# Static admission manifests (KEP-5793) for the ValidatingAdmissionPolicy plugin's staticManifestsDir.\n",
            Kinds::Mutating => "# Static admission manifests (KEP-5793) for the MutatingAdmissionPolicy plugin's staticManifestsDir.\n",
            Kinds::All => "# Static admission manifests (KEP-5793): each admission plugin reads its own staticManifestsDir;\n#   write them apart with --kinds validating and --kinds mutating.\n",
        });
    }
    out.push_str(
        "# Enforced by the API server (ValidatingAdmissionPolicy, APIRule v2 and v2alpha1):\n",
    );
    let mut line = String::from("#  ");
    for code in Code::ALL.iter().filter(|c| coverage(**c).is_ok()) {
        let state = match policy.severity(*code) {
            None => "off",
            Some(Severity::Warning) => "warn",
            Some(Severity::Error) => "",
        };
        let item = if state.is_empty() {
            format!(" {code}")
        } else {
            format!(" {code}({state})")
        };
        if line.len() + item.len() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#  ");
        }
        line.push_str(&item);
    }
    out.push_str(&line);
    out.push('\n');
    out.push_str(&mutations::note(
        policy,
        options.target(),
        &options.params,
        mutating,
    ));
    out.push_str("# Left to kexpose check and the webhook:\n");
    for left in Left::ALL {
        let codes: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| coverage(**c) == Err(left))
            .map(|c| c.as_str())
            .collect();
        out.push_str(&format!("#   {}: {}\n", codes.join(" "), left.reason()));
    }
    out
}
