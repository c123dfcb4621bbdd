use super::*;

/// The bundled policies skip the schema at run time; here they meet it.
#[test]
fn bundled_policies_pass_the_schema() {
    for text in [DEFAULT, LEGACY] {
        let checked = Policy::parse(text).unwrap();
        let bundled = Policy::bundled(text);
        assert_eq!(checked.name, bundled.name);
        assert_eq!(format!("{:?}", checked), format!("{:?}", bundled));
    }
}

/// By default an object may suppress neither the organisation's rules, nor
/// R010, nor a schema rule: the people a policy guards against write the
/// annotation.
#[test]
fn by_default_objects_cannot_suppress_what_guards_them() {
    let granted = crate::policy::Policy::default().org.suppressible;
    for code in crate::rules::Code::ALL {
        let guard =
            matches!(code.as_str().as_bytes()[0], b'O' | b'S') || *code == crate::rules::Code::R010;
        assert_eq!(granted.contains(code), !guard, "{code}");
    }
}
