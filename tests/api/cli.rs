//! The command line beyond `serve`: `entity-service client …` and `demo`
//! run as child processes against a service in-process on port 0, their
//! output checked against the store; and `serve --help` checked against the
//! README's flag table. What the commands print is asserted here, once.
//!
//! Every child runs within the child helper's run limit: a command that
//! hangs (a watch that ignores its deadline, a client that waits for an
//! unreachable server) fails the test there.
//!
//! - `client`: calls that succeed, in human and `--json` form.
//! - `failures`: exit codes, bad command lines, an unreachable server, tokens.
//! - `import`, `watch`: the two streaming commands with a file or a live end.
//! - `demo`: the tour of every RPC.
//! - `config`: `serve --help` against the README's flag table.

mod client;
mod config;
mod demo;
mod failures;
mod import;
mod watch;

use crate::helpers::TestService;

/// The exact `--json` line of a stored entity: the REST shape, keys in order.
fn entity_json_line(service: &TestService, id: i64) -> String {
    let stored = service.store().get(id).expect("stored");
    serde_json::json!({
        "id": stored.id,
        "name": stored.name,
        "description": stored.description,
    })
    .to_string()
}

/// A human line mentions the id, the name and the description as stored.
#[track_caller]
fn assert_human_entity_line(service: &TestService, line: &str, id: i64) {
    let stored = service.store().get(id).expect("stored");
    // Values may be shown as they are or quoted with escapes.
    let shows = |value: &str| line.contains(value) || line.contains(&format!("{value:?}"));
    assert!(
        line.contains(&id.to_string()) && shows(&stored.name) && shows(&stored.description),
        "line {line:?} should describe entity {stored:?}"
    );
}

/// (name, description) of every stored entity from `start_id` on.
fn stored_from(service: &TestService, start_id: i64) -> Vec<(String, String)> {
    service
        .store()
        .list(start_id, 0)
        .iter()
        .map(|e| (e.name.clone(), e.description.clone()))
        .collect()
}
