//! `GET /openapi.json`: the OpenAPI 3.1 document of the REST API, generated
//! from the code so that it cannot drift from what is served:
//! - paths and methods are the router's own table ([`Route::ALL`],
//!   [`Route::operations`]), so a route cannot be served undocumented;
//! - request and response schemas are derived from the types the handlers
//!   read and write ([`super::bodies`]);
//! - limits are the constants the handlers check.
//!
//! What each operation means and every status it can answer is written here,
//! once per [`Operation`]. The document depends on one setting: with
//! `--auth-token`, the entity operations require the bearer scheme.

use serde_json::Value;
use utoipa::openapi::header::Header;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation as ApiOperation, OperationBuilder, ParameterBuilder, ParameterIn,
    PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, License, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, Schema, Tag,
};
use utoipa::ToSchema;

use super::bodies::{
    CreateEntityBody, CreatedBody, EntityBody, ErrorBody, HealthBody, HealthStatus,
};
use super::docs::{FILE_MEDIA_TYPES, OTHER_MEDIA_TYPE};
use super::routes::{Operation, Route, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, METRICS_CONTENT_TYPE};
use super::server::MAX_HEAD_BYTES;

/// The name of the bearer-token security scheme.
pub const BEARER: &str = "bearerAuth";

/// The document, serialized, with what utoipa 5 cannot write:
/// - every documented response header is always sent, so each is marked
///   `required` (utoipa's `Header` has no such field);
/// - an empty query value means the parameter's default, so each query
///   parameter has `allowEmptyValue` (utoipa's `Parameter` has no such field);
/// - a link's fields are spelled as OpenAPI spells them (`operationId`;
///   utoipa's `Link` writes `operation_id`).
pub fn document_json(auth_required: bool) -> Vec<u8> {
    let mut value = serde_json::to_value(document(auth_required)).unwrap_or_default();
    if let Some(paths) = value.get_mut("paths") {
        fix_up(paths);
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// The document as utoipa builds it.
pub fn document(auth_required: bool) -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in Route::ALL {
        let mut item: Option<PathItem> = None;
        for &(method, operation) in route.operations() {
            let method = match method {
                "POST" => HttpMethod::Post,
                _ => HttpMethod::Get,
            };
            let next = PathItem::new(method, describe(route, operation, auth_required));
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

/// One operation of the document.
fn describe(route: Route, operation: Operation, auth_required: bool) -> ApiOperation {
    let alias = matches!(route, Route::Root | Route::RootEntity(_));
    let (id, tag, summary) = match operation {
        Operation::CreateEntity if alias => (
            "createEntityAtRoot",
            "entities",
            "Create an entity (alias of POST /entities)",
        ),
        Operation::CreateEntity => ("createEntity", "entities", "Create an entity"),
        Operation::ListEntities => ("listEntities", "entities", "List entities in id order"),
        Operation::GetEntity if alias => (
            "getEntityAtRoot",
            "entities",
            "Get an entity (alias of GET /entities/{id})",
        ),
        Operation::GetEntity => ("getEntity", "entities", "Get an entity"),
        Operation::Health => ("getHealth", "operations", "Whether the store is serving"),
        Operation::Metrics => ("getMetrics", "operations", "Prometheus metrics"),
        Operation::OpenApi => ("getOpenApi", "documentation", "This document"),
        Operation::Docs => ("getDocs", "documentation", "This API's page (Swagger UI)"),
        Operation::DocsFile => ("getDocsFile", "documentation", "A file of the page"),
    };
    let mut builder = OperationBuilder::new()
        .operation_id(Some(id))
        .tag(tag)
        .summary(Some(summary));
    builder = match operation {
        Operation::CreateEntity => builder
            .description(Some(
                "The body is read as JSON whatever its Content-Type. Answers the new id \
                 with `Location: /entities/{id}`.",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        json_of(schema_ref::<CreateEntityBody>()),
                    )
                    .build(),
            ))
            .response("201", created_response()),
        Operation::ListEntities => builder
            .parameter(start_id_parameter())
            .parameter(limit_parameter())
            .response(
                "200",
                json_response(
                    "Up to `limit` entities, in id order from `max(start_id, 1)`.",
                    ArrayBuilder::new().items(schema_ref::<EntityBody>()).into(),
                ),
            ),
        Operation::GetEntity => builder.parameter(id_parameter()).response(
            "200",
            json_response("The entity.", schema_ref::<EntityBody>()),
        ),
        Operation::Health => builder
            .description(Some(
                "Asks the store's gRPC health check (`grpc.health.v1`) within the deadline.",
            ))
            .response(
                "200",
                json_response("`SERVING`.", schema_ref::<HealthBody>()),
            )
            .response(
                "503",
                json_response(
                    "`NOT_SERVING`: the service is stopping, or the gRPC upstream does not answer.",
                    schema_ref::<HealthBody>(),
                ),
            ),
        Operation::Metrics => builder.response(
            "200",
            response_with(
                "The metrics in the Prometheus text format.",
                METRICS_CONTENT_TYPE,
                Type::String,
            ),
        ),
        Operation::OpenApi => builder.response(
            "200",
            response_with(
                "This OpenAPI 3.1 document.",
                "application/json",
                Type::Object,
            ),
        ),
        Operation::Docs => builder.response(
            "200",
            response_with(
                "Swagger UI over `/openapi.json`, from files compiled into the binary.",
                "text/html; charset=utf-8",
                Type::String,
            ),
        ),
        Operation::DocsFile => {
            let mut ok = ResponseBuilder::new()
                .description("The file.")
                .header("X-Request-Id", request_id_header());
            for media_type in FILE_MEDIA_TYPES
                .iter()
                .map(|&(_, media_type)| media_type)
                .chain([OTHER_MEDIA_TYPE])
            {
                ok = ok.content(media_type, Content::new(Some(string_schema())));
            }
            builder
                .parameter(file_parameter())
                .response("200", ok.build())
        }
    };
    for &status in error_statuses(operation) {
        builder = builder.response(
            status.to_string(),
            error_response(status, error_description(operation, status)),
        );
    }
    if auth_required && !operation.is_open() {
        builder = builder.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    }
    builder.build()
}

/// Every error status an operation can answer.
fn error_statuses(operation: Operation) -> &'static [u16] {
    match operation {
        Operation::CreateEntity => &[400, 401, 408, 413, 429, 431, 500, 503, 504],
        Operation::ListEntities => &[400, 401, 429, 431, 500, 503, 504],
        Operation::GetEntity => &[400, 401, 404, 429, 431, 500, 503, 504],
        Operation::DocsFile => &[404, 431, 500],
        Operation::Health | Operation::Metrics | Operation::OpenApi | Operation::Docs => {
            &[431, 500]
        }
    }
}

/// What an error status means for an operation.
fn error_description(operation: Operation, status: u16) -> String {
    match (operation, status) {
        (Operation::CreateEntity, 400) => "The body is not JSON, not an object, or its `name` or \
            `description` is missing, of the wrong type, blank or too long; or it ended before \
            its Content-Length."
            .into(),
        (Operation::ListEntities, 400) => format!(
            "`start_id` is not an integer, or `limit` is not an integer from 1 to {MAX_LIST_LIMIT}."
        ),
        (Operation::GetEntity, 400) => "`id` is not an integer ≥ 1.".into(),
        (Operation::GetEntity, 404) => "No entity has this id (on `/{id}`, also a segment \
            that is not a number: no route matches it)."
            .into(),
        (Operation::DocsFile, 404) => "The page has no such file.".into(),
        (_, 401) => "The bearer token is missing or wrong (with `--auth-token`, or when the \
            gRPC upstream requires one)."
            .into(),
        (_, 408) => "The body did not arrive within 10 s.".into(),
        (_, 413) => "The body is larger than `--max-body-bytes` (64 KiB by default).".into(),
        (_, 429) => "The gRPC upstream answered RESOURCE_EXHAUSTED.".into(),
        (_, 431) => format!(
            "The request line and headers are larger than {} KiB.",
            MAX_HEAD_BYTES / 1024
        ),
        (_, 500) => "The handler failed unexpectedly.".into(),
        (_, 503) => "The gRPC upstream cannot be reached, or the service is stopping.".into(),
        (_, 504) => "The gRPC upstream did not answer within `--deadline-ms`.".into(),
        _ => "Error.".into(),
    }
}

fn id_parameter() -> ParameterBuilder {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The entity's id."))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .maximum(Some(i64::MAX)),
        ))
}

