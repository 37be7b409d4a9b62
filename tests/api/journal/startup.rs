//! Start-up on an existing directory: a torn tail is cut off with one
//! warning, a flipped byte before good records stops the start, and a second
//! process on a locked directory exits at once.

use super::{
    all_entities, journal_path, record_size, rest_created, serve_in, stop_gracefully, EXIT_LIMIT,
};
use crate::helpers::child::Binary;
use crate::helpers::temp::TempDir;
use crate::helpers::wait::assert_eventually;

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
    // A record cut short, then garbage, in the zeros the writer fills the
    // file with ahead of its records: what a crash mid-write leaves.
    let mut torn = good.clone();
    torn.extend_from_slice(&good[..20]);
    torn.extend_from_slice(&[0xEE; 9]);
    torn.resize(torn.len() + 4096, 0);
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
