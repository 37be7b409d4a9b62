//! `--data-dir`: the journal keeps every acknowledged entity across stops and
//! crashes. Here: graceful restarts, one sync per sequential create, and
//! invisibility until synced; [`recovery`] has torn batches, corruption and
//! zero-filled tails, [`formats`] format-1 and newer journals, [`startup`] the
//! directory lock, [`disk`] failed writes and syncs, [`crash`] the SIGKILL loop.

mod batches;
mod crash;
mod disk;
mod formats;
mod recovery;
mod startup;

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use entity_service::journal::format::RECORD_OVERHEAD;
use entity_service::journal::frame::{BATCH_HEADER_LEN, FILE_HEADER_LEN};
use entity_service::journal::JOURNAL_FILE;
use entity_service::proto::entities::Entity;
use futures_util::FutureExt;
use grpcio::RpcStatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::child::{Binary, Run, Server};
use crate::helpers::grpc::{
    self, call_options, create_many, create_request, expect_code, get_request, list_request,
};
use crate::helpers::http;
use crate::helpers::lock::lock;
use crate::helpers::metrics::sample;
use crate::helpers::prerequisites::failpoints;
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// How long a child may take to exit: a hang bound.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// Fail points are global to a process: the in-process journal tests run one
/// at a time so a paused sync in one never stalls another.
fn in_process() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    lock(&LOCK)
}

/// A new, empty data directory, removed with everything in it when dropped.
fn fresh_data_dir() -> TempDir {
    tempfile::tempdir().expect("a temporary data directory")
}

/// The journal file in a data directory.
fn journal_path(dir: &TempDir) -> PathBuf {
    dir.path().join(JOURNAL_FILE)
}

/// Starts the binary on `dir`, which must refuse: exit 1, nothing served,
/// and a message that names the journal file and says `reason`.
#[track_caller]
fn assert_refused_start(dir: &TempDir, reason: &str) -> Run {
    let run = Binary::server(&[]).data_dir(dir.path()).run();
    run.assert_code(1);
    assert!(run.stdout.is_empty(), "must not serve: {run:#?}");
    let journal = journal_path(dir).display().to_string();
    assert!(run.stderr.contains(&journal), "{run:#?}");
    assert!(run.stderr.contains(reason), "{reason:?}: {run:#?}");
    run
}

/// Bytes one entity adds to the journal, as the README documents them.
fn record_size(name: &str, description: &str) -> u64 {
    (RECORD_OVERHEAD + name.len() + description.len()) as u64
}

/// Bytes one batch of these (name, description) adds, frame included.
fn batch_size(entities: &[(&str, &str)]) -> u64 {
    let records: u64 = entities.iter().map(|(n, d)| record_size(n, d)).sum();
    BATCH_HEADER_LEN as u64 + records
}

/// Bytes of a journal of one batch per entity (sequential creates), file
/// header included.
fn sequential_size(entities: &[(&str, &str)]) -> u64 {
    let batches: u64 = entities.iter().map(|e| batch_size(&[*e])).sum();
    FILE_HEADER_LEN as u64 + batches
}

/// The service in-process, keeping its entities in `dir`.
fn start_in(dir: &TempDir) -> TestService {
    let path = dir.path().to_path_buf();
    TestService::start_with(move |config| config.data_dir = Some(path))
}

/// The binary as a child, keeping its entities in `dir`.
fn serve_in(dir: &TempDir) -> Server {
    Binary::server(&[]).data_dir(dir.path()).serve()
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
    let dir = fresh_data_dir();
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
    let dir = fresh_data_dir();
    let service = start_in(&dir);
    let client = grpc::entity_client(service.grpc_addr);
    let mut bytes = FILE_HEADER_LEN as u64;
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
        bytes += batch_size(&[(&name, &description)]);
        // Read right after the answer: its own sync already happened.
        let text = service.metrics_text();
        let figure = |name| sample(&text, name, &[]).unwrap_or(-1.0);
        assert_eq!(figure("journal_sync_seconds_count"), i as f64, "{text}");
        assert_eq!(figure("journal_records"), i as f64, "{text}");
        assert_eq!(figure("journal_bytes"), bytes as f64, "{text}");
    }
    // While running, the file is longer (zeros written ahead); a graceful
    // stop trims it to its header and batches.
    service.stop();
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
fn a_create_waiting_for_its_sync_is_invisible_and_the_completion_queue_serves_on() {
    if !failpoints() {
        return;
    }
    let _one_at_a_time = in_process();
    let dir = fresh_data_dir();
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
