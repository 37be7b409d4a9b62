//! The command line beyond `serve`: `entity-service client …` and
//! `entity-service demo`, run as subprocesses against a service started
//! in-process on port 0. Values printed are checked against the store.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use entity_service::proto::entities::GetEntityRequest;
use entity_service::validation::NewEntity;
use entity_service::Running;

const BINARY: &str = env!("CARGO_BIN_EXE_entity-service");

/// No subprocess in this file may run longer than this.
const RUN_LIMIT: Duration = Duration::from_secs(15);

/// What one subprocess run produced.
#[derive(Debug)]
struct Run {
    /// The command line, for failure messages.
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Exit code `code`, and never a panic on stderr.
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{:?}: unexpected exit code: {self:#?}",
            self.args.join(" ")
        );
        self.assert_no_panic();
        self
    }

    fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "stderr shows a panic: {self:#?}"
        );
    }

    /// A failed call: exit `code`, `error: <NAME>: …` on stderr, nothing on stdout.
    fn assert_call_error(&self, code: i32, name: &str) -> &Self {
        self.assert_code(code);
        let prefix = format!("error: {name}: ");
        assert!(
            self.stderr.lines().any(|l| l.starts_with(&prefix)),
            "stderr should have a line starting {prefix:?}: {self:#?}"
        );
        self
    }

    /// The stdout lines parsed as JSON objects.
    fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?} in {self:#?}"))
            })
            .collect()
    }
}

/// A command for the binary with a clean environment for the client flags.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("ENTITY_CLIENT_ADDR")
        .env_remove("ENTITY_AUTH_TOKEN")
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Collects a spawned child's output, killing it (and failing) after `limit`.
fn finish(mut child: Child, args: &[&str], started: Instant, limit: Duration) -> Run {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{args:?} still running after {limit:?}; stdout so far: {:?}, stderr: {:?}",
                out.join().unwrap(),
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
    }
}

/// Runs the binary with these arguments and optional stdin bytes.
fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = command(args);
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("binary starts");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).unwrap();
        drop(pipe); // end of input
    }
    finish(child, args, started, RUN_LIMIT)
}

fn run(args: &[&str]) -> Run {
    run_with_stdin(args, None)
}

/// `entity-service client --addr <addr> <args…>`.
fn client(addr: SocketAddr, args: &[&str]) -> Run {
    let addr = addr.to_string();
    let mut all = vec!["client", "--addr", &addr];
    all.extend_from_slice(args);
    run(&all)
}

/// Stores an entity directly, returning its id.
fn seed(service: &Running, name: &str, description: &str) -> i64 {
    service
        .store()
        .create(NewEntity::validate(name.into(), description.into()).unwrap())
        .wait()
        .expect("stored")
        .id
}

/// The exact JSON line of an entity, keys in the REST order.
fn entity_json_line(service: &Running, id: i64) -> String {
    let stored = service.store().get(id).expect("stored");
    serde_json::to_string(&serde_json::json!({
        "id": stored.id,
        "name": stored.name,
        "description": stored.description,
    }))
    .unwrap()
}

/// A human line mentions the id, the name and the description as stored.
fn assert_human_entity_line(service: &Running, line: &str, id: i64) {
    let stored = service.store().get(id).expect("stored");
    // Values may be shown as they are or quoted with escapes.
    let shows = |value: &str| line.contains(value) || line.contains(&format!("{value:?}"));
    assert!(
        line.contains(&id.to_string()) && shows(&stored.name) && shows(&stored.description),
        "line {line:?} should describe entity {stored:?}"
    );
}

/// A closed port on loopback: bound, then released.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A file under the temp dir with a unique name, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_file(contents: &str) -> TempFile {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "entity-service-cli-{}-{}.jsonl",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, contents).unwrap();
    TempFile(path)
}

fn wait_for_watchers(service: &Running, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while service.store().watcher_count() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        service.store().watcher_count(),
        count,
        "the watch subprocess never opened its watch"
    );
}

