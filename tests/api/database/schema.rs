//! The tables an instance makes at start: made once however many
//! instances start together, in the documented shape; a schema newer than
//! the build's, or a second place to keep the entities, refuses the start.
//! `ENTITY_DATABASE_URL` is the flag's variable.

use std::sync::{Arc, Barrier};

use entity_service::StartError;

use super::{assert_table_figures, rest_created, table_rows, wait_serving};
use crate::helpers::child::{path_arg, Binary};
use crate::helpers::net::closed_port;
use crate::helpers::postgres::{self, TestDatabase};
use crate::helpers::TestService;

/// Instances started at the same moment on a fresh database.
const RACERS: usize = 4;

/// (table, column, type) of every column the service's tables have, as
/// `information_schema` names the types.
const COLUMNS: [(&str, &str, &str); 6] = [
    ("entities", "description", "bytea"),
    ("entities", "id", "bigint"),
    ("entities", "name", "bytea"),
    ("entity_counter", "last_id", "bigint"),
    ("entity_counter", "only_row", "boolean"),
    ("entity_service_schema", "version", "integer"),
];

#[test]
fn instances_racing_to_start_on_a_fresh_database_make_the_schema_once() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let start = Arc::new(Barrier::new(RACERS));
    let starting: Vec<_> = (0..RACERS)
        .map(|_| {
            let (url, start) = (db.url(), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                Binary::server(&["--database-url", &url]).serve()
            })
        })
        .collect();
    let servers: Vec<_> = starting
        .into_iter()
        .map(|thread| thread.join().expect("the instance starts"))
        .collect();
    for server in &servers {
        wait_serving(server.http_addr);
    }

    let mut client = db.client();
    let versions = schema_versions(&mut client);
    assert_eq!(versions, [1], "one schema row, version 1");
    let columns: Vec<(String, String, String)> = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text
             FROM information_schema.columns
             WHERE table_schema = current_schema()
             ORDER BY table_name, column_name",
            &[],
        )
        .expect("the columns")
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let expected: Vec<_> = COLUMNS
        .iter()
        .map(|(t, c, d)| (t.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(columns, expected);
    assert_table_figures(&db, 0);

    let mut ids: Vec<i64> = servers
        .iter()
        .enumerate()
        .map(|(i, server)| rest_created(server.http_addr, &format!("from {i}"), ""))
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_table_figures(&db, 4);
}

#[test]
fn a_newer_schema_is_refused_at_start() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    db.client()
        .batch_execute(
            "CREATE TABLE entity_service_schema (version integer NOT NULL);
             INSERT INTO entity_service_schema (version) VALUES (2);",
        )
        .expect("a version 2 schema");

    let run = Binary::server(&["--database-url", &db.url()]).run();
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "must not serve: {run:#?}");
    assert!(run.stderr.contains("newer"), "{run:#?}");

    let url = db.url();
    match TestService::try_start_with(move |c| c.database_url = Some(url)) {
        Err(error @ StartError::Database(_)) => {
            assert!(error.to_string().contains("newer"), "{error}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("started on a newer schema"),
    }
    // Nothing was made or changed.
    let mut client = db.client();
    let made: Option<String> = client
        .query_one("SELECT to_regclass('entities')::text", &[])
        .expect("look for the table")
        .get(0);
    assert_eq!(made, None, "no entities table made");
    let versions = schema_versions(&mut client);
    assert_eq!(versions, [2]);
}

#[test]
fn a_data_dir_and_a_database_url_together_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary data directory");
    // Nothing listens there: the refusal comes before any connection.
    let url = format!("postgres://postgres@{}/none", closed_port());
    let run = Binary::server(&["--database-url", &url])
        .data_dir(dir.path())
        .run();
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "must not serve: {run:#?}");
    assert!(
        run.stderr.contains("--data-dir") && run.stderr.contains("--database-url"),
        "{run:#?}"
    );

    let path = dir.path().to_path_buf();
    let started = TestService::try_start_with(move |c| {
        c.data_dir = Some(path);
        c.database_url = Some(url);
    });
    assert!(
        matches!(started, Err(StartError::TwoStores)),
        "{:?}",
        started.err()
    );
    assert_eq!(
        std::fs::read_dir(path_arg(dir.path()))
            .expect("the directory")
            .count(),
        0,
        "nothing written to the data directory"
    );
}

#[test]
fn the_database_url_may_come_from_the_environment() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let server = Binary::server(&[])
        .env("ENTITY_DATABASE_URL", &db.url())
        .serve();
    wait_serving(server.http_addr);
    assert_eq!(
        rest_created(server.http_addr, "from the environment", "\u{0}"),
        1
    );
    let rows = table_rows(&mut db.client());
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].triple(),
        (1, "from the environment".into(), "\u{0}".into())
    );
}

/// The rows of the schema-version table.
#[track_caller]
fn schema_versions(client: &mut ::postgres::Client) -> Vec<i32> {
    client
        .query("SELECT version FROM entity_service_schema", &[])
        .expect("the schema table")
        .iter()
        .map(|row| row.get(0))
        .collect()
}
