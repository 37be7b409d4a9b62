//! Disk errors: a write or sync that fails (fail points, or RLIMIT_FSIZE)
//! fails the creates waiting on it, acknowledges and shows nothing of them,
//! and gives their ids again; a journal that cannot be cut back refuses
//! creates until a restart. Reads go on throughout.

use grpcio::RpcStatusCode;

use super::{
    all_entities, fresh_data_dir, journal_path, rest_create, rest_created, sequential_size,
    serve_in, stop_gracefully,
};
use crate::helpers::child::Binary;
use crate::helpers::grpc::{self, call_options, create_request, expect_code};
use crate::helpers::http;
use crate::helpers::prerequisites::failpoints;

#[test]
fn a_failed_write_or_sync_acknowledges_nothing_and_the_id_is_given_again() {
    if !failpoints() {
        return;
    }
    let dir = fresh_data_dir();
    // The first batch fails to write, the second to sync.
    let server = Binary::server(&[])
        .data_dir(dir.path())
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
    let expected = sequential_size(&[("kept", "first good"), ("kept too", "")]);
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
fn a_journal_that_cannot_be_cut_back_refuses_creates_until_a_restart() {
    if !failpoints() {
        return;
    }
    let dir = fresh_data_dir();
    let server = Binary::server(&[])
        .data_dir(dir.path())
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
    let dir = fresh_data_dir();
    let big = "b".repeat(2000);
    let limit = sequential_size(&[("fits", &big)]) + 1000;
    let server = Binary::server(&[])
        .data_dir(dir.path())
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
    stop_gracefully(server);
    let expected = sequential_size(&[("fits", &big), ("small", "s")]);
    let on_disk = std::fs::metadata(journal_path(&dir))
        .expect("journal")
        .len();
    assert_eq!(on_disk, expected);

    let server = serve_in(&dir);
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["fits", "small"]);
}
