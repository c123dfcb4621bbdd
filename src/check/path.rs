//! APIRule v2 path templates: the `{**}` operator rules and upstream's
//! segment trie, which decides when an earlier rule shadows a later one.

const ANY_ONE: &str = "{*}";
const ANY_MANY: &str = "{**}";

/// Upstream treats `/*` as `/{**}` before any comparison.
pub fn normalise(path: &str) -> &str {
    if path == "/*" { "/{**}" } else { path }
}

fn tokens(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

/// Upstream's `validateEnvoyTemplate` (V8): the message of the first broken
/// operator rule, if any. Only paths containing `{**}` are examined.
pub fn operator_error(path: &str) -> Option<&'static str> {
    if !path.contains(ANY_MANY) {
        return None;
    }
    if path.matches(ANY_MANY).count() > 1 {
        return Some("Only one {**} operator is allowed in the path.");
    }
    let mut seen_many = false;
    for t in tokens(path) {
        if seen_many && (t == ANY_ONE || t == ANY_MANY) {
            return Some("The {**} operator must be the last operator in the path.");
        }
        if t == ANY_MANY {
            seen_many = true;
        }
    }
    None
}

/// One node of upstream's segment trie (`internal/path/segment_trie`).
#[derive(Default)]
struct Node {
    /// Few children per node in practice: a vector beats hashing.
    literals: Vec<(String, Node)>,
    any_one: Option<Box<Node>>,
    /// Suffixes stored below a `{**}` child: insertion stops at `{**}`.
    any_many: Option<Vec<String>>,
    /// Only set on nodes the insertion itself created: upstream's quirk,
    /// which lets some exact duplicates through (R005 catches those).
    end: bool,
}

/// The trie for one HTTP method.
#[derive(Default)]
pub struct SegmentTrie {
    root: Node,
}

impl SegmentTrie {
    /// Inserts `path`; returns `true` when a path already in the trie
    /// matches it, which upstream reports as a conflict (and then stops).
    pub fn insert(&mut self, path: &str) -> bool {
        let toks = tokens(normalise(path));
        if matches(&self.root, &toks, 0) {
            return true;
        }
        insert(&mut self.root, &toks, 0);
        false
    }
}

fn matches(node: &Node, toks: &[&str], k: usize) -> bool {
    if k == toks.len() {
        return node.end;
    }
    let t = toks[k];
    if let Some((_, child)) = node.literals.iter().find(|(l, _)| l == t)
        && matches(child, toks, k + 1)
    {
        return true;
    }
    if let Some(child) = &node.any_one
        && matches(child, toks, k + 1)
    {
        return true;
    }
    if let Some(suffixes) = &node.any_many {
        for suffix in suffixes {
            if suffix.is_empty() {
                return true;
            }
            for j in k + 1..=toks.len() {
                let rest = &toks[j..];
                if !rest.is_empty() && suffix_eq(suffix, rest) {
                    return true;
                }
            }
        }
    }
    false
}

/// Whether `/a/b` equals the tokens `[a, b]` joined with `/`.
fn suffix_eq(suffix: &str, rest: &[&str]) -> bool {
    let mut s = suffix;
    for t in rest {
        let Some(r) = s.strip_prefix('/') else {
            return false;
        };
        let Some(r) = r.strip_prefix(t) else {
            return false;
        };
        s = r;
    }
    s.is_empty()
}

fn insert(node: &mut Node, toks: &[&str], k: usize) {
    if k == toks.len() {
        return;
    }
    let t = toks[k];
    if t == ANY_MANY {
        let suffix: String = toks[k + 1..].iter().map(|t| format!("/{t}")).collect();
        node.any_many.get_or_insert_with(Vec::new).push(suffix);
        return;
    }
    let (child, created) = if t == ANY_ONE {
        let created = node.any_one.is_none();
        (
            &mut **node.any_one.get_or_insert_with(Box::default),
            created,
        )
    } else {
        match node.literals.iter().position(|(l, _)| l == t) {
            Some(i) => (&mut node.literals[i].1, false),
            None => {
                node.literals.push((t.to_owned(), Node::default()));
                (&mut node.literals.last_mut().expect("just pushed").1, true)
            }
        }
    };
    if k + 1 == toks.len() && created {
        child.end = true;
    }
    insert(child, toks, k + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflicts(first: &str, second: &str) -> bool {
        let mut t = SegmentTrie::default();
        assert!(!t.insert(first));
        t.insert(second)
    }

    #[test]
    fn upstream_conflict_table() {
        // (first rule, second rule, conflict?) from upstream's path validation.
        for (a, b, expected) in [
            ("/abc", "/abc", true),
            ("/*", "/foo", true),
            ("/foo", "/*", false),
            ("/abc/{*}", "/abc/def", true),
            ("/abc/def", "/abc/{*}", false),
            ("/abc/{**}", "/abc/def", true),
            ("/anything/{**}", "/anything/{*}/one", true),
            ("/abc/{**}/ghi", "/abc/{*}/ghi", true),
            ("/abc", "/abc/{**}", false),
            ("/abc/", "/abc/{*}", false),
            ("/abc/def/ghi", "/abc/{*}/ghi", false),
            ("/*", "/{**}", true),
            ("/abc/{**}/ghi", "/abc/ghi", false),
        ] {
            assert_eq!(conflicts(a, b), expected, "{a} then {b}");
        }
    }

    #[test]
    fn the_end_flag_quirk_is_reproduced() {
        let mut t = SegmentTrie::default();
        assert!(!t.insert("/abc/def"));
        assert!(!t.insert("/abc"));
        assert!(!t.insert("/abc"), "upstream misses this duplicate");
    }

    #[test]
    fn operator_rules() {
        assert_eq!(
            operator_error("/a/{**}/b/{**}"),
            Some("Only one {**} operator is allowed in the path.")
        );
        assert_eq!(
            operator_error("/{**}/x/{*}"),
            Some("The {**} operator must be the last operator in the path.")
        );
        assert_eq!(operator_error("/a/{*}/{**}"), None);
        assert_eq!(operator_error("/{**}/suffix"), None);
        assert_eq!(operator_error("/a/{*}"), None);
    }
}
