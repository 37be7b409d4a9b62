//! `GET /openapi.json`: the OpenAPI 3.1 document of the REST API, generated
//! from the code so that it cannot drift from what is served:
//! - paths and methods are the router's own table ([`Route::ALL`],
//!   [`Route::operations`]), so a route cannot be served undocumented;
//! - request and response schemas are derived from the types the handlers
//!   read and write ([`super::bodies`]);
//! - limits are the constants the handlers check, or the running
//!   configuration's ([`Settings`]).
//!
//! What each operation means and every status it can answer is one table
//! entry per operation, in `operations.rs`. The document is built once at
//! start ([`document_json`]) and handed to the gateway, which serves it.

mod operations;

use std::time::Duration;

use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, License, OpenApi, OpenApiBuilder, PathsBuilder, Tag,
};

use super::bodies::{
    CreateEntityBody, CreatedBody, EntityBody, ErrorBody, HealthBody, HealthStatus,
};
use super::routes::Route;

/// What the document depends on in the running configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// With `--auth-token`, the entity operations require the bearer scheme.
    pub auth_required: bool,
    /// `--max-body-bytes`: the 413 of a create.
    pub max_body_bytes: usize,
    /// How long a body may take to arrive: the 408 of a create.
    pub body_timeout: Duration,
}

/// The name of the bearer-token security scheme.
pub const BEARER: &str = "bearerAuth";

/// The document, serialized, with what utoipa 5 cannot write:
/// - every documented response header is always sent, so each is marked
///   `required` (utoipa's `Header` has no such field);
/// - an empty query value means the parameter's default, so each query
///   parameter has `allowEmptyValue` (utoipa's `Parameter` has no such field);
/// - a link's fields are spelled as OpenAPI spells them (`operationId`;
///   utoipa's `Link` writes `operation_id`).
pub fn document_json(settings: &Settings) -> Vec<u8> {
    let mut value = serde_json::to_value(document(settings)).unwrap_or_default();
    if let Some(paths) = value.get_mut("paths") {
        fix_up(paths);
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// The document as utoipa builds it.
pub fn document(settings: &Settings) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in Route::ALL {
        let mut item: Option<PathItem> = None;
        for &(method, operation) in route.operations() {
            // A method utoipa cannot name is left out, which the tests notice.
            let Some(method) = http_method(method) else {
                continue;
            };
            let next = PathItem::new(method, operations::describe(route, operation, settings));
            match item.as_mut() {
                Some(item) => item.merge_operations(next),
                None => item = Some(next),
            }
        }
        if let Some(mut item) = item {
            item.description = Some(format!(
                "Other methods answer 405 with `Allow: {}`.",
                route.allow()
            ));
            paths = paths.path(route.pattern(), item);
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("entity-service")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(INFO_DESCRIPTION))
                .license(Some(License::new(env!("CARGO_PKG_LICENSE")))),
        )
        .paths(paths)
        .components(Some(components()))
        .tags(Some([
            tag("entities", "The entity store."),
            tag("operations", "Health and metrics, open without a token."),
            tag(
                "documentation",
                "This document and its page, open without a token.",
            ),
        ]))
        .build()
}

fn http_method(method: &str) -> Option<HttpMethod> {
    Some(match method {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        "OPTIONS" => HttpMethod::Options,
        "HEAD" => HttpMethod::Head,
        "TRACE" => HttpMethod::Trace,
        _ => return None,
    })
}

const INFO_DESCRIPTION: &str = "One entity store (`id`, `name`, `description`) served over gRPC \
and this REST/JSON gateway. Every response carries `X-Request-Id`: the request's own when it is \
1–128 token characters, else a generated one. Errors are `{\"error\": \"…\"}`. With \
`--auth-token`, the entity operations need `Authorization: Bearer <token>`.";

fn tag(name: &str, description: &str) -> Tag {
    let mut tag = Tag::new(name);
    tag.description = Some(description.to_string());
    tag
}

fn components() -> utoipa::openapi::Components {
    ComponentsBuilder::new()
        .schema_from::<CreateEntityBody>()
        .schema_from::<EntityBody>()
        .schema_from::<CreatedBody>()
        .schema_from::<ErrorBody>()
        .schema_from::<HealthBody>()
        .schema_from::<HealthStatus>()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The service's `--auth-token`; required on the entity operations \
                         when it is set.",
                    ))
                    .build(),
            ),
        )
        .build()
}

/// The fix-ups of [`document_json`], on every response under `value`.
fn fix_up(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match (key.as_str(), child) {
                    ("headers", Value::Object(headers)) => {
                        for header in headers.values_mut().filter_map(Value::as_object_mut) {
                            header.insert("required".into(), Value::Bool(true));
                        }
                    }
                    ("parameters", Value::Array(parameters)) => {
                        for parameter in parameters.iter_mut().filter_map(Value::as_object_mut) {
                            if parameter.get("in").and_then(Value::as_str) == Some("query") {
                                parameter.insert("allowEmptyValue".into(), Value::Bool(true));
                            }
                        }
                    }
                    ("links", Value::Object(links)) => {
                        for link in links.values_mut().filter_map(Value::as_object_mut) {
                            for (from, to) in [
                                ("operation_id", "operationId"),
                                ("operation_ref", "operationRef"),
                                ("request_body", "requestBody"),
                            ] {
                                if let Some(field) = link.remove(from) {
                                    link.insert(to.into(), field);
                                }
                            }
                        }
                    }
                    (_, child) => fix_up(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_up),
        _ => {}
    }
}
