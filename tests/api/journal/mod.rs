//! `--data-dir`: the journal keeps every acknowledged entity across stops and
//! crashes. Graceful restarts, one sync per sequential create, invisibility
//! until synced, torn tails, corruption, the directory lock and disk errors;
//! the SIGKILL loop lives in [`crash`].

mod crash;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use entity_service::journal::format::RECORD_OVERHEAD;
use entity_service::journal::JOURNAL_FILE;
use entity_service::proto::entities::Entity;
use futures_util::FutureExt;
use grpcio::RpcStatusCode;
use serde_json::json;

use crate::helpers::child::{Binary, Server};
use crate::helpers::grpc::{
    self, call_options, create_many, create_request, expect_code, get_request, list_request,
};
use crate::helpers::http;
use crate::helpers::metrics::sample;
use crate::helpers::temp::TempDir;
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// How long a child may take to exit: a hang bound.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// Fail points are global to a process: the in-process journal tests run one
/// at a time so a paused sync in one never stalls another.
fn in_process() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The journal file in a data directory.
fn journal_path(dir: &TempDir) -> PathBuf {
    dir.path().join(JOURNAL_FILE)
}

/// Bytes one entity adds to the journal, as the README documents them.
fn record_size(name: &str, description: &str) -> u64 {
    (RECORD_OVERHEAD + name.len() + description.len()) as u64
}

/// The service in-process, keeping its entities in `dir`.
fn start_in(dir: &TempDir) -> TestService {
    let path = dir.path().to_path_buf();
    TestService::start_with(move |config| config.data_dir = Some(path))
}

/// The binary as a child, keeping its entities in `dir`.
fn serve_in(dir: &TempDir) -> Server {
    Binary::server(&["--data-dir", dir.arg()]).serve()
}

/// Every entity the service holds, through ListEntities.
fn all_entities(grpc_addr: std::net::SocketAddr) -> Vec<Entity> {
    let client = grpc::entity_client(grpc_addr);
    let stream = client
        .list_entities_opt(&list_request(1, 0), call_options())
        .expect("list starts");
    grpc::collect(stream).expect("list succeeds")
}

/// (id, name, description) of each entity.
fn triples(entities: &[Entity]) -> Vec<(i64, String, String)> {
    entities
        .iter()
        .map(|e| (e.id, e.name.clone(), e.description.clone()))
        .collect()
}

/// POST /entities; the response.
fn rest_create(http_addr: std::net::SocketAddr, name: &str, description: &str) -> http::Response {
    let body = json!({ "name": name, "description": description }).to_string();
    http::post(http_addr, "/entities", &body)
}

/// POST /entities that must succeed; the new id.
#[track_caller]
fn rest_created(http_addr: std::net::SocketAddr, name: &str, description: &str) -> i64 {
    let response = rest_create(http_addr, name, description);
    assert_eq!(response.status, 201, "create {name:?}: {}", response.text());
    response.json()["id"].as_i64().expect("an integer id")
}

/// Stops a child with SIGTERM and expects exit 0.
#[track_caller]
fn stop_gracefully(mut server: Server) {
    server.signal(libc::SIGTERM);
    let status = server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("exits after SIGTERM (hang bound)");
    assert!(status.success(), "{status:?}: {}", server.stderr_tail());
}

