//! `entity-service client` calls that succeed: what each command prints,
//! in human and `--json` form, checked against the store.

use crate::helpers::child::Binary;
use crate::helpers::TestService;

use super::{assert_human_entity_line, entity_json_line, stored_from};

#[test]
fn client_get_prints_the_stored_entity_in_human_and_json_form() {
    let service = TestService::start();
    service.seed("first", "one");
    let id = service.seed("Zoë \"quoted\"", "with, commas");
    let id_arg = id.to_string();

    let human = Binary::client(service.grpc_addr, &["get", &id_arg]).run();
    human.assert_code(0);
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    assert_human_entity_line(&service, human.lines()[0], id);

    let json = Binary::client(service.grpc_addr, &["--json", "get", &id_arg]).run();
    json.assert_code(0);
    assert_eq!(json.lines(), [entity_json_line(&service, id)]);
}

#[test]
fn client_global_options_may_follow_the_command() {
    let service = TestService::start();
    let id = service.seed("after", "options");
    let addr = service.grpc_addr.to_string();
    let id_arg = id.to_string();
    let args = [
        "client",
        "get",
        &id_arg,
        "--json",
        "--addr",
        &addr,
        "--deadline-ms",
        "5000",
    ];
    let json = Binary::new(&args).run();
    json.assert_code(0);
    assert_eq!(json.lines(), [entity_json_line(&service, id)]);
}

#[test]
fn client_create_stores_the_entity_and_prints_it_in_both_forms() {
    let service = TestService::start();
    let ada = ["create", "Ada", "--description", "first programmer"];
    let human = Binary::client(service.grpc_addr, &ada).run();
    human.assert_code(0);
    assert_eq!(
        stored_from(&service, 1),
        [("Ada".into(), "first programmer".into())]
    );
    assert_eq!(human.lines().len(), 1, "{human:#?}");
    assert_human_entity_line(&service, human.lines()[0], 1);

    let json = Binary::client(service.grpc_addr, &["create", "Grace", "--json"]).run();
    json.assert_code(0);
    assert_eq!(stored_from(&service, 2), [("Grace".into(), String::new())]);
    assert_eq!(service.store().len(), 2);
    assert_eq!(json.lines(), [entity_json_line(&service, 2)]);
}

#[test]
fn client_list_prints_entities_in_id_order_honouring_start_id_and_limit() {
    let service = TestService::start();
    for i in 1..=5 {
        service.seed(&format!("n{i}"), &format!("d{i}"));
    }
    let all = Binary::client(service.grpc_addr, &["list"]).run();
    all.assert_code(0);
    assert_eq!(all.lines().len(), 5, "{all:#?}");
    for (line, id) in all.lines().iter().zip(1..) {
        assert_human_entity_line(&service, line, id);
    }

    let window = Binary::client(
        service.grpc_addr,
        &["list", "--start-id", "2", "--limit", "3", "--json"],
    )
    .run();
    window.assert_code(0);
    let expected: Vec<String> = (2..=4).map(|id| entity_json_line(&service, id)).collect();
    assert_eq!(window.lines(), expected);

    let past_the_end =
        Binary::client(service.grpc_addr, &["list", "--start-id", "6", "--json"]).run();
    past_the_end.assert_code(0);
    assert_eq!(past_the_end.stdout, "");
}

#[test]
fn client_accepts_echo_headers_and_base64_binary_headers() {
    let service = TestService::start();
    let id = service.seed("echo", "");
    let id_arg = id.to_string();
    let headers = [
        "x-echo-initial=hello there",
        "x-echo-bin=AP8QgA==",
        "x-request-id=cli-test-1",
    ];
    let mut args: Vec<&str> = headers.iter().flat_map(|h| ["--header", h]).collect();
    args.extend(["get", &id_arg, "--json"]);
    let echoed = Binary::client(service.grpc_addr, &args).run();
    echoed.assert_code(0);
    assert_eq!(echoed.lines(), [entity_json_line(&service, id)]);
}

#[test]
fn client_lookup_answers_found_and_missing_ids_in_the_order_asked() {
    let service = TestService::start();
    service.seed("l1", "one");
    service.seed("l2", "two");

    let json = Binary::client(
        service.grpc_addr,
        &["lookup", "2", "9", "1", "0", "2", "--json"],
    )
    .run();
    json.assert_code(0);
    let found = |id: i64| {
        format!(
            r#"{{"id":{id},"found":true,"entity":{}}}"#,
            entity_json_line(&service, id)
        )
    };
    let missing = |id: i64| format!(r#"{{"id":{id},"found":false}}"#);
    assert_eq!(
        json.lines(),
        [found(2), missing(9), found(1), missing(0), found(2)]
    );
    for value in json.json_lines() {
        assert_eq!(
            value["found"].as_bool(),
            Some(value.get("entity").is_some()),
            "{value}"
        );
    }

    let human = Binary::client(service.grpc_addr, &["lookup", "1", "7", "2"]).run();
    human.assert_code(0);
    let lines = human.lines();
    assert_eq!(lines.len(), 3, "{human:#?}");
    assert_human_entity_line(&service, lines[0], 1);
    assert!(
        lines[1].contains('7') && lines[1].contains("not found"),
        "{lines:?}"
    );
    assert_human_entity_line(&service, lines[2], 2);
}

#[test]
fn client_health_prints_serving_and_exits_zero_and_names_unknown_services() {
    let service = TestService::start();
    let health = |args: &[&str]| Binary::client(service.grpc_addr, args).run();
    let serving = health(&["health"]);
    serving.assert_code(0);
    assert_eq!(serving.stdout.trim(), "SERVING");
    let json = health(&["--json", "health", "entities.v1.EntityService"]);
    json.assert_code(0);
    assert_eq!(json.stdout.trim(), r#"{"status":"SERVING"}"#);
    let unknown = health(&["health", "no.Such"]);
    unknown.assert_call_error(3, "NOT_FOUND");
    assert!(
        unknown.stderr.starts_with("error: NOT_FOUND: "),
        "{unknown:#?}"
    );
    service.begin_stop();
    let stopping = health(&["health"]);
    stopping.assert_code(1);
    assert_eq!(stopping.stdout.trim(), "NOT_SERVING");
}
