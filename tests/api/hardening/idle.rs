//! Idle connections and the listener's accept timeout: connections that
//! never speak, or stop speaking, neither hold up fresh requests nor stay
//! open past the idle timeout, and quiet periods that end `accept()` leave
//! the listener serving and stoppable.

use std::time::{Duration, Instant};

use crate::helpers::lock::serial;
use crate::helpers::net::raise_open_file_limit;
use crate::helpers::wait::wait_until;
use crate::helpers::{http, TestService};

/// Idle connections held open at once by the flood test.
const IDLE_CONNECTIONS: usize = 1000;

/// How long a stop may take: a hang bound.
const STOP_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn a_thousand_idle_connections_do_not_block_fresh_requests_and_all_close_after_the_idle_timeout() {
    let _serial = serial();
    let limit = raise_open_file_limit();
    // Ours, the server's two per connection, and slack.
    assert!(limit >= 4000, "RLIMIT_NOFILE hard limit {limit} is too low");
    let idle_timeout = Duration::from_millis(1500);
    let service = TestService::start_with(|c| c.http_idle_timeout_ms = 1500);
    let addr = service.http_addr;

    // (connection, whether it got a request, when it went idle)
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    let mut last_created = None;
    for n in 0..IDLE_CONNECTIONS {
        let answered = n % 2 == 1;
        let mut connection = http::Connection::open(addr).named(format!("idle connection {n}"));
        if answered {
            let response = connection.request("GET", "/healthz", &[], b"");
            assert_eq!(response.status, 200, "idle connection {n}");
        }
        idle.push((connection, answered, Instant::now()));

        // After every fifth idle one, a request on a fresh connection: a
        // create, then a read of what it created, in turn.
        if n % 10 == 4 {
            let response = http::post(addr, "/entities", &format!(r#"{{"name":"fresh {n}"}}"#));
            assert_eq!(response.status, 201, "fresh POST after {} idle", n + 1);
            last_created = response.json()["id"].as_i64();
        } else if n % 10 == 9 {
            let id = last_created.expect("the create came first");
            let response = http::get(addr, &format!("/entities/{id}"));
            assert_eq!(response.status, 200, "fresh GET after {} idle", n + 1);
            assert_eq!(response.json()["name"], format!("fresh {}", n - 5));
        }
    }
    assert_eq!(service.store().len(), IDLE_CONNECTIONS / 10);

    // Those idle for less than a third of the timeout are still open.
    let mut recent = 0;
    for (n, (connection, _, since)) in idle.iter_mut().enumerate().rev() {
        if since.elapsed() > idle_timeout / 3 {
            break;
        }
        assert!(
            !connection.closed_by_server(),
            "idle connection {n} was closed after only {:?} idle",
            since.elapsed()
        );
        recent += 1;
    }
    assert!(
        recent > 0,
        "no connection left to check before the idle timeout"
    );

    // Then the server closes every one of them, within a second past the timeout.
    let limit = idle_timeout + Duration::from_secs(1);
    let mut open: Vec<usize> = (0..idle.len()).collect();
    let all_closed = wait_until(limit, || {
        open.retain(|&n| !idle[n].0.closed_by_server());
        open.is_empty()
    });
    let silent = open.iter().filter(|&&n| !idle[n].1).count();
    assert!(
        all_closed,
        "{} of {IDLE_CONNECTIONS} idle connections still open {limit:?} after the last one \
         went idle (idle timeout {idle_timeout:?}): {silent} silent, {} after an answer; \
         first: {:?}",
        open.len(),
        open.len() - silent,
        &open[..open.len().min(10)]
    );
    drop(idle);

    // And the service still answers.
    assert_eq!(http::get(addr, "/healthz").status, 200);
}

#[test]
fn requests_succeed_after_quiet_periods_longer_than_the_accept_timeout() {
    let service = TestService::start_with(|c| c.http_idle_timeout_ms = 300);
    let addr = service.http_addr;
    assert_eq!(http::get(addr, "/healthz").status, 200);

    for round in 1..=4 {
        // The stimulus, not a wait for a condition: a second without
        // traffic, in which the 300 ms accept timeout ends accept() ~3 times.
        std::thread::sleep(Duration::from_secs(1));
        let created = http::post(addr, "/entities", &format!(r#"{{"name":"round {round}"}}"#));
        assert_eq!(
            created.status, 201,
            "round {round}: create after a quiet second"
        );
        assert_eq!(created.json()["id"], round);
        let read = http::get(addr, &format!("/entities/{round}"));
        assert_eq!(read.status, 200, "round {round}");
        assert_eq!(read.json()["name"], format!("round {round}"));
    }
    assert_eq!(service.store().len(), 4);
}

/// tiny_http 0.12's connection thread pool counts a thread it has just
/// woken as still idle, so a connection accepted right behind another, while
/// no other pool thread is free, is queued behind busy connections until
/// one of them ends; the listener's heartbeat frees a pool thread for it.
#[test]
fn a_request_right_after_an_idle_connection_is_not_queued_behind_it() {
    // The idle connections would end at the 30 s idle timeout; each request
    // gets the client's 10 s read timeout, so one queued behind an idle
    // connection shows as silence and fails the test.
    let service = TestService::start_with(|c| c.http_idle_timeout_ms = 30_000);
    let addr = service.http_addr;
    let mut silent = Vec::new();
    for round in 0..40 {
        silent.push(http::Connection::open(addr));
        let response = http::Connection::open(addr)
            .named(format!(
                "round {round}: a GET right after an idle connection ({} open)",
                silent.len()
            ))
            .request("GET", "/healthz", &[("Connection", "close")], b"");
        assert_eq!(response.status, 200, "round {round}");
    }
    drop(silent);
}

#[test]
fn stop_returns_after_the_acceptor_was_replaced_many_times() {
    // (case, idle timeout, quiet time before each request): the control sees
    // the same traffic without quiet periods, so no replacement.
    let cases = [
        ("control, no replacement", None, Duration::ZERO),
        (
            "after ~40 acceptor replacements",
            Some(50),
            Duration::from_millis(120),
        ),
    ];
    for (case, idle_timeout_ms, quiet) in cases {
        let service = TestService::start_with(|c| {
            if let Some(ms) = idle_timeout_ms {
                c.http_idle_timeout_ms = ms;
            }
        });
        for round in 0..20 {
            // The stimulus: about two accept timeouts, so two acceptor
            // replacements, per round.
            std::thread::sleep(quiet);
            let response = http::get_within(service.http_addr, "/healthz", Duration::from_secs(3));
            assert_eq!(
                response.map(|r| r.status),
                Some(200),
                "{case}: round {round}"
            );
        }
        service.stop_within(STOP_LIMIT, case);
    }
}
