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
