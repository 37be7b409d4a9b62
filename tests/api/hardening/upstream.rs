//! A gateway (`--grpc-upstream`) whose upstream goes away and comes back on
//! the same port: 503 on every route while it is down, served again once it
//! is back, without restarting the gateway.

use std::time::Duration;

use crate::helpers::net::free_port;
use crate::helpers::wait::wait_until;
use crate::helpers::{http, TestService};

/// How long a port just freed may take to be bound again.
const REBIND_LIMIT: Duration = Duration::from_secs(3);

/// How long a stop may take: a hang bound.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The read timeout of each request while the upstream is down: a hang
/// bound past the gateway's 1 s deadline.
const DOWN_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Rounds over every route while the upstream is down, and the time
/// between them: together they span the channel's first reconnect attempts.
const DOWN_ROUNDS: usize = 15;
const ROUND_GAP: Duration = Duration::from_millis(100);

/// How long the gateway may take to serve again once the upstream is back:
/// a hang bound over gRPC's reconnect backoff.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// A service whose gRPC listener is on `port`, retried while the port is
/// still held by the previous one.
fn start_upstream_on(port: u16) -> TestService {
    let mut started = None;
    let mut last_error = None;
    wait_until(REBIND_LIMIT, || {
        match TestService::try_start_with(|c| c.grpc_addr = format!("127.0.0.1:{port}")) {
            Ok(service) => started = Some(service),
            Err(error) => last_error = Some(error),
        }
        started.is_some()
    });
    started.unwrap_or_else(|| {
        panic!("cannot start an upstream on port {port} within {REBIND_LIMIT:?}: {last_error:?}")
    })
}

#[test]
fn the_gateway_answers_503_while_its_upstream_is_down_and_recovers_when_it_returns() {
    let port = free_port();
    let upstream = start_upstream_on(port);
    let gateway = TestService::start_with(|c| c.grpc_upstream = Some(format!("127.0.0.1:{port}")));
    let addr = gateway.http_addr;

    let created = http::post(addr, "/entities", r#"{"name":"first life"}"#);
    assert_eq!(created.status, 201);
    assert_eq!(upstream.store().len(), 1);
    assert_eq!(
        gateway.store().len(),
        0,
        "the gateway's own store is not used"
    );

    upstream.stop_within(STOP_LIMIT, "the upstream");

    // Down: 503 on every route, never the 504 of waiting out the deadline.
    for round in 0..DOWN_ROUNDS {
        for (method, path, body) in [
            ("POST", "/entities", &br#"{"name":"while down"}"#[..]),
            ("GET", "/entities/1", b""),
            ("GET", "/entities", b""),
            ("GET", "/healthz", b""),
        ] {
            let what = format!("{method} {path} with the upstream down (round {round})");
            let response = http::Connection::open(addr)
                .named(&what)
                .with_timeout(DOWN_READ_TIMEOUT)
                .request(method, path, &[], body);
            assert_eq!(response.status, 503, "{what}: {}", response.text());
        }
        // Pacing, not a wait for a condition: the rounds are spread in time.
        std::thread::sleep(ROUND_GAP);
    }

    // Back on the same port, without restarting the gateway.
    let upstream = start_upstream_on(port);
    let mut last = None;
    let recovered = wait_until(RECOVERY_LIMIT, || {
        let response = http::post(addr, "/entities", r#"{"name":"second life"}"#);
        let created = response.status == 201;
        last = Some(response);
        created
    });
    assert!(
        recovered,
        "the gateway still fails {RECOVERY_LIMIT:?} after the upstream came back: {last:?}"
    );
    let created = last.expect("a create was answered");
    assert_eq!(created.json()["id"], 1, "the new upstream starts empty");
    assert_eq!(upstream.store().len(), 1);
    let read = http::get(addr, "/entities/1");
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["name"], "second life");
    assert_eq!(http::get(addr, "/healthz").status, 200);
}
