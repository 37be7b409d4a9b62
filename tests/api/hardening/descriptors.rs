//! The binary run out of file descriptors: a child with a low
//! RLIMIT_NOFILE, flooded with keep-alive connections until one goes
//! unserved. It stays up, its REST acceptor neither spins nor piles up
//! threads, and REST and gRPC serve again once the connections close.

use std::time::{Duration, Instant};

use entity_service::proto::entities_grpc::EntityServiceClient;

use crate::helpers::child::{Binary, Server};
use crate::helpers::grpc::{self, call_options, create_request, get_request};
use crate::helpers::http::{self, Answer};
use crate::helpers::lock::serial;
use crate::helpers::wait::wait_until;

/// The RLIMIT_NOFILE values tried. Which one runs out in accept() itself and
/// which right after it depends on the parity of the descriptors open at
/// start-up, so both are tried.
const LIMITS: [u64; 2] = [96, 97];

/// More connections than this all served means the limit did not apply.
const MAX_FLOOD: usize = 200;

/// How long a flooding connection may wait for its answer before it counts
/// as unserved.
const UNSERVED_AFTER: Duration = Duration::from_millis(1500);

/// How long the service is watched while out of descriptors.
const EXHAUSTED_FOR: Duration = Duration::from_millis(500);

/// The window over which an exhausted acceptor's CPU time and threads are measured.
const SPIN_WINDOW: Duration = Duration::from_secs(2);

/// How long REST and gRPC may take to serve again: a hang bound.
const RECOVERY_LIMIT: Duration = Duration::from_secs(5);

/// Where the server ran out of descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exhaustion {
    /// accept() itself failed with EMFILE: the connection waits in the backlog.
    InAccept,
    /// accept() took the last descriptor and tiny_http's dup of the accepted
    /// socket failed: the connection is closed.
    AfterAccept,
}

/// Keep-alive connections, each answered once and then left idle, and the
/// first one that was not served.
struct Flood {
    held: Vec<http::Connection>,
    /// Held open with the others until the flood is dropped.
    _unserved: http::Connection,
    how: Exhaustion,
}

/// The binary under RLIMIT_NOFILE `nofile`, keeping idle connections for
/// 30 s, after one answered request.
fn start(nofile: u64) -> Server {
    let server = Binary::server(&["--http-idle-timeout-ms", "30000"])
        .nofile(nofile)
        .serve();
    let warm_up = http::get_within(server.http_addr, "/healthz", Duration::from_secs(5));
    assert_eq!(
        warm_up.map(|r| r.status),
        Some(200),
        "healthz under RLIMIT_NOFILE={nofile}; stderr: {}",
        server.stderr_tail()
    );
    server
}

/// Opens connections until one is not served.
fn flood_until_unserved(server: &Server, nofile: u64) -> Flood {
    let mut held = Vec::new();
    for n in 0..MAX_FLOOD {
        let mut connection = http::Connection::try_open(server.http_addr, Duration::from_secs(2))
            .unwrap_or_else(|error| panic!("RLIMIT_NOFILE={nofile}: connect {n} failed: {error}"))
            .named(format!("held connection {n}"))
            .with_timeout(UNSERVED_AFTER);
        connection.send("GET", "/healthz", &[], b"");
        let how = match connection.answer() {
            Answer::Response(response) if response.status == 200 => {
                held.push(connection);
                continue;
            }
            Answer::Silent => Exhaustion::InAccept,
            Answer::Closed => Exhaustion::AfterAccept,
            Answer::Response(other) => {
                panic!("RLIMIT_NOFILE={nofile}: connection {n} got {other:?}")
            }
        };
        return Flood {
            held,
            _unserved: connection,
            how,
        };
    }
    panic!(
        "{MAX_FLOOD} connections were all served under RLIMIT_NOFILE={nofile}: the limit did \
         not apply; stderr:\n{}",
        server.stderr_tail()
    );
}

/// Watches the service for `window` while it is out of descriptors: it
/// must stay up the whole time.
#[track_caller]
fn assert_stays_up(server: &mut Server, window: Duration, case: &str) {
    let died = wait_until(window, || !server.alive());
    assert!(
        !died,
        "{case}: the service died while out of file descriptors; stderr:\n{}",
        server.stderr_tail()
    );
}

