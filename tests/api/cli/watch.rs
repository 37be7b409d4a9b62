//! `entity-service client watch`: live lines, replay after an id, the
//! deadline, and Ctrl-C.

use std::time::Duration;

use crate::helpers::child::Binary;
use crate::helpers::grpc::{self, call_options, create_request};
use crate::helpers::wait::wait_for_watchers;
use crate::helpers::TestService;

use super::{assert_human_entity_line, entity_json_line};

/// How long a live watch line may take to reach the watch's stdout.
const LINE_LIMIT: Duration = Duration::from_secs(5);
/// How long a child may take to exit after SIGINT: a hang bound.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn client_watch_on_an_idle_server_with_a_300_ms_deadline_exits_6() {
    let service = TestService::start();
    let watch = Binary::client(service.grpc_addr, &["watch", "--deadline-ms", "300"]).run();
    watch.assert_call_error(6, "DEADLINE_EXCEEDED");
    assert_eq!(watch.stdout, "");
    // Not cut short: the watch ran until its deadline.
    assert!(watch.elapsed >= Duration::from_millis(300), "{watch:#?}");
}

#[test]
fn client_watch_prints_entities_created_while_it_runs_until_the_deadline() {
    let service = TestService::start();
    let watch = Binary::client(
        service.grpc_addr,
        &["watch", "--json", "--deadline-ms", "1500"],
    )
    .spawn();
    wait_for_watchers(&service, 1);
    let client = grpc::entity_client(service.grpc_addr);
    let ids: Vec<i64> = [("live one", "during the watch"), ("live two", "")]
        .iter()
        .map(|(name, description)| {
            client
                .create_entity_opt(&create_request(name, description), call_options())
                .expect("created during the watch")
                .id
        })
        .collect();
    let watch = watch.finish();
    watch.assert_call_error(6, "DEADLINE_EXCEEDED");
    let expected: Vec<String> = ids
        .iter()
        .map(|&id| entity_json_line(&service, id))
        .collect();
    assert_eq!(watch.lines(), expected);
}

#[test]
fn client_watch_with_after_id_replays_later_entities_first() {
    let service = TestService::start();
    for name in ["r1", "r2", "r3"] {
        service.seed(name, "replayed");
    }
    let json = Binary::client(
        service.grpc_addr,
        &["watch", "--after-id", "1", "--deadline-ms", "500", "--json"],
    )
    .run();
    json.assert_call_error(6, "DEADLINE_EXCEEDED");
    let expected: Vec<String> = (2..=3).map(|id| entity_json_line(&service, id)).collect();
    assert_eq!(json.lines(), expected);

    let human = Binary::client(
        service.grpc_addr,
        &["watch", "--after-id", "2", "--deadline-ms", "500"],
    )
    .run();
    human.assert_call_error(6, "DEADLINE_EXCEEDED");
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    assert_human_entity_line(&service, human.lines()[0], 3);
}

#[test]
fn client_watch_without_deadline_streams_live_and_ends_on_ctrl_c() {
    let service = TestService::start();
    let mut watch = Binary::client(service.grpc_addr, &["watch"]).spawn();
    wait_for_watchers(&service, 1);
    let id = service.seed("seen live", "before ctrl-c");
    // The line arrives while the watch is still running.
    let line = watch.next_line(LINE_LIMIT).unwrap_or_else(|| {
        panic!(
            "no live line within {LINE_LIMIT:?}; the watch is buffered or stuck; stderr: {}",
            watch.stderr_tail()
        )
    });
    assert_human_entity_line(&service, &line, id);
    assert!(watch.alive(), "the watch ended by itself");
    watch.signal(libc::SIGINT);
    let status = watch
        .wait_with_timeout(EXIT_LIMIT)
        .expect("the watch exits after SIGINT (hang bound 10 s)");
    assert!(!status.success(), "{status:?}");
}
