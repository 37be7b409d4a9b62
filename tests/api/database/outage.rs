//! One instance loses its database (a [`DatabaseProxy`] cut before it):
//! away at start, it starts anyway and reports not serving until it
//! reaches the database; away under load, creates are refused promptly
//! (503, UNAVAILABLE, nothing else), what it holds stays readable, and
//! once the database is back creates and watches resume, with nothing
//! acknowledged lost and no id skipped.

use std::time::Duration;

use entity_service::proto::health::health_check_response::ServingStatus;
use grpcio::RpcStatusCode;

use super::load::{grpc_loader, rest_loader, verify_table, Ledger};
use super::{
    all_entities, assert_table_figures, healthz, open_watch, rest_created, start_on, take_in_order,
    triple, watch_through,
};
use crate::helpers::grpc::{self, call_options, create_request, expect_code, health_request};
use crate::helpers::http;
use crate::helpers::metrics::total;
use crate::helpers::postgres::{self, DatabaseProxy, TestDatabase};
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// How soon an instance must serve and create again once its database is
/// back: "within a few seconds", with room for a loaded machine.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);
/// How long a refused create may take to be answered.
const REFUSAL_LIMIT: Duration = Duration::from_secs(3);
/// How long the loaders get to make their creates before and after a cut.
const LOAD_LIMIT: Duration = Duration::from_secs(20);

/// The gRPC health of the whole server on `service`.
#[track_caller]
fn health(service: &TestService) -> ServingStatus {
    grpc::health_client(service.grpc_addr)
        .check_opt(&health_request(""), call_options())
        .unwrap_or_else(|e| panic!("health Check: {e:?}"))
        .status
        .enum_value()
        .expect("a known serving status")
}

#[test]
fn an_instance_without_its_database_at_start_serves_once_it_answers() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let proxy = DatabaseProxy::start();
    proxy.cut();
    let url = db.url_via(&proxy);
    let service = TestService::start_with(move |c| c.database_url = Some(url));

    assert_eq!(health(&service), ServingStatus::NOT_SERVING);
    assert_eq!(healthz(service.http_addr), Some(503));
    let refused = http::Connection::open(service.http_addr)
        .with_timeout(REFUSAL_LIMIT)
        .request("POST", "/entities", &[], br#"{"name": "early"}"#);
    assert_eq!(refused.status, 503, "{}", refused.text());
    let unary = grpc::entity_client(service.grpc_addr)
        .create_entity_opt(&create_request("early", ""), grpc::deadline(REFUSAL_LIMIT));
    expect_code(unary, RpcStatusCode::UNAVAILABLE);
    // Still waiting after those: it did not give up.
    assert_eq!(health(&service), ServingStatus::NOT_SERVING);

    proxy.restore();
    assert_eventually(
        RECOVERY_LIMIT,
        || healthz(service.http_addr) == Some(200),
        || {
            format!(
                "serving once the database answers: /healthz {:?}",
                healthz(service.http_addr)
            )
        },
    );
    assert_eq!(health(&service), ServingStatus::SERVING);
    assert!(
        proxy.relayed() > 0,
        "it reached the database through the proxy"
    );
    assert_eq!(
        rest_created(service.http_addr, "first", "after the wait"),
        1
    );
    assert_table_figures(&db, 1);
}

#[test]
fn an_instance_that_loses_its_database_under_load_refuses_then_resumes() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let proxy = DatabaseProxy::start();
    let cut_off = start_on(&db.url_via(&proxy));
    let steady = start_on(&db.url());
    let mut steady_watch = open_watch(steady.grpc_addr, 0);
    let ledger = Ledger::new();
    let loaders = [
        rest_loader(cut_off.http_addr, "rest", &ledger),
        grpc_loader(cut_off.grpc_addr, "grpc", &ledger),
    ];
    ledger.wait_for_more(50, LOAD_LIMIT, "before the cut");

    proxy.cut();
    ledger.wait_for_refusals(20, LOAD_LIMIT, "after the cut");
    // What it holds stays readable without the database.
    let first = http::get(cut_off.http_addr, "/entities/1");
    assert_eq!(first.status, 200, "{}", first.text());
    let unary = grpc::entity_client(cut_off.grpc_addr)
        .get_entity_opt(&grpc::get_request(1), call_options())
        .expect("GetEntity of a replicated entity");
    assert_eq!(unary.id, 1);
    let window = http::get(cut_off.http_addr, "/entities?start_id=1&limit=1");
    assert_eq!(window.status, 200, "{}", window.text());
    assert_eq!(window.json()[0]["id"], 1);
    // The other instance is not affected.
    let beside = rest_created(steady.http_addr, "beside the outage", "");
    ledger.record(beside, "beside the outage", "");

    proxy.restore();
    ledger.wait_for_more(50, RECOVERY_LIMIT, "after the database came back");
    drop(loaders);

    let unexpected = ledger.unexpected_answers();
    assert!(
        unexpected.is_empty(),
        "answers other than 201/503/UNAVAILABLE: {unexpected:#?}"
    );
    assert!(
        ledger.slowest_refusal() < REFUSAL_LIMIT,
        "a refusal took {:?}",
        ledger.slowest_refusal()
    );
    let rows = verify_table(&db, &ledger);
    let stored: Vec<_> = rows.iter().map(|row| row.triple()).collect();
    let last = stored.len() as i64;

    let seen: Vec<_> = take_in_order(&mut steady_watch, 0, stored.len())
        .iter()
        .map(triple)
        .collect();
    assert!(
        seen == stored,
        "the other instance's watch differs from the table"
    );
    let (seen, _) = watch_through(cut_off.grpc_addr, 0, last);
    assert!(
        seen.iter().map(triple).eq(stored.iter().cloned()),
        "the instance that lost its database watches the table"
    );
    let served: Vec<_> = all_entities(cut_off.grpc_addr).iter().map(triple).collect();
    assert!(served == stored, "it serves the whole table again");

    let metrics = cut_off.metrics_text();
    assert!(total(&metrics, "database_errors_total") > 0.0, "{metrics}");
    // The listener's own backoff (up to 2 s) may still run when the
    // creates have already resumed on new connections.
    assert_eventually(
        RECOVERY_LIMIT,
        || {
            total(
                &cut_off.metrics_text(),
                "database_listener_reconnects_total",
            ) > 0.0
        },
        || format!("the listener reconnected: {}", cut_off.metrics_text()),
    );
}
