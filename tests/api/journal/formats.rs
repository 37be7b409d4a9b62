//! Journals in other formats than the one this build writes: a format-1
//! journal (records alone, written by the builds before batch frames) opens
//! by its own rules and is rewritten in the current format; a journal from a
//! newer build is refused rather than misread.

use entity_service::journal::frame::{file_header, FILE_HEADER_LEN, FORMAT_VERSION};

use tempfile::TempDir;

use super::{
    all_entities, assert_refused_start, batch_size, fresh_data_dir, journal_path, rest_created,
    serve_in, stop_gracefully, triples, EXIT_LIMIT,
};
use crate::helpers::child::Binary;
use crate::helpers::wait::assert_eventually;

/// A format-1 journal as the service wrote it before batch frames: three
/// REST creates, then a graceful stop.
const FORMAT_1_JOURNAL: &[u8] = include_bytes!("fixtures/format1.journal");

/// What [`FORMAT_1_JOURNAL`] holds.
const FORMAT_1_ENTITIES: [(&str, &str); 3] = [
    ("ada", "first program"),
    ("grace", "ünïcödé ✓"),
    ("alan", ""),
];

fn format_1_triples() -> Vec<(i64, String, String)> {
    (1..)
        .zip(FORMAT_1_ENTITIES)
        .map(|(id, (name, description))| (id, name.into(), description.into()))
        .collect()
}

/// A data directory holding `journal` as its journal file.
fn dir_with(journal: &[u8]) -> TempDir {
    let dir = fresh_data_dir();
    std::fs::write(journal_path(&dir), journal).expect("journal");
    dir
}

#[test]
fn a_format_1_journal_opens_and_is_rewritten_in_the_current_format() {
    let dir = dir_with(FORMAT_1_JOURNAL);
    let server = Binary::server(&[])
        .data_dir(dir.path())
        .env("RUST_LOG", "info")
        .serve();
    let rewritten = "rewrote its 3 entities from format 1 into format 2";
    assert_eventually(
        EXIT_LIMIT,
        || server.stderr_text().contains(rewritten),
        || format!("no {rewritten:?} line: {}", server.stderr_text()),
    );
    assert_eq!(triples(&all_entities(server.grpc_addr)), format_1_triples());
    // The same entities, now behind a file header in one batch.
    let bytes = std::fs::read(journal_path(&dir)).expect("journal");
    assert_eq!(bytes[..FILE_HEADER_LEN], file_header(FORMAT_VERSION));
    let one_batch = FILE_HEADER_LEN as u64 + batch_size(&FORMAT_1_ENTITIES);
    assert_eq!(bytes.len() as u64, one_batch);
    assert_eq!(rest_created(server.http_addr, "after-format-1", ""), 4);
    stop_gracefully(server);

    let server = serve_in(&dir);
    let mut expected = format_1_triples();
    expected.push((4, "after-format-1".into(), String::new()));
    assert_eq!(triples(&all_entities(server.grpc_addr)), expected);
}

#[test]
fn a_format_1_journal_with_a_torn_tail_opens_without_it() {
    let mut journal = FORMAT_1_JOURNAL.to_vec();
    // A record cut short: its length, checksum and the first byte of its id.
    journal.extend_from_slice(&FORMAT_1_JOURNAL[..9]);
    journal.resize(journal.len() + 4096, 0);
    let dir = dir_with(&journal);
    let server = serve_in(&dir);
    let warning = format!("9 bytes at byte offset {}", FORMAT_1_JOURNAL.len());
    assert_eventually(
        EXIT_LIMIT,
        || server.stderr_text().contains(&warning),
        || format!("no warning naming {warning:?}: {}", server.stderr_text()),
    );
    assert_eq!(triples(&all_entities(server.grpc_addr)), format_1_triples());
    assert_eq!(rest_created(server.http_addr, "after-the-tail", ""), 4);
}

#[test]
fn a_journal_in_a_newer_format_is_refused_and_left_alone() {
    let dir = fresh_data_dir();
    let server = serve_in(&dir);
    rest_created(server.http_addr, "written", "by this build");
    stop_gracefully(server);
    let journal = journal_path(&dir);
    let mut bytes = std::fs::read(&journal).expect("journal");
    let newer = FORMAT_VERSION + 1;
    bytes[..FILE_HEADER_LEN].copy_from_slice(&file_header(newer));
    std::fs::write(&journal, &bytes).expect("a newer header");

    assert_refused_start(&dir, &format!("is in format {newer}, newer than"));
    assert_eq!(std::fs::read(&journal).expect("journal"), bytes);
}
