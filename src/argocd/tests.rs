//! Tests of `argocd`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn parameters_from_json_or_flattened_variables() {
    let json = env(&[(
        "ARGOCD_APP_PARAMETERS",
        r#"[{"name":"values-files","array":["env/prod.yaml","extra.yaml"]},{"name":"strict","string":"true"}]"#,
    )]);
    let p = parameters(&json).unwrap();
    assert_eq!(p.values_files, ["env/prod.yaml", "extra.yaml"]);
    assert!(p.strict);
    assert_eq!(p.api_version, Version::V2);
    let flat = env(&[
        ("PARAM_VALUES_FILES_1", "extra.yaml"),
        ("PARAM_VALUES_FILES_0", "env/prod.yaml"),
        ("PARAM_API_VERSION", "v1beta1"),
    ]);
    let p = parameters(&flat).unwrap();
    assert_eq!(p.values_files, ["env/prod.yaml", "extra.yaml"]);
    assert_eq!(p.api_version, Version::V1beta1);
    assert_eq!(parameters(&env(&[])).unwrap(), Parameters::default());
    assert!(parameters(&env(&[("PARAM_STRICT", "yes")])).is_err());
    assert!(parameters(&env(&[("ARGOCD_APP_PARAMETERS", "{")])).is_err());
}

#[test]
fn values_paths_stay_inside_the_application() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    assert!(values_path(&dir, "env/dev.yaml").is_ok());
    assert!(values_path(&dir, "../Cargo.toml").is_err());
    assert!(values_path(&dir, "/etc/passwd").is_err());
    assert!(values_path(&dir, "env/missing.yaml").is_err());
}
