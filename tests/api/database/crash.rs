//! The SIGKILL of an instance under load: REST and gRPC clients create
//! through a child on the database until it is killed at a random moment.
//! Every acknowledged create is then in the table with exactly what was
//! sent, nothing half made or made twice, ids 1..N without a hole; an
//! instance started afterwards serves all of them, and one that watched
//! throughout saw each once, in order. Three rounds on one database.

use std::time::Duration;

use super::load::{grpc_loader, rest_loader, verify_table, Ledger};
use super::{all_entities, open_watch, rest_created, serve_on, start_on, take_in_order, triple};
use crate::helpers::lock::serial;
use crate::helpers::postgres::{self, TestDatabase};

/// Kill-and-restart rounds on one database.
const ROUNDS: usize = 3;
/// Creates acknowledged in a round before the kill, at most (the kill
/// comes after a random number of them up to this).
const MAX_ACKNOWLEDGED_BEFORE_KILL: usize = 300;
/// How long a round may take to reach its kill moment: a hang bound.
const ROUND_LIMIT: Duration = Duration::from_secs(30);
/// How long the killed child may take to be gone.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn sigkill_under_load_loses_no_acknowledged_create() {
    let _machine = serial();
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let watcher = start_on(&db.url());
    let mut watch = open_watch(watcher.grpc_addr, 0);
    let ledger = Ledger::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    for round in 0..ROUNDS {
        let mut server = serve_on(&db.url());
        let loaders = [
            rest_loader(server.http_addr, &format!("r{round}-rest-a"), &ledger),
            rest_loader(server.http_addr, &format!("r{round}-rest-b"), &ledger),
            grpc_loader(server.grpc_addr, &format!("r{round}-grpc"), &ledger),
        ];
        let kill_after = 1 + rng.usize(..MAX_ACKNOWLEDGED_BEFORE_KILL);
        ledger.wait_for_more(
            kill_after,
            ROUND_LIMIT,
            &format!("round {round} (seed {seed})"),
        );
        server.signal(libc::SIGKILL);
        server
            .wait_with_timeout(EXIT_LIMIT)
            .expect("SIGKILL ends the child");
        drop(loaders);
        verify_table(&db, &ledger);
    }

    let rows = verify_table(&db, &ledger);
    let stored: Vec<_> = rows.iter().map(|row| row.triple()).collect();
    let after = start_on(&db.url());
    let served: Vec<_> = all_entities(after.grpc_addr).iter().map(triple).collect();
    assert!(
        served == stored,
        "seed {seed}: a new instance serves the table"
    );
    let seen: Vec<_> = take_in_order(&mut watch, 0, stored.len())
        .iter()
        .map(triple)
        .collect();
    assert!(
        seen == stored,
        "seed {seed}: the watch saw the table, in order"
    );
    let next = rest_created(after.http_addr, "after the crashes", "");
    assert_eq!(next, stored.len() as i64 + 1, "seed {seed}: the next id");
}