#[test]
fn a_graceful_stop_and_restart_keep_every_entity_and_the_next_id() {
    let _one_at_a_time = in_process();
    let dir = TempDir::new();
    let first = start_in(&dir);
    let client = grpc::entity_client(first.grpc_addr);
    assert_eq!(rest_created(first.http_addr, "ada", "first"), 1);
    let unary = client
        .create_entity_opt(&create_request("grace", "ünïcödé ✓"), call_options())
        .expect("unary create");
    assert_eq!(unary.id, 2);
    let streamed = create_many(
        &client,
        call_options(),
        vec![
            create_request("alan", ""),
            create_request("edsger", "d"),
            create_request("barbara", "l"),
        ],
    )
    .expect("stream create");
    assert_eq!(streamed.ids, vec![3, 4, 5]);
    let before = triples(&all_entities(first.grpc_addr));
    first.stop();

    // The second run reads the store back; its REST side answers directly.
    let path = dir.path().to_path_buf();
    let second = TestService::start_with(move |config| {
        config.data_dir = Some(path);
        config.backend = entity_service::BackendKind::Direct;
    });
    assert_eq!(triples(&all_entities(second.grpc_addr)), before);
    assert_eq!(before.len(), 5);
    assert_eq!(rest_created(second.http_addr, "katherine", "next"), 6);
    let got = http::get(second.http_addr, "/entities/2");
    assert_eq!(got.json(), http::entity_json(2, "grace", "ünïcödé ✓"));
}

#[test]
fn each_sequential_create_is_synced_before_its_answer() {
    let _one_at_a_time = in_process();
    let dir = TempDir::new();
    let service = start_in(&dir);
    let client = grpc::entity_client(service.grpc_addr);
    let mut bytes = 0;
    for i in 1..=12 {
        let name = format!("entity {i}");
        let description = "x".repeat(i * 7);
        let id = if i % 2 == 0 {
            rest_created(service.http_addr, &name, &description)
        } else {
            let request = create_request(&name, &description);
            client
                .create_entity_opt(&request, call_options())
                .expect("unary create")
                .id
        };
        assert_eq!(id, i as i64);
        bytes += record_size(&name, &description);
        // Read right after the answer: its own sync already happened.
        let text = service.metrics_text();
        let figure = |name| sample(&text, name, &[]).unwrap_or(-1.0);
        assert_eq!(figure("journal_sync_seconds_count"), i as f64, "{text}");
        assert_eq!(figure("journal_records"), i as f64, "{text}");
        assert_eq!(figure("journal_bytes"), bytes as f64, "{text}");
    }
    let on_disk = std::fs::metadata(journal_path(&dir))
        .expect("journal")
        .len();
    assert_eq!(on_disk, bytes);
}

/// Resumes a paused fail point even when the test fails.
struct FailPoint(&'static str);

impl Drop for FailPoint {
    fn drop(&mut self) {
        fail::remove(self.0);
    }
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_create_waiting_for_its_sync_is_invisible_and_the_completion_queue_serves_on() {
    let _one_at_a_time = in_process();
    let dir = TempDir::new();
    let service = start_in(&dir);
    let client = grpc::entity_client(service.grpc_addr);
    let paused = FailPoint("journal::sync");
    fail::cfg(paused.0, "pause").expect("fail point set");
    let mut pending = client
        .create_entity_async_opt(
            &create_request("pending", "until synced"),
            grpc::deadline(Duration::from_secs(60)),
        )
        .expect("create starts");
    let journal = journal_path(&dir);
    assert_eventually(
        Duration::from_secs(10),
        || std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0),
        || "the record was never written".into(),
    );

    // The record is written but not synced: the one completion-queue thread
    // still answers, and no reader sees the entity.
    let absent = client.get_entity_opt(&get_request(1), call_options());
    expect_code(absent, RpcStatusCode::NOT_FOUND);
    assert!(all_entities(service.grpc_addr).is_empty());
    assert_eq!(http::get(service.http_addr, "/entities/1").status, 404);
    assert!(
        (&mut pending).now_or_never().is_none(),
        "answered before its sync"
    );

    drop(paused);
    let created = futures_executor::block_on(pending).expect("create completes");
    assert_eq!(created.id, 1);
    let got = client
        .get_entity_opt(&get_request(1), call_options())
        .expect("visible once synced");
    assert_eq!(got.name, "pending");
}

#[test]
fn a_torn_tail_is_cut_off_with_one_warning_and_every_entity_stays() {
    let dir = TempDir::new();
    let server = serve_in(&dir);
    for name in ["one", "two", "three"] {
        rest_created(server.http_addr, name, "kept");
    }
    stop_gracefully(server);
    let journal = journal_path(&dir);
    let good = std::fs::read(&journal).expect("journal");
    // A record cut short, then garbage, as a crash mid-write leaves.
    let mut torn = good.clone();
    torn.extend_from_slice(&good[..20]);
    torn.extend_from_slice(&[0xEE; 9]);
    std::fs::write(&journal, &torn).expect("tear the tail");

    let server = serve_in(&dir);
    assert_eventually(
        EXIT_LIMIT,
        || server.stderr_text().contains("torn tail"),
        || format!("no torn-tail warning: {}", server.stderr_text()),
    );
    let warnings: Vec<String> = server
        .stderr_text()
        .lines()
        .filter(|line| line.contains("torn tail"))
        .map(str::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "{}", server.stderr_text());
    assert!(warnings[0].contains("WARN"), "{warnings:?}");
    assert!(warnings[0].contains("29 bytes"), "{warnings:?}");
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["one", "two", "three"]);
    assert_eq!(std::fs::read(&journal).expect("journal"), good);
    assert_eq!(rest_created(server.http_addr, "four", ""), 4);
    stop_gracefully(server);

    let server = Binary::server(&["--data-dir", dir.arg()])
        .env("RUST_LOG", "info")
        .serve();
    // The replay line comes after any warning of the replay.
    assert_eventually(
        EXIT_LIMIT,
        || server.stderr_text().contains("replayed 4 entities"),
        || format!("no replay line: {}", server.stderr_text()),
    );
    assert!(!server.stderr_text().contains("torn tail"));
    assert_eq!(all_entities(server.grpc_addr).len(), 4);
}

