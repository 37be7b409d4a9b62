//! How `entity-service client` fails: the exit code of each status, bad
//! command lines, an unreachable server and a missing token.

use crate::helpers::child::{file_with, path_arg, Binary};
use crate::helpers::net::closed_port;
use crate::helpers::TestService;

use super::entity_json_line;

/// A failing command line: its arguments, its exit code, the status it names
/// on stderr (none for a bad command line, exit 2, which never reaches the
/// server), and a word stderr must contain.
type Failure<'a> = (&'a [&'a str], i32, Option<&'a str>, Option<&'a str>);

#[test]
fn client_failures_exit_with_their_code_print_nothing_and_store_nothing() {
    let service = TestService::start();
    service.seed("only", "");
    let header = |value: &'static str| ["--header", value, "create", "must not be created"];
    let cases: [Failure; 14] = [
        (&["get", "2"], 3, Some("NOT_FOUND"), None),
        (&["get", "2", "--json"], 3, Some("NOT_FOUND"), None),
        (&["get", "0"], 4, Some("INVALID_ARGUMENT"), None),
        (&["get", "-5"], 4, Some("INVALID_ARGUMENT"), None),
        (&["create", ""], 4, Some("INVALID_ARGUMENT"), Some("name")),
        (
            &["create", "   "],
            4,
            Some("INVALID_ARGUMENT"),
            Some("name"),
        ),
        (&["frobnicate"], 2, None, None),
        (&["get", "abc"], 2, None, None),
        (&["get"], 2, None, None),
        (&["lookup", "1", "two"], 2, None, None),
        (&["list", "--limit", "-1"], 2, None, None),
        (&["get", "1", "--deadline-ms", "soon"], 2, None, None),
        (&header("no-equals-sign"), 2, None, Some("--header")),
        (
            &header("x-echo-bin=***not base64***"),
            2,
            None,
            Some("--header"),
        ),
    ];
    for (args, code, status, mentions) in cases {
        let run = Binary::client(service.grpc_addr, args).run();
        match status {
            Some(name) => run.assert_call_error(code, name),
            None => run.assert_code(code),
        };
        assert_eq!(run.stdout, "", "{args:?}: {run:#?}");
        assert!(!run.stderr.is_empty(), "{args:?}: {run:#?}");
        if let Some(word) = mentions {
            assert!(run.stderr.contains(word), "{args:?}: no {word:?}: {run:#?}");
        }
    }
    assert_eq!(service.store().len(), 1, "only the seed is stored");
}

#[test]
fn commands_against_a_closed_port_exit_5_unavailable_without_hanging() {
    let addr = closed_port().to_string();
    let file = file_with("{\"name\":\"never sent\"}\n");
    // A client that waited for the server instead of failing would end in
    // DEADLINE_EXCEEDED (10 s default deadline) or, for `watch` (none),
    // run into the run limit.
    let cases: [(&str, &[&str]); 8] = [
        ("demo", &[]),
        ("client", &["get", "1"]),
        ("client", &["create", "x"]),
        ("client", &["list"]),
        ("client", &["watch"]),
        ("client", &["import", path_arg(file.path())]),
        ("client", &["lookup", "1"]),
        ("client", &["lookup", "1", "2", "--json"]),
    ];
    for (command, args) in cases {
        let mut all = vec![command, "--addr", &addr];
        all.extend_from_slice(args);
        Binary::new(&all).run().assert_call_error(5, "UNAVAILABLE");
    }
}

#[test]
fn client_token_is_required_by_an_authenticated_server_missing_or_wrong_exits_7() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let addr = service.grpc_addr;
    Binary::client(addr, &["--token", "s3cret", "create", "ok"])
        .run()
        .assert_code(0);
    assert_eq!(service.store().len(), 1);
    let listed = Binary::client(addr, &["list", "--json", "--token", "s3cret"]).run();
    listed.assert_code(0);
    assert_eq!(listed.lines(), [entity_json_line(&service, 1)]);

    Binary::client(addr, &["create", "no token"])
        .run()
        .assert_call_error(7, "UNAUTHENTICATED");
    Binary::client(addr, &["--token", "guess", "get", "1"])
        .run()
        .assert_call_error(7, "UNAUTHENTICATED");
    assert_eq!(service.store().len(), 1);
}

#[test]
fn client_streaming_commands_without_a_token_exit_7_every_time() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let file = file_with("{\"name\":\"refused\"}\n");
    // The server refuses at once, racing the client's first message: repeat
    // to see that the outcome does not depend on who wins.
    for _ in 0..20 {
        for args in [
            &["lookup", "1"][..],
            &["import", path_arg(file.path())][..],
            &["watch", "--deadline-ms", "2000"][..],
        ] {
            Binary::client(service.grpc_addr, args)
                .run()
                .assert_call_error(7, "UNAUTHENTICATED");
        }
    }
    assert_eq!(service.store().len(), 0);
}