// ---------------------------------------------------------------- demo

#[test]
fn demo_first_three_lines_are_two_created_entities_then_one_not_found() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let demo = run(&["demo", "--addr", &addr]);
    demo.assert_code(0);
    assert!(demo.elapsed < Duration::from_secs(10), "{demo:#?}");
    let lines = demo.lines();
    assert!(lines.len() >= 3, "{demo:#?}");
    // The first two entities the demo created are ids 1 and 2 of a fresh store.
    assert_human_entity_line(&service, lines[0], 1);
    assert_human_entity_line(&service, lines[1], 2);
    assert!(!lines[0].contains("not found") && !lines[1].contains("not found"));
    assert!(
        lines[2].contains("not found") && lines[2].contains('3'),
        "third line should say id 3 was not found: {:?}",
        lines[2]
    );
    service.stop();
}

#[test]
fn demo_prints_a_banner_for_every_section_and_exits_zero_despite_deadline_exceeded() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let demo = run(&["demo", "--addr", &addr]);
    demo.assert_code(0);
    let banners: Vec<&str> = demo
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("== ") && l.ends_with(" =="))
        .collect();
    for wanted in [
        "ListEntities",
        "CreateEntities",
        "LookupEntities",
        "WatchEntities",
        "Metadata",
        "Cancel",
    ] {
        assert!(
            banners.iter().any(|b| b.contains(wanted)),
            "no `== … ==` banner mentions {wanted}: {banners:?}"
        );
    }
    // Banners come in the documented order.
    let position = |wanted: &str| banners.iter().position(|b| b.contains(wanted)).unwrap();
    assert!(position("ListEntities") < position("CreateEntities"));
    assert!(position("CreateEntities") < position("LookupEntities"));
    assert!(position("LookupEntities") < position("WatchEntities"));
    assert!(position("WatchEntities") < position("Metadata"));
    assert!(position("Metadata") < position("Cancel"));
    // The watch ends in DEADLINE_EXCEEDED, shown as expected, not as an error.
    assert!(
        demo.lines()
            .iter()
            .any(|l| l.contains("DEADLINE_EXCEEDED") && l.contains("expected")),
        "{demo:#?}"
    );
    assert!(!demo.stderr.contains("error:"), "{demo:#?}");
    // The metadata round-trip shows all three keys, the binary one intact.
    for key in ["x-request-id", "x-echo-initial", "x-echo-bin"] {
        assert!(
            demo.lines().iter().any(|l| l.trim_start().starts_with(key)),
            "no {key} line: {demo:#?}"
        );
    }
    assert!(demo.stdout.contains("demo-request-1"), "{demo:#?}");
    assert!(demo.stdout.contains("hello from the demo"), "{demo:#?}");
    assert!(!demo.stdout.contains("DIFFERENT"), "{demo:#?}");
    service.stop();
}

#[test]
fn demo_cancelled_client_stream_keeps_what_was_created_before_the_cancel() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let demo = run(&["demo", "--addr", &addr]);
    demo.assert_code(0);
    // 2 seeded + 3 streamed + 1 created during the watch + 2 before the cancel.
    assert_eq!(service.store().len(), 8, "{demo:#?}");
    let names: Vec<String> = service
        .store()
        .list(1, 0)
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert!(names.contains(&"kept one".to_string()), "{names:?}");
    assert!(names.contains(&"kept two".to_string()), "{names:?}");
    // … and over gRPC, as another client sees it.
    let grpc = common::grpc_client(service.grpc_addr);
    for id in [7, 8] {
        let mut request = GetEntityRequest::new();
        request.id = id;
        let entity = grpc.get_entity(&request).expect("kept after the cancel");
        assert!(entity.name.starts_with("kept "), "{entity:?}");
    }
    let cancel_section = demo
        .stdout
        .split("== ")
        .last()
        .expect("a last section")
        .to_string();
    assert!(cancel_section.contains("kept one"), "{cancel_section}");
    assert!(cancel_section.contains("kept two"), "{cancel_section}");
    service.stop();
}

