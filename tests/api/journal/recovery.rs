//! Start-up on a journal a crash (or the disk) damaged, the batch being the
//! unit of recovery: the last batch, never acknowledged, is dropped whole with
//! one warning whatever its damage; damage with a whole batch after it stops
//! the start; zeros the writer filled ahead are no damage.

use entity_service::journal::frame::{BATCH_HEADER_LEN, FILE_HEADER_LEN};

use tempfile::TempDir;

use super::batches::{offset_of, write_batches};
use super::{
    all_entities, assert_refused_start, batch_size, fresh_data_dir, journal_path, rest_created,
    sequential_size, serve_in, stop_gracefully, triples, EXIT_LIMIT,
};
use crate::helpers::child::{Binary, Server};
use crate::helpers::prerequisites::failpoints;
use crate::helpers::wait::assert_eventually;

/// The first batch: one entity, acknowledged.
const FIRST: (&str, &str) = ("kept-first", "acknowledged before");

/// The binary as a child on `dir`, logging at info level.
fn serve_logging(dir: &TempDir) -> Server {
    Binary::server(&[])
        .data_dir(dir.path())
        .env("RUST_LOG", "info")
        .serve()
}

/// Waits for the replay line (which comes after any warning of the replay)
/// and returns the warnings about dropped bytes.
#[track_caller]
fn dropped_warnings(server: &Server, entities: usize) -> Vec<String> {
    let replayed = format!("replayed {entities} entities");
    assert_eventually(
        EXIT_LIMIT,
        || server.stderr_text().contains(&replayed),
        || format!("no {replayed:?} line: {}", server.stderr_text()),
    );
    server
        .stderr_text()
        .lines()
        .filter(|line| line.contains("dropped"))
        .map(str::to_string)
        .collect()
}

/// Asserts one warning, naming `bytes` dropped at byte offset `at`.
#[track_caller]
fn assert_one_drop(server: &Server, entities: usize, bytes: u64, at: u64) {
    let warnings = dropped_warnings(server, entities);
    assert_eq!(warnings.len(), 1, "{}", server.stderr_text());
    assert!(warnings[0].contains("WARN"), "{warnings:?}");
    let named = format!("{bytes} bytes at byte offset {at}");
    assert!(warnings[0].contains(&named), "{named:?} in {warnings:?}");
}

fn first_only() -> Vec<(i64, String, String)> {
    vec![(1, FIRST.0.into(), FIRST.1.into())]
}

#[test]
fn a_record_torn_inside_the_last_batch_drops_that_batch_whole_and_ids_go_on() {
    if !failpoints() {
        return;
    }
    let dir = fresh_data_dir();
    let description = "x".repeat(600);
    let last = [
        ("torn-one", description.as_str()),
        ("torn-two", &description),
        ("torn-three", &description),
        ("torn-four", &description),
    ];
    write_batches(&dir, &[&[FIRST], &last]);
    let journal = journal_path(&dir);
    let mut bytes = std::fs::read(&journal).expect("journal");
    let last_start = FILE_HEADER_LEN as u64 + batch_size(&[FIRST]);
    assert_eq!(bytes.len() as u64, last_start + batch_size(&last));
    // A stretch of the batch's first record never reached the disk (a power
    // loss mid-write); three whole records follow it in the same batch.
    let torn = offset_of(&bytes, "torn-one").expect("record in the journal");
    bytes[torn + 100..torn + 400].fill(0);
    std::fs::write(&journal, &bytes).expect("tear the batch");

    let server = serve_logging(&dir);
    let dropped = bytes.len() as u64 - last_start;
    assert_one_drop(&server, 1, dropped, last_start);
    assert_eq!(triples(&all_entities(server.grpc_addr)), first_only());
    let on_disk = std::fs::metadata(&journal).expect("journal").len();
    assert_eq!(on_disk, last_start, "the torn batch is cut off");
    assert_eq!(rest_created(server.http_addr, "after-the-tear", ""), 2);
    stop_gracefully(server);

    let server = serve_logging(&dir);
    assert!(dropped_warnings(&server, 2).is_empty());
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, [FIRST.0, "after-the-tear"]);
}

