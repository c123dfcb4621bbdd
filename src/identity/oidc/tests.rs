use super::*;
use serde_json::json;

#[test]
fn discovery_url_drops_one_trailing_slash_before_the_well_known_path() {
    assert_eq!(
        discovery_url("https://id.example/tenant/"),
        "https://id.example/tenant/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery_url("https://id.example"),
        "https://id.example/.well-known/openid-configuration"
    );
}

#[test]
fn a_trailing_slash_mismatch_is_named() {
    let m = issuer_mismatch("https://id.example/", "https://id.example");
    assert!(m.contains("differ only in the trailing slash"), "{m}");
    assert!(!issuer_mismatch("https://a", "https://b").contains("trailing"));
}

#[test]
fn signing_keys_are_told_from_unusable_ones() {
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "b", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "kid": "a", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
    ]});
    assert_eq!(signing_keys(&jwks).unwrap(), vec!["a", "b"]);
}

#[test]
fn a_jwks_without_signing_keys_says_why() {
    let jwks = json!({"keys": [
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "half", "n": "AQAB"},
        {"kty": "RSA", "kid": "private", "n": "AQAB", "e": "AQAB", "d": "AQAB"},
        {"kty": "RSA", "alg": "HS256", "n": "AQAB", "e": "AQAB"},
    ]});
    let err = signing_keys(&jwks).unwrap_err();
    for part in [
        "key \"enc\": its use is \"enc\"",
        "key \"hmac\": key type \"oct\"",
        "key \"half\": it has no \"e\"",
        "key \"private\": it publishes a private key",
        "key 4: algorithm \"HS256\"",
    ] {
        assert!(err.contains(part), "{part} in {err}");
    }
    assert!(
        signing_keys(&json!({"keys": []}))
            .unwrap_err()
            .contains("holds no keys")
    );
    assert!(
        signing_keys(&json!({"kty": "RSA"}))
            .unwrap_err()
            .contains("not a JWKS")
    );
}

#[test]
fn tokens_decode_without_verification() {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.sig",
        part(json!({"alg": "RS256", "kid": "k"})),
        part(json!({"iss": "https://id.example", "scope": "read write", "aud": ["a", "b"]}))
    );
    let (header, claims) = decode(&token).unwrap();
    assert_eq!(header["kid"], "k");
    assert_eq!(scopes(&claims), vec!["read", "write"]);
    assert_eq!(audiences(&claims), vec!["a", "b"]);
    assert!(
        decode("opaque")
            .unwrap_err()
            .to_string()
            .contains("1 dot-separated part")
    );
    assert!(
        decode("a.b.c")
            .unwrap_err()
            .to_string()
            .contains("header is not base64url")
    );
}

#[test]
fn scp_lists_count_as_scopes() {
    assert_eq!(scopes(&json!({"scp": ["a", "b"]})), vec!["a", "b"]);
    assert_eq!(audiences(&json!({"aud": "x"})), vec!["x"]);
}

#[test]
fn the_secret_is_never_shown() {
    let c = Credentials {
        id: "app".into(),
        secret: "hunter2".into(),
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(c.redact("bad secret hunter2!"), "bad secret ***!");
}