#[test]
fn demo_against_a_closed_port_exits_5_quickly() {
    let addr = closed_port().to_string();
    let demo = run(&["demo", "--addr", &addr]);
    demo.assert_call_error(5, "UNAVAILABLE");
    assert!(demo.elapsed < Duration::from_secs(3), "{demo:#?}");
}

// ---------------------------------------------------------------- get / create / list

#[test]
fn client_get_prints_the_stored_entity_in_human_and_json_form() {
    let service = common::spawn();
    seed(&service, "first", "one");
    let id = seed(&service, "Zoë \"quoted\"", "with, commas");

    let human = client(service.grpc_addr, &["get", &id.to_string()]);
    human.assert_code(0);
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    assert_human_entity_line(&service, human.lines()[0], id);

    let json = client(service.grpc_addr, &["--json", "get", &id.to_string()]);
    json.assert_code(0);
    assert_eq!(json.lines(), vec![entity_json_line(&service, id).as_str()]);
    service.stop();
}

#[test]
fn client_global_options_may_follow_the_command() {
    let service = common::spawn();
    let id = seed(&service, "after", "options");
    let addr = service.grpc_addr.to_string();
    let json = run(&[
        "client",
        "get",
        &id.to_string(),
        "--json",
        "--addr",
        &addr,
        "--deadline-ms",
        "5000",
    ]);
    json.assert_code(0);
    assert_eq!(json.lines(), vec![entity_json_line(&service, id).as_str()]);
    service.stop();
}

#[test]
fn client_create_stores_the_entity_and_prints_it_in_both_forms() {
    let service = common::spawn();
    let human = client(
        service.grpc_addr,
        &["create", "Ada", "--description", "first programmer"],
    );
    human.assert_code(0);
    assert_eq!(service.store().len(), 1);
    let stored = service.store().get(1).unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.description.as_str()),
        ("Ada", "first programmer")
    );
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    assert_human_entity_line(&service, human.lines()[0], 1);

    let json = client(service.grpc_addr, &["create", "Grace", "--json"]);
    json.assert_code(0);
    assert_eq!(service.store().len(), 2);
    let stored = service.store().get(2).unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.description.as_str()),
        ("Grace", "")
    );
    assert_eq!(json.lines(), vec![entity_json_line(&service, 2).as_str()]);
    service.stop();
}

#[test]
fn client_list_prints_entities_in_id_order_honouring_start_id_and_limit() {
    let service = common::spawn();
    for i in 1..=5 {
        seed(&service, &format!("n{i}"), &format!("d{i}"));
    }
    let all = client(service.grpc_addr, &["list"]);
    all.assert_code(0);
    assert_eq!(all.lines().len(), 5, "{all:#?}");
    for (line, id) in all.lines().iter().zip(1..) {
        assert_human_entity_line(&service, line, id);
    }

    let window = client(
        service.grpc_addr,
        &["list", "--start-id", "2", "--limit", "3", "--json"],
    );
    window.assert_code(0);
    let expected: Vec<String> = (2..=4).map(|id| entity_json_line(&service, id)).collect();
    assert_eq!(window.lines(), expected);

    let past_the_end = client(service.grpc_addr, &["list", "--start-id", "6", "--json"]);
    past_the_end.assert_code(0);
    assert_eq!(past_the_end.stdout, "");
    service.stop();
}

// ---------------------------------------------------------------- exit codes

#[test]
fn client_get_of_a_missing_id_exits_3_with_not_found_on_stderr() {
    let service = common::spawn();
    seed(&service, "only", "");
    for format in [&[][..], &["--json"][..]] {
        let mut args = vec!["get", "2"];
        args.extend_from_slice(format);
        let missing = client(service.grpc_addr, &args);
        missing.assert_call_error(3, "NOT_FOUND");
        assert_eq!(missing.stdout, "", "{missing:#?}");
    }
    service.stop();
}

