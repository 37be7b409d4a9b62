//! The database series of `/metrics`: commits and their sizes on the
//! instance that creates, catch-up queries on the one that follows, and a
//! replication lag that returns to zero.

use std::time::Duration;

use super::{all_entities, grpc_created, rest_created, start_on};
use crate::helpers::grpc::{self, call_options, create_many, create_request};
use crate::helpers::metrics::{sample, scrape};
use crate::helpers::postgres::{self, TestDatabase};
use crate::helpers::wait::assert_eventually;

/// Entities of the one CreateEntities call.
const STREAMED: usize = 10;

/// The value of an unlabelled series, which must be there.
#[track_caller]
fn figure(text: &str, name: &str) -> f64 {
    sample(text, name, &[]).unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn metrics_count_commits_entities_per_commit_and_catch_ups() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let writer = start_on(&db.url());
    let follower = start_on(&db.url());
    rest_created(writer.http_addr, "one", "");
    rest_created(writer.http_addr, "two", "");
    grpc_created(writer.grpc_addr, "three", "");
    let requests = (0..STREAMED)
        .map(|i| create_request(&format!("streamed {i}"), ""))
        .collect();
    let client = grpc::entity_client(writer.grpc_addr);
    let streamed = create_many(&client, call_options(), requests).expect("CreateEntities");
    assert_eq!(streamed.ids.len(), STREAMED);
    let created = (3 + STREAMED) as f64;

    let text = scrape(writer.http_addr);
    let commits = figure(&text, "database_commit_seconds_count");
    assert!(
        (1.0..=created).contains(&commits),
        "{commits} commits for {created} creates"
    );
    assert_eq!(
        figure(&text, "database_entities_per_commit_count"),
        commits,
        "{text}"
    );
    assert_eq!(
        figure(&text, "database_entities_per_commit_sum"),
        created,
        "{text}"
    );
    assert!(figure(&text, "database_commit_seconds_sum") > 0.0, "{text}");

    assert_eq!(all_entities(follower.grpc_addr).len(), 3 + STREAMED);
    let text = scrape(follower.http_addr);
    assert_eq!(
        figure(&text, "database_commit_seconds_count"),
        0.0,
        "{text}"
    );
    assert!(
        figure(&text, "database_catch_up_queries_total") >= 1.0,
        "{text}"
    );
    for service in [&writer, &follower] {
        assert_eventually(
            Duration::from_secs(5),
            || figure(&scrape(service.http_addr), "database_replication_lag_ids") == 0.0,
            || format!("the lag returns to 0:\n{}", scrape(service.http_addr)),
        );
        let text = scrape(service.http_addr);
        for name in [
            "database_listener_reconnects_total",
            "database_replication_lag_ids",
        ] {
            assert!(text.contains(name), "{name} in:\n{text}");
        }
        assert!(text.contains("database_errors_total"), "{text}");
    }
}
