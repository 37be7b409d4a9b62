//! Ordinary traffic through the front: what a client sends arrives as it
//! was sent, on kept-alive connections, spread over the instances, and an
//! instance that is down does not fail GETs.

use std::net::SocketAddr;

use serde_json::json;

use super::nginx::Front;
use super::{assert_json_error, instance};
use crate::helpers::http::{self, entity_json, Connection};
use crate::helpers::metrics::{sample, scrape};

/// Sequential requests on one client connection of the front.
const SEQUENTIAL: usize = 20;

#[test]
fn gets_and_posts_share_one_kept_alive_connection_each_way() {
    let service = instance(&[]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    let mut client = Connection::open(front.addr).named("client of the front");
    for n in 1..=SEQUENTIAL {
        let body = json!({ "name": format!("e{n}"), "description": "through the front" });
        let created = client.request("POST", "/entities", &[], body.to_string().as_bytes());
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json(), json!({ "id": n }));
        let read = client.request("GET", &format!("/entities/{n}"), &[], b"");
        assert_eq!(read.status, 200, "{}", read.text());
        assert_eq!(
            read.json(),
            entity_json(n as i64, &format!("e{n}"), "through the front")
        );
        assert_ne!(read.header("Connection"), Some("close"));
    }
    // 40 requests, and the front still holds an idle connection to the
    // instance instead of one per request.
    let held = established_to(service.http_addr);
    assert!(
        (1..=3).contains(&held),
        "after {} requests the front should keep 1 connection to the instance open, has {held}",
        2 * SEQUENTIAL
    );
}

#[test]
fn request_id_and_authorization_pass_through_unchanged() {
    let service = instance(&["--auth-token", "s3cret"]);
    let Some(front) = Front::start(&[service.http_addr]) else {
        return;
    };
    let headers = [
        ("Authorization", "Bearer s3cret"),
        ("X-Request-Id", "front-check-42"),
    ];
    let allowed = http::request(front.addr, "GET", "/entities", &headers, b"");
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.header("X-Request-Id"), Some("front-check-42"));

    let refused = http::request(
        front.addr,
        "GET",
        "/entities",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_json_error(&refused, 401);
    let anonymous = http::get(front.addr, "/entities");
    assert_json_error(&anonymous, 401);
    // The instance made up an id for the request that had none.
    assert!(anonymous
        .header("X-Request-Id")
        .is_some_and(|id| !id.is_empty() && id != "front-check-42"));
}

#[test]
fn two_instances_share_the_load_and_gets_survive_one_down() {
    let first = instance(&[]);
    let mut second = instance(&[]);
    let Some(front) = Front::start(&[first.http_addr, second.http_addr]) else {
        return;
    };
    for _ in 0..10 {
        let health = http::get(front.addr, "/healthz");
        assert_eq!(health.status, 200, "{}", health.text());
    }
    let served = |addr: SocketAddr| {
        let text = scrape(addr);
        sample(
            &text,
            "http_requests_total",
            &[("route", "/healthz"), ("code", "200")],
        )
        .unwrap_or(0.0)
    };
    let (by_first, by_second) = (served(first.http_addr), served(second.http_addr));
    assert!(
        by_first >= 1.0 && by_second >= 1.0 && by_first + by_second == 10.0,
        "10 GETs should be spread over both instances: {by_first} and {by_second}"
    );

    let survivor = first.http_addr;
    second.signal(libc::SIGKILL);
    assert!(second.wait_with_timeout(super::STOP_LIMIT).is_some());
    for n in 0..10 {
        let health = http::get(front.addr, "/healthz");
        assert_eq!(
            health.status,
            200,
            "GET {n} with one instance down: {}",
            health.text()
        );
    }
    // A POST that could not connect was never sent, so it is tried on the
    // other instance, once.
    let created = http::post(
        front.addr,
        "/entities",
        r#"{"name":"kept","description":""}"#,
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let stored = http::get(survivor, "/entities");
    assert_eq!(
        stored.json().as_array().map(Vec::len),
        Some(1),
        "{}",
        stored.text()
    );
}

/// Established TCP connections whose server side is `addr` (from
/// /proc/net/tcp): the front's connections to an instance.
fn established_to(addr: SocketAddr) -> usize {
    const ESTABLISHED: &str = "01";
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let local = format!("0100007F:{:04X}", addr.port());
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&ESTABLISHED)
        })
        .count()
}
