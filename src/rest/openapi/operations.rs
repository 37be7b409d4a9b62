//! Each operation of the document: what it means, its parameters, and
//! every status it can answer, with the body and headers of each.

use utoipa::openapi::header::Header;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    Operation as ApiOperation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::ToSchema;

use super::BEARER;
use crate::rest::bodies::{CreateEntityBody, CreatedBody, EntityBody, ErrorBody, HealthBody};
use crate::rest::docs::{FILE_MEDIA_TYPES, OTHER_MEDIA_TYPE};
use crate::rest::routes::{
    Operation, Route, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, METRICS_CONTENT_TYPE,
};
use crate::rest::server::MAX_HEAD_BYTES;

/// One operation of the document.
pub(super) fn describe(route: Route, operation: Operation, auth_required: bool) -> ApiOperation {
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
            "`start_id` is not an integer, or `limit` is not an integer from 1 to \
             {MAX_LIST_LIMIT} (integers in decimal, without `+` or leading zeros); a \
             parameter is given twice; or the query has a `%` without two hex digits, or \
             does not decode to UTF-8."
        ),
        (Operation::GetEntity, 400) => "`id` is not an integer ≥ 1 (in decimal, without \
            `+` or leading zeros; percent escapes are decoded)."
            .into(),
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
