//! The house rule of the source tree: top-level modules sit on floors, and
//! a module uses only modules on the floors below its own. There is no
//! import cycle, and a newcomer can read the code bottom up. A new module
//! must be given a floor here, which is where its place is decided.

use std::collections::BTreeMap;
use std::path::Path;

/// Bottom first. Modules on one floor do not use each other.
const FLOORS: &[(&str, &[&str])] = &[
    ("the rule registry and JSON changes", &["rules", "patch"]),
    ("findings and positions", &["diagnostic"]),
    (
        "the APIRule model and the YAML loader",
        &["apirule", "yaml"],
    ),
    ("exposure specs and templates", &["spec"]),
    ("policies", &["policy"]),
    ("the validation core", &["check"]),
    ("the core as admission policies", &["admission_policy"]),
    ("reports", &["report"]),
    ("inputs", &["source"]),
    ("locks and identity providers", &["identity"]),
    ("the project file", &["config"]),
    ("inputs read, rendered and parsed once", &["load"]),
    ("compilation", &["compile"]),
    ("one spec through compile and the core", &["exposure"]),
    ("render and migrate", &["render", "migrate"]),
    ("repairs applied to files", &["fix"]),
    ("the run: check and render", &["pipeline"]),
    ("the access model", &["access"]),
    ("faces", &["argocd", "webhook"]),
    ("the command line", &["cli"]),
];

/// Every `crate::NAME` a module's files name in code (comments left out).
fn uses(src: &Path, module: &str) -> BTreeMap<String, String> {
    let mut files = vec![src.join(format!("{module}.rs"))];
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut found = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut names: Vec<&str> = Vec::new();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or("");
                    names.extend(
                        group
                            .split(',')
                            .map(|p| p.trim().split("::").next().unwrap_or("")),
                    );
                } else {
                    names.push(
                        rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .next()
                            .unwrap_or(""),
                    );
                }
            }
            for name in names {
                found
                    .entry(name.to_owned())
                    .or_insert_with(|| format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_floors_below_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let floor_of: BTreeMap<&str, usize> = FLOORS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, modules))| modules.iter().map(move |m| (*m, i)))
        .collect();
    let mut modules: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".rs")?.to_owned();
            (stem != "lib" && stem != "main").then_some(stem)
        })
        .collect();
    modules.sort();
    let mut wrong = Vec::new();
    for module in &modules {
        let Some(&floor) = floor_of.get(module.as_str()) else {
            wrong.push(format!("src/{module}.rs has no floor in tests/layers.rs"));
            continue;
        };
        for (used, at) in uses(&src, module) {
            match floor_of.get(used.as_str()) {
                Some(&f) if f < floor || used == *module => {}
                Some(&f) => wrong.push(format!(
                    "{module} ({}) uses {used} ({}) at {at}",
                    FLOORS[floor].0, FLOORS[f].0
                )),
                // `crate::` followed by something that is not a module of
                // the crate (a macro, `self`): not a floor matter.
                None => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `src/lib.rs` lists the modules in the floors' order, so the first file a
/// newcomer opens reads bottom up too.
#[test]
fn lib_rs_lists_the_modules_floor_by_floor() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let listed: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    let floor = |m: &str| FLOORS.iter().position(|(_, ms)| ms.contains(&m));
    let floors: Vec<Option<usize>> = listed.iter().map(|m| floor(m)).collect();
    assert!(floors.iter().all(Option::is_some), "{listed:?}");
    assert!(
        floors.is_sorted(),
        "src/lib.rs is not in floor order: {listed:?}"
    );
    let all: usize = FLOORS.iter().map(|(_, ms)| ms.len()).sum();
    assert_eq!(listed.len(), all, "{listed:?}");
}

/// No source file is over 500 lines unless its module doc says why
/// (`longer than 500 lines because ...`): a long file is a module that
/// has not been split along its seams yet.
#[test]
fn no_source_file_is_over_500_lines_without_a_reason() {
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut long = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let lines = text.lines().count();
                if lines > 500 && !text.contains("longer than 500 lines because") {
                    long.push(format!("{}: {lines} lines", path.display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}
