//! A create accepts exactly what the OpenAPI document describes: a JSON
//! object with a string `name` and an optional (or null) string
//! `description`; every other JSON value, at the top level or in a field, is
//! a 400 that names what is wrong. A table over every JSON value kind and a
//! property test over generated JSON values, on both backends.

use std::cell::Cell;
use std::net::SocketAddr;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

use super::{assert_error, created_id, get_json, BACKENDS};
use crate::helpers::http::{self, entity_json};
use crate::helpers::TestService;

/// Generated bodies per backend: each is one create through real HTTP.
const PROPERTY_CASES: u32 = 1000;

/// One value of every JSON kind, named.
fn every_kind() -> Vec<(&'static str, Value)> {
    vec![
        ("null", Value::Null),
        ("true", json!(true)),
        ("false", json!(false)),
        ("an integer", json!(3)),
        ("a negative fraction", json!(-1.5)),
        ("a string", json!("m")),
        ("an empty array", json!([])),
        ("an array of one string", json!(["m"])),
        ("an array of two strings", json!(["m", "d"])),
        ("an array of three values", json!(["m", "d", 3])),
        ("an object", json!({ "name": "m" })),
    ]
}

#[test]
fn a_body_that_is_not_an_object_is_400_naming_what_it_is_on_both_backends() {
    for backend in BACKENDS {
        let service = TestService::start_with(|c| c.backend = backend);
        let addr = service.http_addr;
        for (what, body) in every_kind() {
            if body.is_object() {
                continue;
            }
            let response = http::post(addr, "/entities", &body.to_string());
            let message = assert_error(&response, 400, &format!("{backend:?}: {what}"));
            assert!(
                message.contains("expected a JSON object"),
                "{backend:?}: {what}: {message}"
            );
        }
        assert_eq!(service.store().len(), 0, "{backend:?}: nothing stored");
    }
}

#[test]
fn each_field_takes_only_its_type_and_the_400_names_the_field_on_both_backends() {
    for backend in BACKENDS {
        let service = TestService::start_with(|c| c.backend = backend);
        let addr = service.http_addr;
        let mut next_id = 1;
        for (what, value) in every_kind() {
            // `name` must be a string; `description` a string or null.
            let cases = [
                ("name", json!({ "name": value }), value.is_string()),
                (
                    "description",
                    json!({ "name": "n", "description": value }),
                    value.is_string() || value.is_null(),
                ),
            ];
            for (field, body, accepted) in cases {
                let context = format!("{backend:?}: {field} is {what}");
                let response = http::post(addr, "/entities", &body.to_string());
                if accepted {
                    assert_eq!(created_id(&response, &context), next_id);
                    let stored = get_json(addr, &format!("/entities/{next_id}"));
                    let description = body["description"].as_str().unwrap_or("");
                    let expected =
                        entity_json(next_id, body["name"].as_str().unwrap_or(""), description);
                    assert_eq!(stored, expected, "{context}");
                    next_id += 1;
                } else {
                    let message = assert_error(&response, 400, &context);
                    assert!(
                        message.starts_with(&format!("invalid request body: {field}: ")),
                        "{context}: {message}"
                    );
                }
            }
        }
        assert_eq!(service.store().len(), next_id as usize - 1, "{backend:?}");
    }
}