#[test]
fn a_flipped_byte_before_good_records_refuses_to_start_naming_file_and_offset() {
    let dir = TempDir::new();
    let server = serve_in(&dir);
    for name in ["first", "second", "third"] {
        rest_created(server.http_addr, name, "some description");
    }
    stop_gracefully(server);
    let journal = journal_path(&dir);
    let mut bytes = std::fs::read(&journal).expect("journal");
    let second = record_size("first", "some description");
    bytes[second as usize + 20] ^= 0x40; // inside the second record's payload
    std::fs::write(&journal, &bytes).expect("flip a byte");

    let run = Binary::server(&["--data-dir", dir.arg()]).run();
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "must not serve: {run:#?}");
    let path = journal.display().to_string();
    assert!(run.stderr.contains(&path), "{run:#?}");
    assert!(
        run.stderr.contains(&format!("byte offset {second}")),
        "{run:#?}"
    );
    assert_eq!(
        std::fs::read(&journal).expect("journal"),
        bytes,
        "nothing dropped"
    );
}

#[test]
fn a_second_process_on_the_same_directory_exits_1_at_once() {
    let dir = TempDir::new();
    let server = serve_in(&dir);
    rest_created(server.http_addr, "held", "");
    let run = Binary::server(&["--data-dir", dir.arg()]).run();
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "must not serve: {run:#?}");
    assert!(run.stderr.contains("in use by another process"), "{run:#?}");
    assert!(run.stderr.contains(dir.arg()), "{run:#?}");
    // The first one serves on, and its stop releases the directory.
    assert_eq!(rest_created(server.http_addr, "still", ""), 2);
    stop_gracefully(server);
    let server = serve_in(&dir);
    assert_eq!(all_entities(server.grpc_addr).len(), 2);
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_failed_write_or_sync_acknowledges_nothing_and_the_id_is_given_again() {
    let dir = TempDir::new();
    // The first batch fails to write, the second to sync.
    let server = Binary::server(&["--data-dir", dir.arg()])
        .env(
            "FAILPOINTS",
            "journal::write=1*return;journal::sync=1*return",
        )
        .serve();
    let failed = rest_create(server.http_addr, "lost", "");
    assert_eq!(failed.status, 503, "{}", failed.text());
    let error = failed.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("journal write failed"), "{error}");
    let client = grpc::entity_client(server.grpc_addr);
    let unary = client.create_entity_opt(&create_request("lost too", ""), call_options());
    expect_code(unary, RpcStatusCode::UNAVAILABLE);
    // Nothing of either is visible; reads go on.
    assert!(all_entities(server.grpc_addr).is_empty());
    assert_eq!(http::get(server.http_addr, "/entities/1").status, 404);

    assert_eq!(rest_created(server.http_addr, "kept", "first good"), 1);
    assert_eq!(rest_created(server.http_addr, "kept too", ""), 2);
    stop_gracefully(server);
    let expected = record_size("kept", "first good") + record_size("kept too", "");
    let on_disk = std::fs::metadata(journal_path(&dir))
        .expect("journal")
        .len();
    assert_eq!(on_disk, expected, "the failed records were cut off");
    let server = serve_in(&dir);
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["kept", "kept too"]);
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn a_journal_that_cannot_be_cut_back_refuses_creates_until_a_restart() {
    let dir = TempDir::new();
    let server = Binary::server(&["--data-dir", dir.arg()])
        .env(
            "FAILPOINTS",
            "journal::sync=1*off->1*return;journal::cut=1*return",
        )
        .serve();
    assert_eq!(rest_created(server.http_addr, "before", ""), 1);
    let failed = rest_create(server.http_addr, "during", "");
    assert_eq!(failed.status, 503, "{}", failed.text());
    let refused = rest_create(server.http_addr, "after", "");
    assert_eq!(refused.status, 503, "{}", refused.text());
    let error = refused.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("needs a restart"), "{error}");
    let client = grpc::entity_client(server.grpc_addr);
    let unary = client.create_entity_opt(&create_request("after", ""), call_options());
    let status = expect_code(unary, RpcStatusCode::UNAVAILABLE);
    assert!(status.message().contains("needs a restart"), "{status:?}");
    // Reads go on.
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["before"]);
    stop_gracefully(server);

    // The graceful stop cut the failed record off after all: a restart
    // serves the acknowledged entity alone, and creates again.
    let server = serve_in(&dir);
    assert_eq!(all_entities(server.grpc_addr).len(), 1);
    assert_eq!(rest_created(server.http_addr, "restarted", ""), 2);
}

