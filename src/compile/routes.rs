//! Route order and reachability: routes most specific first, so upstream's
//! path × method conflict rule cannot fire on the output, and X003 for a
//! route that still can never be reached.

use std::collections::{BTreeMap, BTreeSet};

use super::{Compiler, route_pointer};
use crate::apirule::Method;
use crate::check::path::{self, SegmentTrie};
use crate::diagnostic::join;
use crate::rules::Code;
use crate::spec::Route;

/// Rank of one path segment: literals before `{*}` before `{**}`.
fn segment_rank(segment: &str) -> u8 {
    match segment {
        "{*}" => 1,
        "{**}" => 2,
        _ => 0,
    }
}

/// Route indices, most specific path first; ties keep the spec's order.
///
/// Segments compare left to right, a literal before `{*}` before `{**}`;
/// a path that ends earlier sorts first. Under this order a more general
/// route never precedes one it would shadow.
pub fn order(routes: &[Route]) -> Vec<usize> {
    let keys: Vec<Vec<(u8, &str)>> = routes
        .iter()
        .map(|r| {
            path::normalise(&r.path)
                .trim_start_matches('/')
                .split('/')
                .map(|s| (segment_rank(s), s))
                .collect()
        })
        .collect();
    let mut idx: Vec<usize> = (0..routes.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (&keys[a], &keys[b]);
        for (x, y) in ka.iter().zip(kb.iter()) {
            match x.0.cmp(&y.0) {
                std::cmp::Ordering::Equal => {}
                o => return o,
            }
        }
        ka.len().cmp(&kb.len())
    });
    idx
}

impl Compiler<'_> {
    /// X003: a route that, after ordering, upstream would still reject as
    /// shadowed — the same path and method twice, or paths its segment trie
    /// treats as overlapping (`/a/{*}` and `/a/{**}`).
    pub(super) fn unreachable(&mut self, routes: &[Route], order: &[usize]) {
        let mut tries: BTreeMap<Method, (SegmentTrie, Vec<(usize, String)>)> = BTreeMap::new();
        for &i in order {
            let route = &routes[i];
            let mut seen = BTreeSet::new();
            for &m in &route.methods {
                if !seen.insert(m) {
                    continue;
                }
                let (trie, paths) = tries.entry(m).or_default();
                let normal = path::normalise(&route.path).to_owned();
                let method = m.as_str();
                let message = if let Some((j, _)) = paths.iter().find(|(_, p)| *p == normal) {
                    format!(
                        "route {method} {} can never be reached: route {j} already takes {method} {}",
                        route.path, routes[*j].path
                    )
                } else if trie.insert(&route.path) {
                    format!(
                        "route {method} {} overlaps another route's path for {method}, which Kyma rejects as a path × method conflict; give them different methods or merge them",
                        route.path
                    )
                } else {
                    paths.push((i, normal));
                    continue;
                };
                self.error(Code::X003, join(&route_pointer(i), "path"), message);
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(paths: &[&str]) -> Vec<Route> {
        paths
            .iter()
            .map(|p| Route {
                path: (*p).into(),
                methods: vec![Method::GET],
                public: Some(true),
                jwt: None,
                ext_auth: None,
                service: None,
                timeout: None,
                request: None,
            })
            .collect()
    }

    #[test]
    fn most_specific_first() {
        let r = routes(&[
            "/*",
            "/api/{**}",
            "/api/v1/{*}",
            "/api/v1/orders",
            "/healthz",
            "/api/{*}/x",
        ]);
        let sorted: Vec<&str> = order(&r).into_iter().map(|i| r[i].path.as_str()).collect();
        assert_eq!(
            sorted,
            [
                "/healthz",
                "/api/v1/orders",
                "/api/v1/{*}",
                "/api/{*}/x",
                "/api/{**}",
                "/*"
            ]
        );
    }

    #[test]
    fn sorted_routes_never_conflict_in_the_trie() {
        let r = routes(&[
            "/*",
            "/a/{**}",
            "/a/b/{**}",
            "/a/b/c",
            "/a/{*}/c",
            "/b",
            "/a",
        ]);
        let mut trie = SegmentTrie::default();
        for i in order(&r) {
            assert!(!trie.insert(&r[i].path), "{} conflicts", r[i].path);
        }
    }
}