#[test]
fn repeated_keys_and_deep_nesting_are_refused_and_unknown_fields_ignored() {
    let service = TestService::start();
    let addr = service.http_addr;
    let deep = |depth: usize| {
        format!(
            r#"{{"name":"n","extra":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let refused = [
        ("a repeated name", r#"{"name":"a","name":"b"}"#.to_string()),
        (
            "a repeated unknown key",
            r#"{"name":"a","x":1,"x":2}"#.to_string(),
        ),
        ("32,000 levels in an unknown field", deep(32_000)),
        ("200 levels in an unknown field", deep(200)),
    ];
    for (what, body) in &refused {
        assert_error(&http::post(addr, "/entities", body), 400, what);
    }
    assert_eq!(service.store().len(), 0);
    let extra = r#"{"name":"n","extra":{"nested":[1,{"a":null}]},"id":99}"#;
    assert_eq!(
        created_id(&http::post(addr, "/entities", extra), "unknown fields"),
        1
    );
    assert_eq!(
        created_id(&http::post(addr, "/entities", &deep(100)), "100 levels"),
        2
    );
    assert_eq!(get_json(addr, "/entities/1"), entity_json(1, "n", ""));
}

/// What the schema accepts: `Some((name, description))` for a body a
/// create must store, `None` for one it must refuse.
fn schema_accepts(body: &Value) -> Option<(String, String)> {
    let object = body.as_object()?;
    let name = object.get("name")?.as_str()?;
    let description = match object.get("description") {
        None | Some(Value::Null) => "",
        Some(Value::String(description)) => description,
        Some(_) => return None,
    };
    let fits = |text: &str, most: usize| text.chars().count() <= most;
    (!name.trim().is_empty() && fits(name, 256) && fits(description, 4096))
        .then(|| (name.to_string(), description.to_string()))
}

/// Strings near every rule: empty, blank, ordinary, control characters and
/// U+0000, non-ASCII, and lengths around the limits.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => "[ \t\n\u{a0}\u{3000}]{1,4}",
        4 => "\\PC{1,12}",
        1 => "[\u{0}-\u{1f}a-z]{1,8}",
        1 => (250usize..262).prop_map(|n| "é".repeat(n)),
        1 => (4090usize..4102).prop_map(|n| "d".repeat(n)),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// Object keys: mostly the schema's own, sometimes others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("name".to_string()),
        3 => Just("description".to_string()),
        1 => "[a-z]{1,6}",
    ]
}

/// Bodies: any JSON value, or an object built around the schema's fields so
/// that valid bodies are common.
fn body() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        3 => text().prop_map(Value::String),
        1 => any_json(),
    ];
    let near_valid = (
        prop::option::weighted(0.9, field.clone()),
        prop::option::weighted(0.7, field),
        prop::collection::vec(("[a-z]{1,6}", any_json()), 0..2),
    )
        .prop_map(|(name, description, extra)| {
            let mut object: Map<String, Value> = extra.into_iter().collect();
            if let Some(name) = name {
                object.insert("name".into(), name);
            }
            if let Some(description) = description {
                object.insert("description".into(), description);
            }
            Value::Object(object)
        });
    prop_oneof![1 => any_json(), 3 => near_valid]
}

/// Posts `body`: a 201 exactly when the schema accepts it, and then the
/// entity stored is exactly what was sent; a refused body stores nothing.
fn check_create(addr: SocketAddr, body: &Value, stored: &Cell<usize>) -> Result<(), TestCaseError> {
    let response = http::post(addr, "/entities", &body.to_string());
    match schema_accepts(body) {
        Some((name, description)) => {
            prop_assert_eq!(response.status, 201, "{} → {}", body, response.text());
            stored.set(stored.get() + 1);
            let id = stored.get() as i64;
            prop_assert_eq!(response.json(), json!({ "id": id }));
            let got = http::get(addr, &format!("/entities/{id}")).json();
            prop_assert_eq!(got, entity_json(id, &name, &description));
        }
        None => {
            prop_assert_eq!(response.status, 400, "{} → {}", body, response.text());
            prop_assert!(response.json()["error"].is_string());
        }
    }
    Ok(())
}

#[test]
fn generated_bodies_are_created_exactly_when_the_schema_accepts_them_on_both_backends() {
    for backend in BACKENDS {
        let service = TestService::start_with(|c| c.backend = backend);
        let addr = service.http_addr;
        let stored = Cell::new(0usize);
        let mut runner = TestRunner::new(ProptestConfig {
            cases: PROPERTY_CASES,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let result = runner.run(&body(), |body| check_create(addr, &body, &stored));
        if let Err(failure) = result {
            panic!("{backend:?}: {failure}");
        }
        let stored = stored.get();
        assert_eq!(
            service.store().len(),
            stored,
            "{backend:?}: one entity per 201"
        );
        assert!(stored > 0, "{backend:?}: some generated bodies were valid");
        eprintln!(
            "property test ({backend:?}): {PROPERTY_CASES} generated bodies, {stored} created, {} refused",
            PROPERTY_CASES as usize - stored
        );
    }
}
