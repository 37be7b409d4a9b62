//! Start-up and shutdown: the binary's stdout contract, bind failures, and
//! graceful stops with open watches and idle keep-alive connections.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entity_service::proto::entities::WatchEntitiesRequest;
use futures_util::TryStreamExt;

const BINARY: &str = env!("CARGO_BIN_EXE_entity-service");

/// Runs the binary on free ports and returns it with its announced addresses.
fn start_binary(extra: &[&str]) -> (Child, SocketAddr, SocketAddr) {
    let mut child = Command::new(BINARY)
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (http, grpc) = common::read_announced_addrs(&mut lines);
    (child, http, grpc)
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(rc, 0);
}

#[test]
fn binary_announces_both_listeners_and_serves_on_them() {
    let (mut child, http, grpc) = start_binary(&[]);
    assert_ne!(http.port(), 0);
    assert_ne!(grpc.port(), 0);
    let created = common::post(http, "/entities", r#"{"name":"x"}"#);
    assert_eq!(created.status, 201);
    let client = common::grpc_client(grpc);
    let mut request = entity_service::proto::entities::GetEntityRequest::new();
    request.id = 1;
    assert_eq!(client.get_entity(&request).unwrap().name, "x");
    signal(&child, libc::SIGINT);
    let status =
        wait_with_timeout(&mut child, Duration::from_secs(10)).expect("exits after SIGINT");
    assert!(status.success(), "{status:?}");
}

#[test]
fn sigterm_stops_within_ten_seconds_despite_idle_keep_alive_connections() {
    let (mut child, http, _) = start_binary(&[]);
    let mut idle = Vec::new();
    for _ in 0..5 {
        let mut connection = common::HttpConnection::open(http);
        assert_eq!(
            connection.request("GET", "/entities/1", &[], b"").status,
            404
        );
        idle.push(connection); // kept open, idle
    }
    let started = Instant::now();
    signal(&child, libc::SIGTERM);
    let status = wait_with_timeout(&mut child, Duration::from_secs(10)).expect("exits within 10 s");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(idle);
}

#[test]
fn sigterm_ends_an_open_watch_and_exits_zero() {
    let (mut child, _, grpc) = start_binary(&[]);
    let client = common::grpc_client(grpc);
    let mut stream = client.watch_entities(&WatchEntitiesRequest::new()).unwrap();
    client
        .create_entity(&common::create_request("first", ""))
        .unwrap();
    let first = futures_executor::block_on(stream.try_next())
        .unwrap()
        .unwrap();
    assert_eq!(first.id, 1);
    signal(&child, libc::SIGTERM);
    let end = futures_executor::block_on(stream.try_next());
    assert!(
        matches!(end, Ok(None)),
        "watch should end cleanly, got {end:?}"
    );
    let status = wait_with_timeout(&mut child, Duration::from_secs(10)).expect("exits within 10 s");
    assert!(status.success());
}

#[test]
fn in_process_stop_ends_open_watches_cleanly() {
    let service = common::spawn();
    let client = common::grpc_client(service.grpc_addr);
    let mut streams: Vec<_> = (0..3)
        .map(|_| client.watch_entities(&WatchEntitiesRequest::new()).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while service.store().watcher_count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(service.store().watcher_count(), 3);
    let started = Instant::now();
    service.stop();
    assert!(started.elapsed() < Duration::from_secs(10));
    for stream in &mut streams {
        let end = futures_executor::block_on(stream.try_next());
        assert!(matches!(end, Ok(None)), "got {end:?}");
    }
}

#[test]
fn a_taken_rest_port_is_a_clear_error_and_a_nonzero_exit() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(BINARY)
        .args(["--http-addr", &addr, "--grpc-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot bind the REST listener"), "{stderr}");
}

#[test]
fn a_taken_grpc_port_is_a_clear_error_and_a_nonzero_exit() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(BINARY)
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", &addr])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot bind the gRPC listener"), "{stderr}");
}

#[test]
fn two_services_cannot_share_a_grpc_port() {
    let first = common::spawn();
    let mut config = entity_service::Config::ephemeral();
    config.grpc_addr = first.grpc_addr.to_string();
    assert!(entity_service::Service::start(&config).is_err());
    first.stop();
}

#[test]
fn an_unparsable_address_is_rejected() {
    let output = Command::new(BINARY)
        .args([
            "--http-addr",
            "not-an-address",
            "--grpc-addr",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid REST address"));
}

#[test]
fn flags_fall_back_to_environment_variables() {
    let mut child = Command::new(BINARY)
        .env("ENTITY_HTTP_ADDR", "127.0.0.1:0")
        .env("ENTITY_GRPC_ADDR", "127.0.0.1:0")
        .env("ENTITY_BACKEND", "direct")
        .env("ENTITY_AUTH_TOKEN", "tok")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let http: SocketAddr = lines.next().unwrap().unwrap()["REST listening on http://".len()..]
        .parse()
        .unwrap();
    assert_eq!(common::get(http, "/entities/1").status, 401);
    let authorized = common::http(
        http,
        "GET",
        "/entities/1",
        &[("Authorization", "Bearer tok")],
        b"",
    );
    assert_eq!(authorized.status, 404);
    signal(&child, libc::SIGTERM);
    assert!(wait_with_timeout(&mut child, Duration::from_secs(10))
        .unwrap()
        .success());
}
