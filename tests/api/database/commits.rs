//! A commit the database refuses: the batch's statement went through, its
//! COMMIT did not (a deferred constraint fails there). The create is
//! answered UNAVAILABLE, nothing of it shows on any instance, and its id
//! goes to the next create: what publishing before the commit, or ids from
//! a sequence (which skips the values of a rolled-back transaction), would
//! each get wrong.

use super::{assert_table_figures, rest_create, rest_created, start_on};
use crate::helpers::http;
use crate::helpers::postgres::{self, TestDatabase};

/// A constraint checked at COMMIT that refuses one name.
const REFUSE_AT_COMMIT: &str = "
    CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.name = convert_to('refused at commit', 'UTF8') THEN
            RAISE EXCEPTION 'refused at commit';
        END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON entities
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();";

#[test]
fn a_commit_the_database_refuses_shows_nothing_and_leaves_no_hole() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let one = start_on(&db.url());
    let other = start_on(&db.url());
    assert_eq!(rest_created(one.http_addr, "before", ""), 1);
    db.client()
        .batch_execute(REFUSE_AT_COMMIT)
        .expect("the deferred constraint is created");

    let refused = rest_create(one.http_addr, "refused at commit", "");
    assert_eq!(refused.status, 503, "a refused commit: {}", refused.text());
    let message = refused.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("refused at commit"),
        "the answer says why: {message}"
    );
    for instance in [&one, &other] {
        let got = http::get(instance.http_addr, "/entities/2");
        assert_eq!(
            got.status,
            404,
            "the refused create is not shown: {}",
            got.text()
        );
        let listed = http::get(instance.http_addr, "/entities").json();
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(1),
            "only the first entity is listed: {listed}"
        );
    }

    // Its id goes to the next creates, on either instance.
    assert_eq!(rest_created(other.http_addr, "after", ""), 2);
    assert_eq!(rest_created(one.http_addr, "after that", ""), 3);
    for instance in [&one, &other] {
        for (id, name) in [(2, "after"), (3, "after that")] {
            let got = http::get(instance.http_addr, &format!("/entities/{id}"));
            assert_eq!(got.status, 200, "entity {id}: {}", got.text());
            assert_eq!(got.json()["name"], name, "entity {id}");
        }
    }
    assert_table_figures(&db, 3);
}
