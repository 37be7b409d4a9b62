//! `/openapi.json` against the router, through real HTTP: every documented
//! operation is served, every route served is documented, other methods
//! answer 405 with exactly the documented ones in `Allow`, and the limits,
//! security and links the document states are what the service does.
//! `/docs` loads only from this server.

mod docs_page;
mod headers;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::helpers::{http, TestService};

/// Methods a client may try on any path; `QUERY` is the newest standard one.
const PROBE_METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "QUERY",
];

/// The document this service serves.
pub fn document(addr: SocketAddr) -> Value {
    let response = http::get(addr, "/openapi.json");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    response.json()
}

/// Every documented (path, methods upper-case).
fn documented(document: &Value) -> Vec<(String, BTreeSet<String>)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("path item")
                .keys()
                .filter(|key| PROBE_METHODS.contains(&key.to_uppercase().as_str()))
                .map(|key| key.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// A concrete path for a documented template: `{id}` is an existing entity.
fn concrete(template: &str, id: i64) -> String {
    template
        .replace("{id}", &id.to_string())
        .replace("{file}", "swagger-ui.css")
}

/// Whether a concrete path matches a documented template (`{x}` = one segment).
fn matches_template(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template.iter().zip(&path).all(|(t, p)| {
            if t.starts_with('{') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

fn request(addr: SocketAddr, method: &str, path: &str) -> http::Response {
    let body: &[u8] = if method == "POST" {
        br#"{"name":"probe"}"#
    } else {
        b""
    };
    http::request(addr, method, path, &[], body)
}

#[test]
fn every_documented_operation_is_served_and_other_methods_get_405_with_allow() {
    let service = TestService::start();
    let id = service.seed("Ada", "first");
    let document = document(service.http_addr);
    let documented = documented(&document);
    assert_eq!(documented.len(), 9, "{documented:?}");
    for (template, methods) in &documented {
        let path = concrete(template, id);
        for method in PROBE_METHODS {
            let response = request(service.http_addr, method, &path);
            if methods.contains(method) {
                assert!(
                    (200..300).contains(&response.status),
                    "{method} {path} (documented) answered {}: {}",
                    response.status,
                    response.text()
                );
                let status = response.status.to_string();
                let operation = &document["paths"][template][method.to_lowercase()];
                assert!(
                    operation["responses"][&status].is_object(),
                    "{method} {template}: {status} is not documented"
                );
            } else {
                assert_eq!(response.status, 405, "{method} {path}: {}", response.text());
                let allow: BTreeSet<String> = response
                    .header("Allow")
                    .expect("a 405 names the allowed methods")
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .collect();
                assert_eq!(&allow, methods, "Allow of {method} {path}");
            }
        }
        if methods.contains("GET") {
            let mut connection = http::Connection::open(service.http_addr);
            connection.send("HEAD", &path, &[], b"");
            let head = connection.read_head().expect("a HEAD answer");
            assert_eq!(head.status, 200, "HEAD {path} is served as GET");
        }
    }
}

#[test]
fn every_route_the_router_serves_is_documented() {
    let service = TestService::start();
    let id = service.seed("Ada", "first");
    let documented = documented(&document(service.http_addr));
    let candidates = [
        "/",
        "//",
        "/entities",
        "/entities/",
        "/entities/1/x",
        "/entities//1",
        "/Entities",
        "/1",
        "/+1",
        "/1/2",
        "/x",
        "/favicon.ico",
        "/health",
        "/healthz/",
        "/healthz/x",
        "/metrics/",
        "/openapi.yaml",
        "/openapi.json/",
        "/docs/",
        "/docs/x/y",
        "/docs/index.html",
        "/docs/swagger-ui-bundle.js",
        "/api/entities",
        "/%2e%2e/entities",
    ];
    for path in candidates
        .iter()
        .map(|p| p.to_string())
        .chain([format!("/entities/{id}")])
    {
        let template = documented.iter().find(|(t, _)| matches_template(t, &path));
        for method in PROBE_METHODS {
            let response = request(service.http_addr, method, &path);
            // Anything but "no route" (404) comes from a documented path.
            assert!(
                response.status == 404 || template.is_some(),
                "{method} {path} answered {} but matches no documented path",
                response.status
            );
        }
    }
}

#[test]
fn the_document_and_the_routers_table_list_the_same_operations() {
    use entity_service::rest::routes::Route;
    let service = TestService::start();
    let documented: BTreeSet<(String, BTreeSet<String>)> = documented(&document(service.http_addr))
        .into_iter()
        .collect();
    let table: BTreeSet<(String, BTreeSet<String>)> = Route::ALL
        .iter()
        .map(|route| {
            let methods = route.operations().iter().map(|(m, _)| m.to_string());
            (route.pattern().to_string(), methods.collect())
        })
        .collect();
    assert_eq!(documented, table);
}

#[test]
fn the_document_states_the_limits_the_service_enforces() {
    let service = TestService::start();
    let document = document(service.http_addr);
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let body = &document["components"]["schemas"]["CreateEntityBody"];
    assert_eq!(body["required"], json!(["name"]));
    let max_name = body["properties"]["name"]["maxLength"]
        .as_u64()
        .expect("name maxLength");
    let max_description = body["properties"]["description"]["maxLength"]
        .as_u64()
        .expect("description maxLength");
    assert_eq!(
        max_name as usize,
        entity_service::validation::MAX_NAME_CHARS
    );
    for (name, description, status) in [
        ("é".repeat(max_name as usize), String::new(), 201),
        ("é".repeat(max_name as usize + 1), String::new(), 400),
        ("x".into(), "ж".repeat(max_description as usize), 201),
        ("x".into(), "ж".repeat(max_description as usize + 1), 400),
        ("\u{3000}\t\u{85}".into(), String::new(), 400),
    ] {
        let request = json!({"name": name, "description": description}).to_string();
        let response = http::post(service.http_addr, "/entities", &request);
        assert_eq!(response.status, status, "{}", response.text());
    }

    let parameters = document["paths"]["/entities"]["get"]["parameters"]
        .as_array()
        .expect("list parameters");
    let limit = parameters
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit");
    assert_eq!(limit["allowEmptyValue"], true);
    let (low, high) = (
        limit["schema"]["minimum"].as_i64(),
        limit["schema"]["maximum"].as_i64(),
    );
    assert_eq!((low, high), (Some(1), Some(1000)));
    for (query, status) in [("limit=1", 200), ("limit=1000", 200), ("limit=", 200)]
        .into_iter()
        .chain([("limit=0", 400), ("limit=1001", 400), ("limit=x", 400)])
    {
        let response = http::get(service.http_addr, &format!("/entities?{query}"));
        assert_eq!(response.status, status, "{query}: {}", response.text());
    }
    let id = &document["paths"]["/entities/{id}"]["get"]["parameters"][0];
    assert_eq!(
        (id["name"].as_str(), id["in"].as_str()),
        (Some("id"), Some("path"))
    );
    assert_eq!(id["schema"]["minimum"], 1);
    assert_eq!(http::get(service.http_addr, "/entities/0").status, 400);
}

#[test]
fn security_is_required_exactly_where_the_service_checks_the_token() {
    let open = TestService::start();
    let open_document = document(open.http_addr);
    let scheme = &open_document["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    for (_, item) in open_document["paths"].as_object().expect("paths") {
        for (_, operation) in item.as_object().expect("path item") {
            assert!(operation.get("security").is_none(), "no token, no security");
        }
    }

    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let id = service.seed("Ada", "first");
    let document = document(service.http_addr);
    let mut protected = 0;
    for (template, methods) in documented(&document) {
        for method in methods {
            let operation = &document["paths"][&template][method.to_lowercase()];
            let path = concrete(&template, id);
            let response = request(service.http_addr, &method, &path);
            if operation["security"] == json!([{"bearerAuth": []}]) {
                protected += 1;
                assert_eq!(response.status, 401, "{method} {path} without a token");
                assert_eq!(response.header("WWW-Authenticate"), Some("Bearer"));
                let bearer = [("Authorization", "Bearer s3cret")];
                let body: &[u8] = if method == "POST" {
                    br#"{"name":"a"}"#
                } else {
                    b""
                };
                let allowed = http::request(service.http_addr, &method, &path, &bearer, body);
                assert!(
                    (200..300).contains(&allowed.status),
                    "{method} {path} with the token"
                );
            } else {
                assert!(operation.get("security").is_none(), "{method} {template}");
                assert_eq!(response.status, 200, "{method} {path} is open");
            }
        }
    }
    assert_eq!(protected, 5, "the five entity operations need the token");
}

#[test]
fn the_create_links_lead_to_the_new_entity() {
    let service = TestService::start();
    let document = document(service.http_addr);
    let operations: Vec<(String, String, &Value)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("path item");
            item.iter()
                .filter(|(_, op)| op.get("operationId").is_some())
                .map(move |(method, op)| (path.clone(), method.to_uppercase(), op))
        })
        .collect();
    for (path, _, create) in operations.iter().filter(|(_, m, _)| m == "POST") {
        let created = http::post(service.http_addr, path, r#"{"name":"linked"}"#);
        assert_eq!(created.status, 201, "POST {path}");
        let new_id = created.json()["id"].as_i64().expect("id");
        let links = create["responses"]["201"]["links"]
            .as_object()
            .expect("links");
        assert!(
            links.len() >= 2,
            "POST {path} links to reading what it made"
        );
        for (name, link) in links {
            let target = link["operationId"].as_str().expect("operationId");
            let (target_path, target_method, _) = operations
                .iter()
                .find(|(_, _, op)| op["operationId"] == target)
                .unwrap_or_else(|| panic!("link {name} names {target}, which exists"));
            assert_eq!(target_method, "GET");
            let (parameter, expression) = link["parameters"]
                .as_object()
                .and_then(|p| p.iter().next())
                .expect("one parameter");
            assert_eq!(expression, "$response.body#/id");
            let url = if target_path.contains(&format!("{{{parameter}}}")) {
                target_path.replace(&format!("{{{parameter}}}"), &new_id.to_string())
            } else {
                format!("{target_path}?{parameter}={new_id}")
            };
            let response = http::get(service.http_addr, &url);
            assert_eq!(response.status, 200, "{name}: GET {url}");
            let first = match response.json() {
                Value::Array(items) => items.into_iter().next().expect("listed"),
                entity => entity,
            };
            assert_eq!(first["id"], new_id, "{name}: GET {url}");
            assert_eq!(first["name"], "linked");
        }
    }
}
