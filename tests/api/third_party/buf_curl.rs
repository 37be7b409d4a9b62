//! `buf curl` (npm `@bufbuild/buf`), a gRPC client that knows nothing of the
//! service but what server reflection tells it, against the release binary:
//! it lists the services, describes EntityService's methods, and calls
//! CreateEntity, GetEntity and ListEntities, with the bearer token the
//! service requires (and is refused without it). The README's terminal
//! examples are these commands.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::tools::{self, Output};
use crate::helpers::child::Binary;

const TOKEN: &str = "buf-token";
/// A hang bound for one call, not a speed goal.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// `buf curl` in gRPC mode over plaintext HTTP/2 with these arguments.
fn buf_curl(buf: &std::path::Path, grpc: SocketAddr, args: &[&str], path: &str) -> Output {
    tools::run(
        Command::new(buf)
            .args(["curl", "--protocol", "grpc", "--http2-prior-knowledge"])
            .args(args)
            .arg(format!("http://{grpc}{path}")),
        CALL_LIMIT,
    )
}

/// The JSON messages of a call's output, in order.
fn messages(output: &Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", output.both());
    serde_json::Deserializer::from_str(&output.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("JSON messages ({error}):\n{}", output.both()))
}

#[test]
fn buf_curl_lists_describes_and_calls_the_entity_service_through_reflection() {
    let Some(buf) = tools::node_tool("buf") else {
        return;
    };
    let server = Binary::server(&["--auth-token", TOKEN]).serve();
    let grpc = server.grpc_addr;
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let method = |name: &str| format!("/entities.v1.EntityService/{name}");

    let services = buf_curl(&buf, grpc, &["--list-services"], "");
    assert!(services.status.success(), "{}", services.both());
    let services: Vec<&str> = services.stdout.lines().collect();
    for service in [
        "entities.v1.EntityService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(services.contains(&service), "{service} in {services:?}");
    }

    let methods = buf_curl(&buf, grpc, &["--list-methods"], "");
    assert!(methods.status.success(), "{}", methods.both());
    let described: Vec<&str> = methods
        .stdout
        .lines()
        .filter(|line| line.starts_with("entities.v1.EntityService/"))
        .collect();
    let rpcs = [
        "CreateEntities",
        "CreateEntity",
        "GetEntity",
        "ListEntities",
        "LookupEntities",
        "WatchEntities",
    ];
    let expected: Vec<String> = rpcs
        .iter()
        .map(|rpc| method(rpc)[1..].to_string())
        .collect();
    assert_eq!(described, expected);

    let data = r#"{"name":"Ada","description":"first"}"#;
    let create_args = ["-H", bearer.as_str(), "-d", data];
    let created = messages(&buf_curl(&buf, grpc, &create_args, &method("CreateEntity")));
    let entity = json!({"id": "1", "name": "Ada", "description": "first"});
    assert_eq!(
        created,
        vec![entity.clone()],
        "int64 ids are JSON strings in proto3 JSON"
    );

    let get_args = ["-H", bearer.as_str(), "-d", r#"{"id":1}"#];
    let got = messages(&buf_curl(&buf, grpc, &get_args, &method("GetEntity")));
    assert_eq!(got, vec![entity.clone()]);

    let second = r#"{"name":"Grace"}"#;
    let second_args = ["-H", bearer.as_str(), "-d", second];
    messages(&buf_curl(&buf, grpc, &second_args, &method("CreateEntity")));
    let list_args = ["-H", bearer.as_str(), "-d", r#"{"start_id":1,"limit":10}"#];
    let listed = messages(&buf_curl(&buf, grpc, &list_args, &method("ListEntities")));
    assert_eq!(listed, vec![entity, json!({"id": "2", "name": "Grace"})]);

    // buf curl exits with the gRPC code shifted left by three bits.
    let refused = buf_curl(&buf, grpc, &["-d", r#"{"id":1}"#], &method("GetEntity"));
    assert_eq!(
        refused.status.code(),
        Some(16 << 3),
        "UNAUTHENTICATED: {}",
        refused.both()
    );
    let absent_args = ["-H", bearer.as_str(), "-d", r#"{"id":99}"#];
    let absent = buf_curl(&buf, grpc, &absent_args, &method("GetEntity"));
    assert_eq!(
        absent.status.code(),
        Some(5 << 3),
        "NOT_FOUND: {}",
        absent.both()
    );
    assert!(
        absent.both().contains("entity 99 not found"),
        "{}",
        absent.both()
    );
}
