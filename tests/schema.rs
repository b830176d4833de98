//! The JSON Schema of the trust model: accepts the example, rejects unknown keys, and the
//! committed copy (`policy-spec/trust.schema.json`) is never stale.

use crate::support::root;

fn toml_to_json(text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(text).expect("valid TOML");
    serde_json::to_value(value).expect("TOML converts to JSON")
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&trustc::cli::schema_json()).unwrap();
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn schema_accepts_the_example_and_rejects_unknown_keys() {
    let v = validator();
    let example = std::fs::read_to_string(root().join("policy-spec/trust.toml")).unwrap();
    let instance = toml_to_json(&example);
    let errors: Vec<String> = v.iter_errors(&instance).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let typo = std::fs::read_to_string(root().join("tests/fixtures/invalid/TC0002.toml")).unwrap();
    assert!(
        !v.is_valid(&toml_to_json(&typo)),
        "unknown key must be rejected"
    );
    let wrong_type =
        std::fs::read_to_string(root().join("tests/fixtures/invalid/TC0003.toml")).unwrap();
    assert!(
        !v.is_valid(&toml_to_json(&wrong_type)),
        "wrong type must be rejected"
    );
}

#[test]
fn committed_schema_is_fresh() {
    let path = root().join("policy-spec/trust.schema.json");
    let fresh = trustc::cli::schema_json();
    if std::env::var_os("TRUSTC_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "policy-spec/trust.schema.json is stale: run `TRUSTC_BLESS=1 cargo test schema` (or `make schema`)"
    );
}
