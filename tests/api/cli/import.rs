//! `entity-service client import`: JSON lines streamed to CreateEntities,
//! from a file or stdin, stopping at the first bad line.

use grpcio::RpcStatusCode;

use crate::helpers::child::{file_with, path_arg, Binary};
use crate::helpers::grpc::{self, call_options, get_request};
use crate::helpers::TestService;

use super::stored_from;

#[test]
fn client_import_creates_every_line_and_prints_count_and_ids_in_both_forms() {
    let service = TestService::start();
    service.seed("already there", "");
    let file = file_with(concat!(
        "{\"name\":\"a\",\"description\":\"first\"}\n",
        "\n",
        "{\"name\":\"b\"}\n",
        "{\"name\":\"c\",\"description\":\"third\"}",
    ));
    let human = Binary::client(service.grpc_addr, &["import", path_arg(file.path())]).run();
    human.assert_code(0);
    assert_eq!(
        stored_from(&service, 2),
        [
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

    let json = Binary::client(
        service.grpc_addr,
        &["import", path_arg(file.path()), "--json"],
    )
    .run();
    json.assert_code(0);
    assert_eq!(json.lines(), [r#"{"created":3,"ids":[5,6,7]}"#]);
    assert_eq!(service.store().len(), 7);
    assert_eq!(service.store().get(7).expect("id 7").description, "third");
}

#[test]
fn client_import_stops_at_a_bad_line_naming_it_and_keeps_earlier_lines() {
    struct Case {
        what: &'static str,
        file: &'static str,
        json: bool,
        /// How stderr names the bad line (an empty line shifts line
        /// numbers away from stream indices).
        line: &'static str,
        /// Another word stderr must contain.
        mentions: Option<&'static str>,
        kept: [(&'static str, &'static str); 2],
    }
    let cases = [
        Case {
            what: "invalid JSON",
            file:
                "{\"name\":\"one\"}\n{\"name\":\"two\"}\n{\"name\": not json\n{\"name\":\"four\"}\n",
            json: false,
            line: "line 3",
            mentions: None,
            kept: [("one", ""), ("two", "")],
        },
        Case {
            what: "blank name",
            file: concat!(
                "{\"name\":\"one\"}\n",
                "\n",
                "{\"name\":\"three\",\"description\":\"kept\"}\n",
                "{\"name\":\"   \",\"description\":\"blank name\"}\n",
                "{\"name\":\"five\"}\n",
            ),
            json: true,
            line: "line 4",
            mentions: Some("name"),
            kept: [("one", ""), ("three", "kept")],
        },
    ];
    for case in cases {
        let what = case.what;
        let service = TestService::start();
        let file = file_with(case.file);
        let args = if case.json {
            vec!["--json", "import", path_arg(file.path())]
        } else {
            vec!["import", path_arg(file.path())]
        };
        let import = Binary::client(service.grpc_addr, &args).run();
        import.assert_call_error(4, "INVALID_ARGUMENT");
        for word in [Some(case.line), case.mentions].into_iter().flatten() {
            assert!(
                import.stderr.contains(word),
                "{what}: no {word:?}: {import:#?}"
            );
        }
        let kept = case.kept.map(|(n, d)| (n.to_string(), d.to_string()));
        assert_eq!(stored_from(&service, 1), kept, "{what}");
        // … and over gRPC.
        let client = grpc::entity_client(service.grpc_addr);
        for (id, (name, description)) in (1..).zip(&kept) {
            let entity = client
                .get_entity_opt(&get_request(id), call_options())
                .unwrap_or_else(|e| panic!("{what}: id {id}: {e:?}"));
            let shown = (&entity.name, &entity.description);
            assert_eq!(shown, (name, description), "{what}: id {id}");
        }
        let next = kept.len() as i64 + 1;
        let after = client
            .get_entity_opt(&get_request(next), call_options())
            .map(|entity| entity.id)
            .map_err(grpc::status_code);
        assert_eq!(after, Err(RpcStatusCode::NOT_FOUND), "{what}: id {next}");
    }
}

#[test]
fn client_import_reads_standard_input_when_the_file_is_a_dash() {
    let service = TestService::start();
    let import = Binary::client(service.grpc_addr, &["--json", "import", "-"])
        .stdin(b"{\"name\":\"x\",\"description\":\"from stdin\"}\n{\"name\":\"y\"}\n")
        .run();
    import.assert_code(0);
    assert_eq!(import.lines(), [r#"{"created":2,"ids":[1,2]}"#]);
    assert_eq!(
        stored_from(&service, 1),
        [("x".into(), "from stdin".into()), ("y".into(), "".into())]
    );
}
