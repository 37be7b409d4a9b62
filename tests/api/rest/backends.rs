//! Where REST handlers get their answers: the gRPC hop (in-process or over a
//! socket pair) or the store directly (the same answers every way), another
//! instance's gRPC server,
//! an upstream that fails, and a create that panics.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use entity_service::{BackendKind, LocalTransport};

use super::{assert_error, create, created_id, get_json, ids_of, Step};
use crate::helpers::child::Binary;
use crate::helpers::grpc::{self, call_options, create_request, get_request};
use crate::helpers::http::{self, entity_json};
use crate::helpers::net::{closed_port, SilentListener};
use crate::helpers::prerequisites::failpoints;
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// What one request of a script got back.
#[derive(Debug, PartialEq)]
struct Exchange {
    /// The request as the script writes it (`METHOD PATH[ BODY]`).
    request: String,
    status: u16,
    answer: Value,
    location: Option<String>,
    allow: Option<String>,
}

/// Runs `script` in order on one keep-alive connection to a new service
/// with this backend (and local transport for the hop), checking each
/// answer ([`Step::check`]).
fn transcript(backend: BackendKind, transport: LocalTransport, script: &[&str]) -> Vec<Exchange> {
    let service = TestService::start_with(|c| {
        c.backend = backend;
        c.grpc_local_transport = transport;
        c.max_body_bytes = 8192;
    });
    let mut connection = http::Connection::open(service.http_addr);
    let context = format!("{backend:?} {transport:?}");
    script
        .iter()
        .map(|line| {
            let step = Step::parse(line);
            let response = step.send_on(&mut connection, &[]);
            Exchange {
                request: step.request.to_string(),
                status: response.status,
                answer: step.check(&response, &context),
                location: response.header("Location").map(str::to_string),
                allow: response.header("Allow").map(str::to_string),
            }
        })
        .collect()
}

