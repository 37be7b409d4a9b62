//! What reaches the table: every string the service accepts is stored as
//! its exact UTF-8 bytes (U+0000 included) and comes back unchanged on
//! either instance; a create the service rejects takes no id.

use grpcio::RpcStatusCode;

use super::{
    all_entities, assert_table_figures, grpc_created, rest_create, rest_created, start_on,
    table_rows, triple,
};
use crate::helpers::grpc::{self, call_options, create_many, create_request, expect_code};
use crate::helpers::http::{self, entity_json};
use crate::helpers::postgres::{self, TestDatabase};

/// Names the service accepts that a text column, an escaping bug or a
/// normalising layer would change.
const NAMES: [&str; 18] = [
    "\u{0}",
    "a\u{0}b",
    "\u{0}\u{0}ends with nul\u{0}",
    "🦀 crab",
    "👩\u{200d}👩\u{200d}👧\u{200d}👦",
    "e\u{301}",
    "\u{e9}",
    "A\u{30a}ngstr\u{f6}m",
    "back\\slash\\\\",
    "\\x00ff",
    "\\000\\\\",
    "quote\"s",
    "it's '' ''' quoted",
    "'; DROP TABLE entities; --",
    "line\nbreak\r\ttab",
    "\u{7f}\u{1b}[31mred\u{1b}[0m",
    "\u{feff}bom \u{fffd} \u{10ffff}",
    "\u{202e}rtl $1 %s {}",
];

/// The description given with the name at `index`.
fn description(index: usize) -> String {
    match index % 4 {
        0 => String::new(),
        1 => NAMES[(index + 5) % NAMES.len()].repeat(3),
        2 => "é🦀\u{0}".repeat(4096 / 3),
        _ => format!("{}\u{0}", NAMES[index]),
    }
}

#[test]
fn odd_strings_round_trip_through_rest_grpc_and_the_table() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let one = start_on(&db.url());
    let other = start_on(&db.url());
    let mut expected = Vec::new();
    for (index, name) in NAMES.iter().enumerate() {
        let description = description(index);
        let id = if index % 2 == 0 {
            rest_created(one.http_addr, name, &description)
        } else {
            grpc_created(one.grpc_addr, name, &description)
        };
        assert_eq!(id, index as i64 + 1, "{name:?}");
        // Read back on the other instance, both ways.
        let got = http::get(other.http_addr, &format!("/entities/{id}"));
        assert_eq!(got.status, 200, "{name:?}: {}", got.text());
        assert_eq!(got.json(), entity_json(id, name, &description), "{name:?}");
        let entity = grpc::entity_client(other.grpc_addr)
            .get_entity_opt(&grpc::get_request(id), call_options())
            .unwrap_or_else(|e| panic!("{name:?}: {e:?}"));
        assert_eq!(triple(&entity), (id, name.to_string(), description.clone()));
        expected.push((id, name.to_string(), description));
    }
    let rows = table_rows(&mut db.client());
    assert_eq!(rows.len(), NAMES.len());
    for (row, (id, name, description)) in rows.iter().zip(&expected) {
        assert_eq!(row.id, *id);
        assert_eq!(row.name, name.as_bytes(), "the bytea of {name:?}");
        assert_eq!(
            row.description,
            description.as_bytes(),
            "the bytea of {id}'s description"
        );
    }
    for service in [&one, &other] {
        let served: Vec<_> = all_entities(service.grpc_addr).iter().map(triple).collect();
        assert_eq!(served, expected);
    }
}

#[test]
fn a_rejected_create_takes_no_id() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let one = start_on(&db.url());
    let other = start_on(&db.url());
    assert_eq!(rest_created(one.http_addr, "first", ""), 1);

    for (name, description) in [
        ("", "empty name"),
        (" \t\u{3000}", "blank name"),
        (&"n".repeat(257) as &str, "name too long"),
        ("fine", &"d".repeat(4097) as &str),
    ] {
        let response = rest_create(one.http_addr, name, description);
        assert_eq!(response.status, 400, "{description:?}: {}", response.text());
        let unary = grpc::entity_client(other.grpc_addr)
            .create_entity_opt(&create_request(name, description), call_options());
        expect_code(unary, RpcStatusCode::INVALID_ARGUMENT);
    }
    let malformed = http::post(one.http_addr, "/entities", "{\"name\": ");
    assert_eq!(malformed.status, 400, "{}", malformed.text());
    assert_eq!(rest_created(other.http_addr, "second", ""), 2);

    // A stream that turns invalid keeps what it created before, and the
    // invalid message takes no id.
    let client = grpc::entity_client(other.grpc_addr);
    let requests = vec![create_request("third", ""), create_request("", "")];
    expect_code(
        create_many(&client, call_options(), requests),
        RpcStatusCode::INVALID_ARGUMENT,
    );
    assert_eq!(grpc_created(one.grpc_addr, "fourth", ""), 4);

    let names: Vec<_> = table_rows(&mut db.client())
        .iter()
        .map(|row| row.triple())
        .map(|(id, name, _)| (id, name))
        .collect();
    let expected: Vec<_> = ["first", "second", "third", "fourth"]
        .iter()
        .zip(1..)
        .map(|(name, id)| (id, name.to_string()))
        .collect();
    assert_eq!(names, expected);
    assert_table_figures(&db, 4);
}