#[test]
fn a_full_file_system_fails_creates_with_503_and_unavailable_and_smaller_ones_still_fit() {
    let dir = TempDir::new();
    let big = "b".repeat(2000);
    let limit = record_size("fits", &big) + 1000;
    let server = Binary::server(&["--data-dir", dir.arg()])
        .fsize(limit)
        .serve();
    assert_eq!(rest_created(server.http_addr, "fits", &big), 1);

    // A write past RLIMIT_FSIZE fails with EFBIG (and no SIGXFSZ kills us).
    let too_big = rest_create(server.http_addr, "too big", &big);
    assert_eq!(too_big.status, 503, "{}", too_big.text());
    let error = too_big.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("journal write failed"), "{error}");
    let client = grpc::entity_client(server.grpc_addr);
    let unary = client.create_entity_opt(&create_request("too big", &big), call_options());
    expect_code(unary, RpcStatusCode::UNAVAILABLE);
    assert_eq!(http::get(server.http_addr, "/entities/1").status, 200);
    assert_eq!(http::get(server.http_addr, "/entities/2").status, 404);

    // Room is left for a small one, under the next id.
    assert_eq!(rest_created(server.http_addr, "small", "s"), 2);
    let expected = record_size("fits", &big) + record_size("small", "s");
    let on_disk = std::fs::metadata(journal_path(&dir))
        .expect("journal")
        .len();
    assert_eq!(on_disk, expected);
    stop_gracefully(server);

    let server = serve_in(&dir);
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["fits", "small"]);
}