#[test]
fn client_get_of_id_zero_or_negative_exits_4_invalid_argument() {
    let service = common::spawn();
    for id in ["0", "-5"] {
        let invalid = client(service.grpc_addr, &["get", id]);
        invalid.assert_call_error(4, "INVALID_ARGUMENT");
        assert_eq!(invalid.stdout, "", "{invalid:#?}");
    }
    service.stop();
}

#[test]
fn client_create_with_a_blank_name_exits_4_and_stores_nothing() {
    let service = common::spawn();
    for name in ["", "   "] {
        let blank = client(service.grpc_addr, &["create", name]);
        blank.assert_call_error(4, "INVALID_ARGUMENT");
        assert!(blank.stderr.contains("name"), "{blank:#?}");
    }
    assert_eq!(service.store().len(), 0);
    service.stop();
}

#[test]
fn client_usage_errors_exit_2_unknown_command_and_non_numeric_id() {
    let service = common::spawn();
    for args in [
        &["frobnicate"][..],
        &["get", "abc"][..],
        &["get"][..],
        &["lookup", "1", "two"][..],
        &["list", "--limit", "-1"][..],
        &["get", "1", "--deadline-ms", "soon"][..],
    ] {
        let usage = client(service.grpc_addr, args);
        usage.assert_code(2);
        assert_eq!(usage.stdout, "", "{args:?}: {usage:#?}");
        assert!(!usage.stderr.is_empty(), "{args:?}: {usage:#?}");
    }
    assert_eq!(service.store().len(), 0);
    service.stop();
}

#[test]
fn client_bad_header_exits_2_without_calling_the_server() {
    let service = common::spawn();
    for header in ["no-equals-sign", "x-echo-bin=***not base64***"] {
        let bad = client(
            service.grpc_addr,
            &["--header", header, "create", "must not be created"],
        );
        bad.assert_code(2);
        assert!(bad.stderr.contains("--header"), "{header}: {bad:#?}");
        assert_eq!(bad.stdout, "", "{bad:#?}");
    }
    assert_eq!(service.store().len(), 0);
    service.stop();
}

#[test]
fn client_against_a_closed_port_exits_5_fast_without_hanging() {
    let addr = closed_port();
    let file = temp_file("{\"name\":\"never sent\"}\n");
    for args in [
        &["get", "1"][..],
        &["create", "x"][..],
        &["list"][..],
        &["watch"][..],
        &["import", file.path()][..],
        &["lookup", "1"][..],
        &["lookup", "1", "2", "--json"][..],
    ] {
        let unreachable = client(addr, args);
        unreachable.assert_call_error(5, "UNAVAILABLE");
        assert!(
            unreachable.elapsed < Duration::from_secs(3),
            "{args:?} took {:?}",
            unreachable.elapsed
        );
    }
}

#[test]
fn client_watch_on_an_idle_server_with_a_300_ms_deadline_exits_6() {
    let service = common::spawn();
    let watch = client(service.grpc_addr, &["watch", "--deadline-ms", "300"]);
    watch.assert_call_error(6, "DEADLINE_EXCEEDED");
    assert_eq!(watch.stdout, "");
    assert!(
        watch.elapsed >= Duration::from_millis(300) && watch.elapsed < Duration::from_secs(3),
        "{watch:#?}"
    );
    service.stop();
}

// ---------------------------------------------------------------- import

