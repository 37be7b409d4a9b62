//! The response headers the document promises: each one marked `required`
//! is sent, on every answer it is documented for.

use super::document;
use crate::helpers::{http, TestService};

#[test]
fn every_documented_response_header_is_sent() {
    let service = TestService::start();
    let document = document(service.http_addr);
    let create = &document["paths"]["/entities"]["post"]["responses"]["201"]["headers"];
    let created = http::post(service.http_addr, "/entities", r#"{"name":"h"}"#);
    for (name, header) in create.as_object().expect("201 headers") {
        assert_eq!(header["required"], true, "{name}");
        assert!(created.header(name).is_some(), "201 lacks {name}");
    }
    let location = created.header("Location").expect("Location");
    assert_eq!(location, format!("/entities/{}", created.json()["id"]));
    let missing = http::get(service.http_addr, "/entities/999");
    let headers = &document["paths"]["/entities/{id}"]["get"]["responses"]["404"]["headers"];
    for (name, _) in headers.as_object().expect("404 headers") {
        assert!(missing.header(name).is_some(), "404 lacks {name}");
    }
}

#[test]
fn a_401_from_the_grpc_upstream_carries_the_documented_challenge() {
    let upstream = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let upstream_addr = upstream.grpc_addr.to_string();
    let gateway = TestService::start_with(|c| c.grpc_upstream = Some(upstream_addr));
    let document = document(gateway.http_addr);
    let documented = &document["paths"]["/entities/{id}"]["get"]["responses"]["401"]["headers"];
    let refused = http::get(gateway.http_addr, "/entities/1");
    assert_eq!(
        refused.status,
        401,
        "the upstream wants a token: {}",
        refused.text()
    );
    for (name, _) in documented.as_object().expect("401 headers") {
        assert!(refused.header(name).is_some(), "401 lacks {name}");
    }
    assert_eq!(refused.header("WWW-Authenticate"), Some("Bearer"));
}