fn start_id_parameter() -> ParameterBuilder {
    ParameterBuilder::new()
        .name("start_id")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(
            "The first id to list; below 1 means 1. Absent or empty: 1.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(i64::MIN))
                .maximum(Some(i64::MAX))
                .default(Some(1.into())),
        ))
}

fn limit_parameter() -> ParameterBuilder {
    ParameterBuilder::new()
        .name("limit")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(format!(
            "At most this many entities. Absent or empty: {DEFAULT_LIST_LIMIT}."
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_LIST_LIMIT))
                .default(Some(DEFAULT_LIST_LIMIT.into())),
        ))
}

fn file_parameter() -> ParameterBuilder {
    ParameterBuilder::new()
        .name("file")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("A file name, e.g. `swagger-ui.css`."))
        .schema(Some(string_schema()))
        .example(Some("swagger-ui.css".into()))
}

fn schema_ref<'a, T: ToSchema + 'a>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn json_of(schema: RefOr<Schema>) -> Content {
    Content::new(Some(schema))
}

/// The `X-Request-Id` every response carries.
fn request_id_header() -> Header {
    Header::builder()
        .schema(string_schema().min_length(Some(1)).max_length(Some(128)))
        .description(Some(
            "The request's `X-Request-Id` when it is 1–128 token characters, else a generated \
             id; also passed to the gRPC call and logged.",
        ))
        .build()
}

fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .header("X-Request-Id", request_id_header())
        .content("application/json", json_of(schema))
        .build()
}

fn response_with(description: &str, media_type: &str, body: Type) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .header("X-Request-Id", request_id_header())
        .content(
            media_type,
            Content::new(Some(ObjectBuilder::new().schema_type(body))),
        )
        .build()
}

fn error_response(status: u16, description: String) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new()
        .description(description)
        .header("X-Request-Id", request_id_header())
        .content("application/json", json_of(schema_ref::<ErrorBody>()));
    if status == 401 {
        response = response.header(
            "WWW-Authenticate",
            Header::builder()
                .schema(string_schema().enum_values(Some(["Bearer"])))
                .description(Some("`Bearer`."))
                .build(),
        );
    }
    response.build()
}

/// 201 with `Location`, and the links that lead from a create to reading
/// the new entity (what stateful API testers follow).
fn created_response() -> utoipa::openapi::Response {
    let from_id = |operation_id: &str, parameter: &str| {
        LinkBuilder::new()
            .operation_id(operation_id)
            .parameter(parameter, "$response.body#/id")
            .build()
    };
    ResponseBuilder::new()
        .description("Created: the new entity's id.")
        .header("X-Request-Id", request_id_header())
        .header(
            "Location",
            Header::builder()
                .schema(string_schema().pattern(Some("^/entities/[1-9][0-9]*$")))
                .description(Some("`/entities/{id}` of the new entity."))
                .build(),
        )
        .content("application/json", json_of(schema_ref::<CreatedBody>()))
        .link("GetEntity", from_id("getEntity", "id"))
        .link("GetEntityAtRoot", from_id("getEntityAtRoot", "id"))
        .link("ListFromEntity", from_id("listEntities", "start_id"))
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