#[test]
fn client_import_creates_every_line_and_prints_count_and_ids_in_both_forms() {
    let service = common::spawn();
    seed(&service, "already there", "");
    let file = temp_file(concat!(
        "{\"name\":\"a\",\"description\":\"first\"}\n",
        "\n",
        "{\"name\":\"b\"}\n",
        "{\"name\":\"c\",\"description\":\"third\"}",
    ));
    let human = client(service.grpc_addr, &["import", file.path()]);
    human.assert_code(0);
    assert_eq!(service.store().len(), 4);
    let stored: Vec<(String, String)> = service
        .store()
        .list(2, 0)
        .iter()
        .map(|e| (e.name.clone(), e.description.clone()))
        .collect();
    assert_eq!(
        stored,
        vec![
            ("a".into(), "first".into()),
            ("b".into(), "".into()),
            ("c".into(), "third".into())
        ]
    );
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    let line = human.lines()[0];
    assert!(line.contains('3'), "count missing: {line:?}");
    let numbers: Vec<&str> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(
        numbers.ends_with(&["2", "3", "4"]),
        "ids 2, 3, 4 missing in order: {line:?}"
    );

    let json = client(service.grpc_addr, &["import", file.path(), "--json"]);
    json.assert_code(0);
    assert_eq!(json.lines(), vec![r#"{"created":3,"ids":[5,6,7]}"#]);
    assert_eq!(service.store().len(), 7);
    assert_eq!(service.store().get(7).unwrap().description, "third");
    service.stop();
}

#[test]
fn client_import_stops_at_an_invalid_json_line_naming_it_and_keeps_earlier_lines() {
    let service = common::spawn();
    let file = temp_file(concat!(
        "{\"name\":\"one\"}\n",
        "{\"name\":\"two\"}\n",
        "{\"name\": not json\n",
        "{\"name\":\"four\"}\n",
    ));
    let import = client(service.grpc_addr, &["import", file.path()]);
    import.assert_call_error(4, "INVALID_ARGUMENT");
    assert!(import.stderr.contains("line 3"), "{import:#?}");
    let names: Vec<String> = service
        .store()
        .list(1, 0)
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, vec!["one", "two"]);
    service.stop();
}

#[test]
fn client_import_stops_at_a_blank_name_line_naming_it_and_keeps_earlier_lines() {
    let service = common::spawn();
    // An empty line shifts line numbers away from stream indices.
    let file = temp_file(concat!(
        "{\"name\":\"one\"}\n",
        "\n",
        "{\"name\":\"three\",\"description\":\"kept\"}\n",
        "{\"name\":\"   \",\"description\":\"blank name\"}\n",
        "{\"name\":\"five\"}\n",
    ));
    let import = client(service.grpc_addr, &["--json", "import", file.path()]);
    import.assert_call_error(4, "INVALID_ARGUMENT");
    assert!(import.stderr.contains("line 4"), "{import:#?}");
    assert!(import.stderr.contains("name"), "{import:#?}");
    let names: Vec<String> = service
        .store()
        .list(1, 0)
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, vec!["one", "three"]);
    // … and over gRPC.
    let grpc = common::grpc_client(service.grpc_addr);
    let mut request = GetEntityRequest::new();
    request.id = 2;
    assert_eq!(grpc.get_entity(&request).unwrap().description, "kept");
    request.id = 3;
    assert!(grpc.get_entity(&request).is_err());
    service.stop();
}