/// REST answers and creates again, and gRPC answers on the connection
/// opened before the flood and on a new one.
fn assert_serves_again(server: &mut Server, client: &EntityServiceClient, case: &str) {
    let mut last = None;
    let recovered = wait_until(RECOVERY_LIMIT, || {
        last = http::get_within(server.http_addr, "/healthz", Duration::from_secs(1))
            .map(|r| r.status);
        last == Some(200)
    });
    assert!(
        recovered,
        "{case}: REST did not serve again within {RECOVERY_LIMIT:?} after the connections \
         were closed (last answer {last:?}, threads {:?}); stderr:\n{}",
        server.threads(),
        server.stderr_tail()
    );
    let created = http::post(server.http_addr, "/entities", r#"{"name":"after"}"#);
    assert_eq!(created.status, 201, "{case}: REST create after recovery");
    assert_eq!(created.json()["id"], 2, "{case}");

    let entity = client
        .get_entity_opt(&get_request(2), call_options())
        .unwrap_or_else(|e| panic!("{case}: gRPC on the connection opened before: {e:?}"));
    assert_eq!(entity.name, "after", "{case}");
    let fresh = grpc::separate_entity_client(server.grpc_addr);
    let mut answered = None;
    let served = wait_until(RECOVERY_LIMIT, || {
        answered = Some(fresh.get_entity_opt(&get_request(1), call_options()));
        matches!(answered, Some(Ok(_)))
    });
    assert!(
        served,
        "{case}: a new gRPC connection is not served after recovery: {answered:?}"
    );
    assert!(server.alive(), "{case}: the service died after recovery");
}

#[test]
fn rest_and_grpc_recover_after_either_kind_of_descriptor_exhaustion() {
    let _serial = serial();
    let mut seen = Vec::new();
    for nofile in LIMITS {
        let mut server = start(nofile);
        // One gRPC connection of ours, opened and used before the flood.
        let client = grpc::separate_entity_client(server.grpc_addr);
        let first = client
            .create_entity_opt(&create_request("before", "the flood"), call_options())
            .expect("gRPC create before the flood");
        assert_eq!(first.id, 1);

        let flood = flood_until_unserved(&server, nofile);
        let case = format!(
            "RLIMIT_NOFILE={nofile}, {:?} after {} connections",
            flood.how,
            flood.held.len()
        );
        assert!(!flood.held.is_empty(), "{case}: no connection was served");
        assert_stays_up(&mut server, EXHAUSTED_FOR, &case);
        seen.push(flood.how);
        drop(flood);
        assert_serves_again(&mut server, &client, &case);
    }
    assert!(
        seen.contains(&Exhaustion::InAccept) && seen.contains(&Exhaustion::AfterAccept),
        "RLIMIT_NOFILE {LIMITS:?} gave {seen:?}: not both kinds of exhaustion"
    );
}

#[test]
fn while_out_of_file_descriptors_the_rest_acceptor_neither_spins_nor_piles_up_threads() {
    let _serial = serial();
    for nofile in LIMITS {
        let mut server = start(nofile);
        let threads_before = server.threads().expect("thread count");
        let flood = flood_until_unserved(&server, nofile);
        if flood.how != Exhaustion::InAccept {
            continue;
        }
        let served = flood.held.len();
        let case = format!("RLIMIT_NOFILE={nofile}, accept() failing with EMFILE");
        let cpu_before = server.cpu_time();
        let started = Instant::now();
        assert_stays_up(&mut server, SPIN_WINDOW, &case);
        let cpu = server.cpu_time().saturating_sub(cpu_before);
        let window = started.elapsed();
        let threads_after = server.threads().expect("thread count");
        // One thread per open connection is expected; more than that is not.
        let allowed = threads_before + served + 50;
        assert!(
            threads_after <= allowed,
            "{case}: {threads_after} threads after {window:?} out of descriptors (had \
             {threads_before} before the flood, {served} connections open; allowed {allowed}): \
             the acceptor is being replaced in a loop, each replacement leaving threads behind"
        );
        assert!(
            cpu < window / 2,
            "{case}: the service burnt {cpu:?} of CPU in {window:?} while idle"
        );
        return;
    }
    panic!("neither RLIMIT_NOFILE of {LIMITS:?} made accept() fail with EMFILE");
}