#[test]
fn a_last_batch_cut_short_drops_its_whole_records_too() {
    if !failpoints() {
        return;
    }
    let dir = fresh_data_dir();
    let last = [
        ("cut-one", ""),
        ("cut-two", "whole"),
        ("cut-three", "never finished"),
    ];
    write_batches(&dir, &[&[FIRST], &last]);
    let journal = journal_path(&dir);
    let mut bytes = std::fs::read(&journal).expect("journal");
    // The write's end never reached the disk: the batch ends inside its
    // third record, in the zeros the writer had filled ahead.
    let cut = offset_of(&bytes, "cut-three").expect("record in the journal") + 3;
    bytes.truncate(cut);
    bytes.resize(cut + 4096, 0);
    std::fs::write(&journal, &bytes).expect("cut the batch short");

    let server = serve_logging(&dir);
    let last_start = FILE_HEADER_LEN as u64 + batch_size(&[FIRST]);
    assert_one_drop(&server, 1, cut as u64 - last_start, last_start);
    assert_eq!(triples(&all_entities(server.grpc_addr)), first_only());
    assert_eq!(rest_created(server.http_addr, "after-the-cut", ""), 2);
}

#[test]
fn garbage_after_the_last_batch_is_dropped_with_one_warning_and_every_entity_stays() {
    let dir = fresh_data_dir();
    let server = serve_in(&dir);
    for name in ["one", "two", "three"] {
        rest_created(server.http_addr, name, "kept");
    }
    stop_gracefully(server);
    let journal = journal_path(&dir);
    let good = std::fs::read(&journal).expect("journal");
    // The start of a batch cut short, then garbage, in the zeros the writer
    // fills the file with ahead of its batches.
    let mut torn = good.clone();
    torn.extend_from_slice(&good[FILE_HEADER_LEN..FILE_HEADER_LEN + 20]);
    torn.extend_from_slice(&[0xEE; 9]);
    torn.resize(torn.len() + 4096, 0);
    std::fs::write(&journal, &torn).expect("tear the tail");

    let server = serve_logging(&dir);
    assert_one_drop(&server, 3, 29, good.len() as u64);
    let names: Vec<String> = all_entities(server.grpc_addr)
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["one", "two", "three"]);
    assert_eq!(std::fs::read(&journal).expect("journal"), good);
    assert_eq!(rest_created(server.http_addr, "four", ""), 4);
    stop_gracefully(server);

    let server = serve_logging(&dir);
    assert!(dropped_warnings(&server, 4).is_empty());
    assert_eq!(all_entities(server.grpc_addr).len(), 4);
}

#[test]
fn a_damaged_record_with_a_whole_batch_after_it_refuses_to_start_naming_file_and_offset() {
    if !failpoints() {
        return;
    }
    let dir = fresh_data_dir();
    let middle = [("damaged-one", "some description"), ("whole-two", "")];
    let after = ("whole-three", "synced after");
    write_batches(&dir, &[&[FIRST], &middle, &[after]]);
    let journal = journal_path(&dir);
    let mut bytes = std::fs::read(&journal).expect("journal");
    let middle_start = FILE_HEADER_LEN as u64 + batch_size(&[FIRST]);
    let damaged = middle_start + BATCH_HEADER_LEN as u64;
    let name = offset_of(&bytes, "damaged-one").expect("record in the journal");
    bytes[name + 3] ^= 0x40;
    std::fs::write(&journal, &bytes).expect("flip a byte");

    let run = assert_refused_start(&dir, &format!("byte offset {damaged}"));
    let after_start = middle_start + batch_size(&middle);
    let follows = format!("a whole batch follows at byte offset {after_start}");
    assert!(run.stderr.contains(&follows), "{run:#?}");
    assert_eq!(
        std::fs::read(&journal).expect("journal"),
        bytes,
        "nothing dropped"
    );
}

#[test]
fn a_zero_filled_tail_left_by_a_kill_is_no_damage() {
    let dir = fresh_data_dir();
    let mut server = serve_in(&dir);
    for name in ["zero-one", "zero-two"] {
        rest_created(server.http_addr, name, "d");
    }
    server.signal(libc::SIGKILL);
    server
        .wait_with_timeout(EXIT_LIMIT)
        .expect("SIGKILL ends the child");
    let journal = journal_path(&dir);
    let written = sequential_size(&[("zero-one", "d"), ("zero-two", "d")]);
    let bytes = std::fs::read(&journal).expect("journal");
    assert!(
        bytes.len() as u64 > written,
        "the writer filled zeros ahead"
    );
    assert!(bytes[written as usize..].iter().all(|&b| b == 0));

    let server = serve_logging(&dir);
    assert!(dropped_warnings(&server, 2).is_empty());
    assert_eq!(all_entities(server.grpc_addr).len(), 2);
    assert_eq!(rest_created(server.http_addr, "zero-three", "d"), 3);
    stop_gracefully(server);
    let on_disk = std::fs::metadata(&journal).expect("journal").len();
    assert_eq!(on_disk, written + batch_size(&[("zero-three", "d")]));
}