#[test]
fn client_import_reads_standard_input_when_the_file_is_a_dash() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let import = run_with_stdin(
        &["client", "--addr", &addr, "--json", "import", "-"],
        Some(b"{\"name\":\"x\",\"description\":\"from stdin\"}\n{\"name\":\"y\"}\n"),
    );
    import.assert_code(0);
    assert_eq!(import.lines(), vec![r#"{"created":2,"ids":[1,2]}"#]);
    assert_eq!(service.store().len(), 2);
    assert_eq!(service.store().get(1).unwrap().description, "from stdin");
    assert_eq!(service.store().get(2).unwrap().name, "y");
    service.stop();
}

// ---------------------------------------------------------------- metadata

#[test]
fn client_token_is_required_by_an_authenticated_server_missing_or_wrong_exits_7() {
    let service = common::spawn_with(|c| c.auth_token = Some("s3cret".into()));
    let right = client(service.grpc_addr, &["--token", "s3cret", "create", "ok"]);
    right.assert_code(0);
    assert_eq!(service.store().len(), 1);
    let listed = client(service.grpc_addr, &["list", "--json", "--token", "s3cret"]);
    listed.assert_code(0);
    assert_eq!(listed.lines(), vec![entity_json_line(&service, 1).as_str()]);

    let missing = client(service.grpc_addr, &["create", "no token"]);
    missing.assert_call_error(7, "UNAUTHENTICATED");
    let wrong = client(service.grpc_addr, &["--token", "guess", "get", "1"]);
    wrong.assert_call_error(7, "UNAUTHENTICATED");
    assert_eq!(service.store().len(), 1);
    service.stop();
}

#[test]
fn client_streaming_commands_without_a_token_exit_7_every_time() {
    let service = common::spawn_with(|c| c.auth_token = Some("s3cret".into()));
    let file = temp_file("{\"name\":\"refused\"}\n");
    // The server refuses at once, racing the client's first message: repeat
    // to see that the outcome does not depend on who wins.
    for _ in 0..20 {
        for args in [
            &["lookup", "1"][..],
            &["import", file.path()][..],
            &["watch", "--deadline-ms", "2000"][..],
        ] {
            let refused = client(service.grpc_addr, args);
            refused.assert_call_error(7, "UNAUTHENTICATED");
        }
    }
    assert_eq!(service.store().len(), 0);
    service.stop();
}

#[test]
fn demo_with_the_right_token_runs_against_an_authenticated_server() {
    let service = common::spawn_with(|c| c.auth_token = Some("s3cret".into()));
    let addr = service.grpc_addr.to_string();
    let refused = run(&["demo", "--addr", &addr]);
    refused.assert_call_error(7, "UNAUTHENTICATED");
    assert_eq!(service.store().len(), 0);
    let demo = run(&["demo", "--addr", &addr, "--token", "s3cret"]);
    demo.assert_code(0);
    assert_eq!(service.store().len(), 8, "{demo:#?}");
    service.stop();
}

#[test]
fn client_accepts_echo_headers_and_base64_binary_headers() {
    let service = common::spawn();
    let id = seed(&service, "echo", "");
    let echoed = client(
        service.grpc_addr,
        &[
            "--header",
            "x-echo-initial=hello there",
            "--header",
            "x-echo-bin=AP8QgA==",
            "--header",
            "x-request-id=cli-test-1",
            "get",
            &id.to_string(),
            "--json",
        ],
    );
    echoed.assert_code(0);
    assert_eq!(
        echoed.lines(),
        vec![entity_json_line(&service, id).as_str()]
    );
    service.stop();
}

// ---------------------------------------------------------------- watch

#[test]
fn client_watch_prints_entities_created_while_it_runs_until_the_deadline() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let args = [
        "client",
        "--addr",
        &addr,
        "watch",
        "--json",
        "--deadline-ms",
        "1500",
    ];
    let started = Instant::now();
    let child = command(&args).spawn().expect("binary starts");
    wait_for_watchers(&service, 1);
    let grpc = common::grpc_client(service.grpc_addr);
    let first = grpc
        .create_entity(&common::create_request("live one", "during the watch"))
        .unwrap();
    let second = grpc
        .create_entity(&common::create_request("live two", ""))
        .unwrap();
    let watch = finish(child, &args, started, RUN_LIMIT);
    watch.assert_call_error(6, "DEADLINE_EXCEEDED");
    assert_eq!(
        watch.lines(),
        vec![
            entity_json_line(&service, first.id).as_str(),
            entity_json_line(&service, second.id).as_str()
        ]
    );
    service.stop();
}