#[test]
fn every_backend_and_local_transport_gives_the_same_answers_to_the_same_requests() {
    let long_name = json!({ "name": "n".repeat(257) });
    let long_description = json!({ "name": "x", "description": "d".repeat(4097) });
    let unicode = json!({ "name": "ünïcødé ☕", "description": "日本" });
    let over_limit = json!({ "name": "x".repeat(10_000) });
    let script = [
        "GET /entities -> 200",
        "GET /entities/1 -> 404",
        "GET /1 -> 404",
        r#"POST /entities {"name":"a"} -> 201"#,
        r#"POST / {"name":"b","description":"d"} -> 201"#,
        r#"POST /entities {"name":""} -> 400"#,
        r#"POST /entities {"name":"   "} -> 400"#,
        &format!("POST /entities {long_name} -> 400"),
        &format!("POST /entities {long_description} -> 400"),
        "POST /entities { -> 400",
        "POST /entities [] -> 400",
        r#"POST /entities {"name":1} -> 400"#,
        r#"POST /entities {"name":"x","description":false} -> 400"#,
        &format!("POST /entities {over_limit} -> 413"),
        &format!("POST /entities {unicode} -> 201"),
        "GET /entities/3 -> 200",
        "GET /3 -> 200",
        "GET /entities/4 -> 404",
        "GET /entities/0 -> 400",
        "GET /entities/-1 -> 400",
        "GET /entities/abc -> 400",
        "GET /entities/99999999999999999999 -> 400",
        "GET /entities -> 200",
        "GET /entities?start_id=2&limit=1 -> 200",
        "GET /entities?start_id=-3&limit=1000 -> 200",
        "GET /entities?start_id=-3&limit=5000 -> 400",
        "GET /entities?start_id=&limit= -> 200",
        "GET /entities?start_id=10 -> 200",
        "GET /entities?limit=0 -> 400",
        "GET /entities?limit=x -> 400",
        "GET /entities?start_id=x -> 400",
        "PUT /entities -> 405",
        "DELETE /entities/1 -> 405",
        r#"POST /1 {"name":"x"} -> 405"#,
        "GET / -> 405",
        "GET /nope -> 404",
        "GET /entities/1/x -> 404",
        r#"POST /entities {"name":"last"} -> 201"#,
    ];
    let grpc = transcript(BackendKind::Grpc, LocalTransport::InProcess, &script);
    let paired = transcript(BackendKind::Grpc, LocalTransport::SocketPair, &script);
    let direct = transcript(BackendKind::Direct, LocalTransport::InProcess, &script);
    assert_eq!(grpc.len(), direct.len());
    for ((g, p), d) in grpc.iter().zip(&paired).zip(&direct) {
        assert_eq!(g, d, "grpc in-process (left) and direct (right) differ");
        assert_eq!(g, p, "grpc in-process (left) and over a socket pair differ");
    }
    // Spot-check that the shared answers are the right ones.
    let answer_to = |request: &str| -> &Value {
        let exchange = grpc.iter().find(|e| e.request == request);
        &exchange
            .unwrap_or_else(|| panic!("{request} is not in the script"))
            .answer
    };
    let unicode_entity = entity_json(3, "ünïcødé ☕", "日本");
    assert_eq!(answer_to("GET /entities/3"), &unicode_entity);
    assert_eq!(answer_to("GET /3"), &unicode_entity);
    let window = answer_to("GET /entities?start_id=2&limit=1");
    assert_eq!(window, &json!([entity_json(2, "b", "d")]));
    let last = answer_to(r#"POST /entities {"name":"last"}"#);
    assert_eq!(last, &json!({ "id": 4 }));
}

#[test]
fn grpc_upstream_sends_rest_creates_to_the_other_instances_store() {
    let upstream = TestService::start();
    let gateway =
        TestService::start_with(|c| c.grpc_upstream = Some(upstream.grpc_addr.to_string()));
    let created = http::post(
        gateway.http_addr,
        "/entities",
        r#"{"name":"remote","description":"lives upstream"}"#,
    );
    assert_eq!(created_id(&created, "create via gateway"), 1);
    assert_eq!(upstream.store().len(), 1, "upstream store");
    assert_eq!(gateway.store().len(), 0, "gateway's own store");

    let expected = entity_json(1, "remote", "lives upstream");
    for (what, addr) in [
        ("upstream", upstream.http_addr),
        ("gateway", gateway.http_addr),
    ] {
        assert_eq!(get_json(addr, "/entities/1"), expected, "via the {what}");
    }
    let entity = grpc::entity_client(upstream.grpc_addr)
        .get_entity_opt(&get_request(1), call_options())
        .expect("upstream gRPC get");
    assert_eq!((entity.id, entity.name.as_str()), (1, "remote"));

    // Entities created upstream directly are what the gateway lists.
    create(upstream.http_addr, "second", "");
    let list = get_json(gateway.http_addr, "/entities");
    assert_eq!(ids_of(&list), vec![1, 2]);
    assert_eq!(gateway.store().len(), 0);
}

#[test]
fn an_upstream_that_never_answers_is_504_after_the_deadline_and_a_closed_one_503_before_it() {
    let silent = SilentListener::start();
    // (upstream, --deadline-ms, status, answered no sooner than). The
    // requests' 10 s read timeout bounds a hang; the closed port's deadline
    // is far beyond it, so its 503 cannot be a deadline's.
    let cases = [
        (
            "silent upstream",
            silent.addr,
            300,
            504,
            Duration::from_millis(250),
        ),
        ("closed port", closed_port(), 30_000, 503, Duration::ZERO),
    ];
    for (what, upstream, deadline_ms, status, no_sooner) in cases {
        let service = TestService::start_with(|c| {
            c.grpc_upstream = Some(upstream.to_string());
            c.deadline_ms = deadline_ms;
        });
        for (method, path, body) in [
            ("POST", "/entities", &b"{\"name\":\"x\"}"[..]),
            ("GET", "/entities/1", b""),
            ("GET", "/entities", b""),
        ] {
            let started = Instant::now();
            let response = http::request(service.http_addr, method, path, &[], body);
            let elapsed = started.elapsed();
            let context = format!("{what}: {method} {path} (answered after {elapsed:?})");
            assert_error(&response, status, &context);
            assert!(elapsed >= no_sooner, "{context}: before the deadline");
        }
    }
}

#[test]
fn a_slow_answer_on_the_local_channel_is_504_at_the_deadline_on_either_transport() {
    if !failpoints() {
        return;
    }
    for transport in ["in-process", "socket-pair"] {
        // The first journal write takes 3 s (on the journal's thread, so
        // the completion queue stays free); the gateway's deadline is
        // 300 ms (the call carries it to the server, whose deadline filter
        // ends the call then; the client's, kept on the in-process channel's
        // minimal stack, would too).
        let data = tempfile::tempdir().expect("a temporary directory");
        let data_dir = data.path().to_str().expect("a UTF-8 path");
        let mut server = Binary::server(&[
            "--grpc-local-transport",
            transport,
            "--deadline-ms",
            "300",
            "--data-dir",
            data_dir,
        ])
        .env("FAILPOINTS", "journal::write=1*sleep(3000)")
        .serve();
        let started = Instant::now();
        let response = http::request(
            server.http_addr,
            "POST",
            "/entities",
            &[],
            br#"{"name":"slow"}"#,
        );
        let elapsed = started.elapsed();
        let context = format!("{transport}: slow create answered after {elapsed:?}");
        assert_error(&response, 504, &context);
        assert!(
            elapsed >= Duration::from_millis(250),
            "{context}: before the deadline"
        );
        assert!(
            elapsed < Duration::from_millis(2500),
            "{context}: not at the deadline"
        );
        // The create itself went on and was stored once the write ended
        // (id 1, read back through the same channel); the next one is 2.
        assert_eventually(
            Duration::from_secs(5),
            || http::get(server.http_addr, "/entities/1").status == 200,
            || format!("{context}: the slow create is stored once its write ends"),
        );
        assert_eq!(create(server.http_addr, "next", ""), 2, "{context}");
        assert!(server.alive(), "{context}: the process died");
    }
}

#[test]
fn direct_backend_reads_the_store_the_grpc_server_writes() {
    let service = TestService::start_with(|c| c.backend = BackendKind::Direct);
    let addr = service.http_addr;
    assert_eq!(create(addr, "direct", "d"), 1);
    let entity = grpc::entity_client(service.grpc_addr)
        .create_entity_opt(&create_request("via grpc", ""), call_options())
        .expect("gRPC create");
    assert_eq!(entity.id, 2);
    assert_eq!(
        get_json(addr, "/entities"),
        json!([
            entity_json(1, "direct", "d"),
            entity_json(2, "via grpc", "")
        ])
    );
}

#[test]
fn a_panicking_create_is_a_500_json_error_and_the_service_keeps_serving() {
    if !failpoints() {
        return;
    }
    for backend in ["grpc", "direct"] {
        // The fail point panics in the first create, then is off. With
        // RUST_BACKTRACE set, the default panic hook would symbolize a
        // backtrace on the completion-queue thread for long enough to miss
        // the gateway's deadline: a contained panic is one log line instead.
        let mut server = Binary::server(&["--backend", backend])
            .env("FAILPOINTS", "entities::create=1*panic")
            .env("RUST_BACKTRACE", "1")
            .serve();
        let headers = [("X-Request-Id", "boom-1")];
        let body = br#"{"name":"boom"}"#;
        let response = http::request(server.http_addr, "POST", "/entities", &headers, body);
        let context = format!("{backend}: panicking create");
        assert_eq!(
            response.status,
            500,
            "{context}: {:?}; stderr: {}",
            response.text(),
            server.stderr_tail()
        );
        assert_error(&response, 500, &context);
        assert_eq!(response.header("X-Request-Id"), Some("boom-1"), "{context}");
        assert_eventually(
            Duration::from_secs(5),
            || server.stderr_text().contains("handler panicked at "),
            || format!("{context}: no panic on stderr: {}", server.stderr_tail()),
        );
        assert!(
            server
                .stderr_text()
                .contains("failpoint entities::create panic")
                && !server.stderr_text().contains("stack backtrace"),
            "{context}: one error line, no backtrace: {}",
            server.stderr_tail()
        );
        assert_eq!(create(server.http_addr, "after panic", ""), 1, "{backend}");
        let got = get_json(server.http_addr, "/entities/1");
        assert_eq!(got, entity_json(1, "after panic", ""), "{backend}");
        assert!(server.alive(), "{backend}: the process died");
    }
}

#[test]
fn a_broken_socket_pair_channel_is_replaced_and_rest_answers_again() {
    let in_process = TestService::start();
    assert!(
        !in_process.sever_local_channel(),
        "the in-process channel has no socket to break"
    );
    let service = TestService::start_with(|c| c.grpc_local_transport = LocalTransport::SocketPair);
    let id = service.seed("kept", "across channels");
    assert_eq!(
        http::get(service.http_addr, &format!("/entities/{id}")).status,
        200
    );
    assert!(
        service.sever_local_channel(),
        "the hop uses a local channel"
    );
    // The calls that meet the broken channel fail UNAVAILABLE (503); one of
    // them replaces it, and from then on every answer is the entity again.
    let mut failed = 0;
    let mut answered = None;
    for attempt in 0..50 {
        let response = http::get(service.http_addr, &format!("/entities/{id}"));
        match response.status {
            200 => {
                answered = Some(attempt);
                break;
            }
            503 => failed += 1,
            other => panic!(
                "a broken local channel answered {other}: {}",
                response.text()
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        answered.is_some(),
        "REST still fails after {failed} attempts with a broken local channel"
    );
    for _ in 0..20 {
        let response = http::get(service.http_addr, &format!("/entities/{id}"));
        assert_eq!(
            response.status,
            200,
            "after the channel was replaced: {}",
            response.text()
        );
    }
    // The break was felt (else this test proves nothing), and mended at once.
    assert!(
        (1..=2).contains(&failed),
        "{failed} requests failed before the channel was replaced"
    );
}
