//! Which rules `kexpose policy export` carries to the API server, and why
//! the others stay with `kexpose check` and the webhook.

use crate::rules::Code;

/// Why a rule is not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// The API server parses the request before any policy runs.
    Parse,
    /// The CRD's schema decides it before any policy runs; unknown fields
    /// are pruned before a policy could see them.
    Schema,
    /// About exposure specs, AccessTests or migration, not stored objects.
    NotAnObject,
    /// APIRule v1beta1: the policies match v2 and v2alpha1 only.
    V1beta1,
    /// Needs the other APIRules of the cluster.
    Cluster,
    /// Upstream's path-conflict trie, which CEL cannot build.
    Trie,
    /// Compares every pair of rules or authentications: quadratic, over the
    /// API server's cost limit for a few hundred rules.
    Pairwise,
    /// Compares with OpenID discovery results, which live in kexpose.lock.
    Discovery,
    /// A hint for people reading `check`'s output, matched by patterns the
    /// API server's regular expressions do not share exactly.
    Hint,
}

impl Left {
    /// A short key, for `kexpose rules`.
    pub fn key(self) -> &'static str {
        match self {
            Left::Parse => "parse",
            Left::Schema => "schema",
            Left::NotAnObject => "not-stored",
            Left::V1beta1 => "v1beta1",
            Left::Cluster => "cluster",
            Left::Trie => "trie",
            Left::Pairwise => "pairwise",
            Left::Discovery => "discovery",
            Left::Hint => "hint",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Left::Parse => "the API server parses the request itself, before any policy runs",
            Left::Schema => {
                "the CRD's schema decides it before any policy runs (unknown fields are pruned before a policy can see them)"
            }
            Left::NotAnObject => {
                "it is about exposure specs, AccessTests or migration, not stored APIRules"
            }
            Left::V1beta1 => {
                "the policies match v2 and v2alpha1 only; v1beta1 is left to the webhook"
            }
            Left::Cluster => "it needs the cluster's other APIRules, which a policy cannot read",
            Left::Trie => "it needs upstream's path-conflict trie, which CEL cannot build",
            Left::Pairwise => {
                "it compares every pair of rules or authentications, which exceeds the API server's cost limit of 1,000,000 per expression for a few hundred rules"
            }
            Left::Discovery => {
                "it compares with OpenID discovery results (kexpose.lock), which the export does not read"
            }
            Left::Hint => {
                "a reading hint in check's output, matched by patterns that CEL's regular expressions do not share exactly"
            }
        }
    }

    /// Every reason, in the order `kexpose rules` explains them.
    pub const ALL: [Left; 9] = [
        Left::Parse,
        Left::Schema,
        Left::NotAnObject,
        Left::V1beta1,
        Left::Cluster,
        Left::Trie,
        Left::Pairwise,
        Left::Discovery,
        Left::Hint,
    ];
}

/// `Ok` when the export carries the rule, else why not.
pub fn coverage(code: Code) -> Result<(), Left> {
    use Code::*;
    match code {
        P001 | P002 | P003 | P004 | P005 | P006 | P007 | P008 | P010 | P011 => Err(Left::Parse),
        S001 | S002 | S003 | S004 | S005 | S006 | S007 | S008 | S009 | S010 | S011 => {
            Err(Left::Schema)
        }
        S012 => Err(Left::Hint),
        P009 | X001 | X002 | X003 | X004 | X005 | A001 | A002 | M001 | M002 | M003 | M004
        | M005 | M006 | M007 | M008 => Err(Left::NotAnObject),
        B001 | B002 | B003 | B004 | B005 | B006 | B007 | B008 | R010 => Err(Left::V1beta1),
        R011 => Err(Left::Cluster),
        R004 => Err(Left::Trie),
        R005 | J010 => Err(Left::Pairwise),
        J014 | J015 => Err(Left::Discovery),
        J001 | J002 | J003 | J004 | J005 | J006 | J007 | J008 | J009 | J011 | J012 | J013
        | J016 | R001 | R002 | R003 | R006 | R007 | R008 | R009 | O001 | O002 | O003 | O004
        | O005 | O006 | O007 | O008 | O009 | O010 | O011 | O012 | O013 | O014 | O015 => Ok(()),
    }
}