#[test]
fn client_watch_with_after_id_replays_later_entities_first() {
    let service = common::spawn();
    for name in ["r1", "r2", "r3"] {
        seed(&service, name, "replayed");
    }
    let json = client(
        service.grpc_addr,
        &["watch", "--after-id", "1", "--deadline-ms", "500", "--json"],
    );
    json.assert_call_error(6, "DEADLINE_EXCEEDED");
    let expected: Vec<String> = (2..=3).map(|id| entity_json_line(&service, id)).collect();
    assert_eq!(json.lines(), expected);

    let human = client(
        service.grpc_addr,
        &["watch", "--after-id", "2", "--deadline-ms", "500"],
    );
    human.assert_call_error(6, "DEADLINE_EXCEEDED");
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    assert_human_entity_line(&service, human.lines()[0], 3);
    service.stop();
}

#[test]
fn client_watch_without_deadline_streams_live_and_ends_on_ctrl_c() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let mut child = command(&["client", "--addr", &addr, "watch"])
        .spawn()
        .expect("binary starts");
    wait_for_watchers(&service, 1);
    let id = seed(&service, "seen live", "before ctrl-c");
    // The line arrives while the watch is still running.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let reader = std::thread::spawn(move || {
        stdout.read_line(&mut line).unwrap();
        line
    });
    let waited = Instant::now();
    while !reader.is_finished() && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        reader.is_finished(),
        "no live line within 5 s; the watch is buffered or stuck"
    );
    let line = reader.join().unwrap();
    assert_human_entity_line(&service, line.trim_end(), id);
    assert!(child.try_wait().unwrap().is_none(), "watch ended by itself");
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let stopped = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "{status:?}");
            break;
        }
        if stopped.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            panic!("watch did not end within 3 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    service.stop();
}

// ---------------------------------------------------------------- lookup

#[test]
fn client_lookup_answers_found_and_missing_ids_in_the_order_asked() {
    let service = common::spawn();
    seed(&service, "l1", "one");
    seed(&service, "l2", "two");

    let json = client(
        service.grpc_addr,
        &["lookup", "2", "9", "1", "0", "2", "--json"],
    );
    json.assert_code(0);
    let lines = json.lines();
    assert_eq!(lines.len(), 5, "{json:#?}");
    let found = |id: i64| {
        format!(
            r#"{{"id":{id},"found":true,"entity":{}}}"#,
            entity_json_line(&service, id)
        )
    };
    assert_eq!(lines[0], found(2));
    assert_eq!(lines[1], r#"{"id":9,"found":false}"#);
    assert_eq!(lines[2], found(1));
    assert_eq!(lines[3], r#"{"id":0,"found":false}"#);
    assert_eq!(lines[4], found(2));
    for value in json.json_lines() {
        assert_eq!(
            value["found"].as_bool().unwrap(),
            value.get("entity").is_some()
        );
    }

    let human = client(service.grpc_addr, &["lookup", "1", "7", "2"]);
    human.assert_code(0);
    let lines = human.lines();
    assert_eq!(lines.len(), 3, "{human:#?}");
    assert_human_entity_line(&service, lines[0], 1);
    assert!(
        lines[1].contains('7') && lines[1].contains("not found"),
        "{lines:?}"
    );
    assert_human_entity_line(&service, lines[2], 2);
    service.stop();
}

#[test]
fn client_health_prints_serving_and_exits_zero_and_names_unknown_services() {
    let service = common::spawn();
    let addr = service.grpc_addr.to_string();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_entity-service"))
        .args(["client", "--addr", &addr, "health"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "SERVING");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_entity-service"))
        .args([
            "client",
            "--addr",
            &addr,
            "--json",
            "health",
            "entities.v1.EntityService",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        r#"{"status":"SERVING"}"#
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_entity-service"))
        .args(["client", "--addr", &addr, "health", "no.Such"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: NOT_FOUND: "));
    service.begin_stop();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_entity-service"))
        .args(["client", "--addr", &addr, "health"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "NOT_SERVING"
    );
    service.stop();
}
