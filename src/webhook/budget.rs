//! The most an object may hold for the webhook to judge it. Some checks
//! compare every pair of rules or authentications (R005, J010), and the
//! API server accepts request bodies up to 3 MiB, so a crafted APIRule of
//! tens of thousands of rules would hold a worker for seconds. No real
//! APIRule comes near these numbers; one over them is denied at once, with
//! what it holds and the limit, instead of being judged. A mutating webhook
//! sees objects before the CRD's schema, so `hosts` is bounded here too.

use serde_json::Value;

/// Rules in `spec.rules`.
pub const RULES: usize = 1_000;
/// Entries in `spec.hosts` (the CRD allows one).
pub const HOSTS: usize = 64;
/// Methods of one rule (there are nine HTTP methods).
pub const METHODS: usize = 32;
/// Authentications of one rule's jwt config.
pub const AUTHENTICATIONS: usize = 32;

/// Why `object` is over the budget, or `None` when it is within.
pub fn exceeded(object: &Value) -> Option<String> {
    let len = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len);
    let spec = object.get("spec");
    let over = |what: &str, n: usize, max: usize| {
        (n > max).then(|| format!("{what} holds {n} entries, more than the {max} kexpose judges"))
    };
    if let Some(why) = over("spec.rules", len(spec.and_then(|s| s.get("rules"))), RULES)
        .or_else(|| over("spec.hosts", len(spec.and_then(|s| s.get("hosts"))), HOSTS))
    {
        return Some(why);
    }
    let rules = spec.and_then(|s| s.get("rules")).and_then(Value::as_array);
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        let methods = over(
            &format!("spec.rules[{i}].methods"),
            len(rule.get("methods")),
            METHODS,
        );
        let authentications = ["jwt", "extAuth"].into_iter().find_map(|key| {
            let config = rule.get(key)?;
            let config = if key == "extAuth" {
                config.get("restrictions")?
            } else {
                config
            };
            over(
                &format!("spec.rules[{i}].{key}.authentications"),
                len(config.get("authentications")),
                AUTHENTICATIONS,
            )
        });
        if let Some(why) = methods.or(authentications) {
            return Some(why);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_within_the_budget_pass_and_one_over_says_where() {
        let rule = json!({"path": "/a", "methods": ["GET"]});
        let within = json!({"spec": {"hosts": ["a"], "rules": vec![rule.clone(); RULES]}});
        assert_eq!(exceeded(&within), None);
        let over = json!({"spec": {"hosts": ["a"], "rules": vec![rule; RULES + 1]}});
        assert_eq!(
            exceeded(&over).unwrap(),
            "spec.rules holds 1001 entries, more than the 1000 kexpose judges"
        );
        let hosts = json!({"spec": {"hosts": vec!["a"; HOSTS + 1]}});
        assert!(
            exceeded(&hosts)
                .unwrap()
                .starts_with("spec.hosts holds 65 entries")
        );
        let methods =
            json!({"spec": {"rules": [{"path": "/a", "methods": vec!["GET"; METHODS + 1]}]}});
        assert!(
            exceeded(&methods)
                .unwrap()
                .starts_with("spec.rules[0].methods holds 33")
        );
        let auths = json!({"spec": {"rules": [{"path": "/a", "methods": ["GET"],
            "extAuth": {"authorizers": ["x"], "restrictions": {"authentications": vec![json!({}); AUTHENTICATIONS + 1]}}}]}});
        assert!(
            exceeded(&auths)
                .unwrap()
                .starts_with("spec.rules[0].extAuth.authentications holds 33")
        );
        // Not an object of that shape at all: the check reports it.
        assert_eq!(exceeded(&json!("x")), None);
    }
}
