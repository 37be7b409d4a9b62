//! Start-up and shutdown: the binary's stdout contract, bind failures, and
//! graceful stops with open watches and idle keep-alive connections.

use std::net::TcpListener;
use std::time::Duration;

use crate::helpers::child::Binary;
use crate::helpers::grpc::{self, call_options, create_request, get_request, watch_request};
use crate::helpers::http;
use crate::helpers::wait::wait_for_watchers;
use crate::helpers::TestService;

/// How long a child may take to exit after a stop signal: a hang bound.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn binary_announces_both_listeners_and_serves_on_them() {
    let mut server = Binary::server(&[]).serve();
    assert_ne!(server.http_addr.port(), 0);
    assert_ne!(server.grpc_addr.port(), 0);
    let created = http::post(server.http_addr, "/entities", r#"{"name":"x"}"#);
    assert_eq!(created.status, 201);
    let client = grpc::entity_client(server.grpc_addr);
    let entity = client
        .get_entity_opt(&get_request(1), call_options())
        .unwrap();
    assert_eq!(entity.name, "x");
    server.signal(libc::SIGINT);
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGINT (hang bound 10 s)");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_stops_the_binary_despite_idle_keep_alive_connections() {
    let mut server = Binary::server(&[]).serve();
    let idle: Vec<http::Connection> = (0..5)
        .map(|_| {
            let mut connection = http::Connection::open(server.http_addr);
            let response = connection.request("GET", "/entities/1", &[], b"");
            assert_eq!(response.status, 404);
            connection // kept open, idle
        })
        .collect();
    server.signal(libc::SIGTERM);
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM although connections stay idle (hang bound 10 s)");
    assert!(status.success(), "{status:?}");
    drop(idle);
}

#[test]
fn sigterm_ends_an_open_watch_and_exits_zero() {
    let mut server = Binary::server(&[]).serve();
    let client = grpc::entity_client(server.grpc_addr);
    let mut stream = client
        .watch_entities_opt(&watch_request(0), call_options())
        .unwrap();
    client
        .create_entity_opt(&create_request("first", ""), call_options())
        .unwrap();
    assert_eq!(grpc::next_message(&mut stream).id, 1);
    server.signal(libc::SIGTERM);
    let end = grpc::next_outcome(&mut stream);
    assert!(
        matches!(end, Ok(None)),
        "watch should end cleanly, got {end:?}"
    );
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM (hang bound 10 s)");
    assert!(status.success(), "{status:?}");
}

#[test]
fn in_process_stop_ends_open_watches_cleanly() {
    let service = TestService::start();
    let client = grpc::entity_client(service.grpc_addr);
    let mut streams: Vec<_> = (0..3)
        .map(|_| {
            client
                .watch_entities_opt(&watch_request(0), call_options())
                .unwrap()
        })
        .collect();
    wait_for_watchers(&service, 3);
    service.stop_within(EXIT_LIMIT, "stop with three open watches");
    for stream in &mut streams {
        let end = grpc::next_outcome(stream);
        assert!(matches!(end, Ok(None)), "got {end:?}");
    }
}

#[test]
fn bad_listen_addresses_are_a_clear_error_and_a_nonzero_exit() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let cases = [
        (&taken[..], "127.0.0.1:0", "cannot bind the REST listener"),
        ("127.0.0.1:0", &taken[..], "cannot bind the gRPC listener"),
        ("not-an-address", "127.0.0.1:0", "invalid REST address"),
    ];
    for (http_addr, grpc_addr, expected) in cases {
        let run = Binary::new(&["--http-addr", http_addr, "--grpc-addr", grpc_addr]).run();
        assert!(
            run.code.is_some_and(|code| code != 0),
            "--http-addr {http_addr} --grpc-addr {grpc_addr}: {run:#?}"
        );
        assert!(run.stderr.contains(expected), "{expected}: {run:#?}");
    }
}

#[test]
fn two_services_cannot_share_a_grpc_port() {
    let first = TestService::start();
    let second = TestService::try_start_with(|c| c.grpc_addr = first.grpc_addr.to_string());
    assert!(second.is_err(), "a second service bound the same gRPC port");
}

#[test]
fn flags_fall_back_to_environment_variables() {
    let mut server = Binary::new(&[])
        .env("ENTITY_HTTP_ADDR", "127.0.0.1:0")
        .env("ENTITY_GRPC_ADDR", "127.0.0.1:0")
        .env("ENTITY_BACKEND", "direct")
        .env("ENTITY_AUTH_TOKEN", "tok")
        .serve();
    assert_eq!(http::get(server.http_addr, "/entities/1").status, 401);
    let authorized = http::request(
        server.http_addr,
        "GET",
        "/entities/1",
        &[("Authorization", "Bearer tok")],
        b"",
    );
    assert_eq!(authorized.status, 404);
    server.signal(libc::SIGTERM);
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM (hang bound 10 s)");
    assert!(status.success(), "{status:?}");
}
