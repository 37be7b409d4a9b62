//! Each operation of the document: what it means, its parameters, and
//! every status it can answer, with the body and headers of each.

use std::time::Duration;
use utoipa::openapi::header::Header;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    Operation as ApiOperation, OperationBuilder, ParameterBuilder, ParameterIn,
};

use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::ToSchema;

use super::{Settings, BEARER};
use crate::rest::bodies::{CreateEntityBody, CreatedBody, EntityBody, ErrorBody, HealthBody};
use crate::rest::docs::{FILE_MEDIA_TYPES, OTHER_MEDIA_TYPE};
use crate::rest::limits::{DEFAULT_LIST_LIMIT, MAX_HEAD_BYTES, MAX_LIST_LIMIT};
use crate::rest::routes::{Operation, Route, METRICS_CONTENT_TYPE};

/// One operation of the document.
pub(super) fn describe(route: Route, operation: Operation, settings: &Settings) -> ApiOperation {
    let alias = matches!(route, Route::Root | Route::RootEntity(_));
    let entry = entry(operation, alias, settings);
    let mut builder = OperationBuilder::new()
        .operation_id(Some(entry.id))
        .tag(entry.tag)
        .summary(Some(entry.summary))
        .description(entry.description);
    for parameter in entry.parameters {
        builder = builder.parameter(parameter);
    }
    if let Some(body) = entry.body {
        builder = builder.request_body(Some(body));
    }
    for (status, response) in entry.responses {
        builder = builder.response(status.to_string(), response);
    }
    if settings.auth_required && !operation.is_open() {
        builder = builder.security(SecurityRequirement::new(BEARER, Vec::<String>::new()));
    }
    builder.build()
}

/// What the document says of one operation: its table entry.
struct Entry {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    parameters: Vec<ParameterBuilder>,
    body: Option<RequestBody>,
    /// Every status it answers, success first, each with its body and headers.
    responses: Vec<(u16, utoipa::openapi::Response)>,
}

impl Entry {
    fn new(id: &'static str, tag: &'static str, summary: &'static str) -> Self {
        Self {
            id,
            tag,
            summary,
            description: None,
            parameters: Vec::new(),
            body: None,
            responses: Vec::new(),
        }
    }

    fn description(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    fn parameter(mut self, parameter: ParameterBuilder) -> Self {
        self.parameters.push(parameter);
        self
    }

    fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }

    fn answers(mut self, status: u16, response: utoipa::openapi::Response) -> Self {
        self.responses.push((status, response));
        self
    }

    /// The error statuses: those with a meaning of this operation's own,
    /// then those whose meaning every operation shares ([`shared_error`]).
    fn errors(mut self, own: &[(u16, String)], shared: &[u16], settings: &Settings) -> Self {
        let shared = shared
            .iter()
            .map(|&status| (status, shared_error(status, settings)));
        let mut errors: Vec<(u16, String)> = own.iter().cloned().chain(shared).collect();
        errors.sort_by_key(|&(status, _)| status);
        for (status, meaning) in errors {
            self = self.answers(status, error_response(status, meaning));
        }
        self
    }
}

/// The table: one entry per operation.
fn entry(operation: Operation, alias: bool, settings: &Settings) -> Entry {
    /// The statuses every entity operation shares: a token, a large head,
    /// and the gRPC upstream's answers.
    const ENTITY: [u16; 6] = [401, 429, 431, 500, 503, 504];
    let entity_errors =
        |extra: &[u16]| -> Vec<u16> { extra.iter().chain(&ENTITY).copied().collect() };
    match operation {
        Operation::CreateEntity => {
            let (id, summary) = if alias {
                (
                    "createEntityAtRoot",
                    "Create an entity (alias of POST /entities)",
                )
            } else {
                ("createEntity", "Create an entity")
            };
            Entry::new(id, "entities", summary)
                .description(
                    "The body is read as JSON whatever its Content-Type. Answers the new id \
                     with `Location: /entities/{id}`.",
                )
                .body(json_body(schema_ref::<CreateEntityBody>()))
                .answers(201, created_response())
                .errors(
                    &[(400, CREATE_400.into())],
                    &entity_errors(&[408, 413]),
                    settings,
                )
        }
        Operation::ListEntities => {
            Entry::new("listEntities", "entities", "List entities in id order")
                .parameter(start_id_parameter())
                .parameter(limit_parameter())
                .answers(
                    200,
                    json_response(
                        "Up to `limit` entities, in id order from `max(start_id, 1)`.",
                        ArrayBuilder::new().items(schema_ref::<EntityBody>()).into(),
                    ),
                )
                .errors(&[(400, list_400())], &ENTITY, settings)
        }
        Operation::GetEntity => {
            let (id, summary) = if alias {
                (
                    "getEntityAtRoot",
                    "Get an entity (alias of GET /entities/{id})",
                )
            } else {
                ("getEntity", "Get an entity")
            };
            Entry::new(id, "entities", summary)
                .parameter(id_parameter())
                .answers(
                    200,
                    json_response("The entity.", schema_ref::<EntityBody>()),
                )
                .errors(
                    &[(400, GET_400.into()), (404, GET_404.into())],
                    &ENTITY,
                    settings,
                )
        }
        Operation::Health => Entry::new("getHealth", "operations", "Whether the store is serving")
            .description(
                "Asks the store's gRPC health check (`grpc.health.v1`) within the deadline.",
            )
            .answers(200, json_response("`SERVING`.", schema_ref::<HealthBody>()))
            .answers(
                503,
                json_response(
                    "`NOT_SERVING`: the service is stopping, or the gRPC upstream does not answer.",
                    schema_ref::<HealthBody>(),
                ),
            )
            .errors(&[], &[431, 500], settings),
        Operation::Metrics => Entry::new("getMetrics", "operations", "Prometheus metrics")
            .answers(
                200,
                response_with(
                    "The metrics in the Prometheus text format.",
                    METRICS_CONTENT_TYPE,
                    Type::String,
                ),
            )
            .errors(&[], &[431, 500], settings),
        Operation::OpenApi => Entry::new("getOpenApi", "documentation", "This document")
            .answers(
                200,
                response_with(
                    "This OpenAPI 3.1 document.",
                    "application/json",
                    Type::Object,
                ),
            )
            .errors(&[], &[431, 500], settings),
        Operation::Docs => Entry::new("getDocs", "documentation", "This API's page (Swagger UI)")
            .answers(
                200,
                response_with(
                    "Swagger UI over `/openapi.json`, from files compiled into the binary.",
                    "text/html; charset=utf-8",
                    Type::String,
                ),
            )
            .errors(&[], &[431, 500], settings),
        Operation::DocsFile => Entry::new("getDocsFile", "documentation", "A file of the page")
            .parameter(file_parameter())
            .answers(200, docs_file_response())
            .errors(
                &[(404, "The page has no such file.".into())],
                &[431, 500],
                settings,
            ),
    }
}

const CREATE_400: &str = "The body is not JSON, not an object, or its `name` or \
    `description` is missing, of the wrong type, blank or too long; or it ended before \
    its Content-Length.";
const GET_400: &str = "`id` is not an integer ≥ 1 (in decimal, without `+` or leading zeros; \
    percent escapes are decoded).";
const GET_404: &str = "No entity has this id (on `/{id}`, also a segment that is not a \
    number: no route matches it).";

fn list_400() -> String {
    format!(
        "`start_id` is not an integer, or `limit` is not an integer from 1 to \
         {MAX_LIST_LIMIT} (integers in decimal, without `+` or leading zeros); a parameter \
         is given twice; or the query has a `%` without two hex digits, or does not decode \
         to UTF-8."
    )
}

/// What an error status means wherever it is answered, limits filled in
/// from the running configuration.
fn shared_error(status: u16, settings: &Settings) -> String {
    match status {
        401 => "The bearer token is missing or wrong (with `--auth-token`, or when the \
            gRPC upstream requires one)."
            .into(),
        408 => format!(
            "The body did not arrive within {}.",
            seconds(settings.body_timeout)
        ),
        413 => format!(
            "The body is larger than {} bytes (`--max-body-bytes`).",
            settings.max_body_bytes
        ),
        429 => "The gRPC upstream answered RESOURCE_EXHAUSTED.".into(),
        431 => format!(
            "The request line and headers are larger than {} KiB.",
            MAX_HEAD_BYTES / 1024
        ),
        500 => "The handler failed unexpectedly.".into(),
        503 => "The gRPC upstream cannot be reached, or the service is stopping.".into(),
        504 => "The gRPC upstream did not answer within `--deadline-ms`.".into(),
        _ => "Error.".into(),
    }
}

/// A duration as people write it: `10 s`, `1.5 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

fn docs_file_response() -> utoipa::openapi::Response {
    let mut ok = response_base("The file.");
    for media_type in FILE_MEDIA_TYPES
        .iter()
        .map(|&(_, media_type)| media_type)
        .chain([OTHER_MEDIA_TYPE])
    {
        ok = ok.content(media_type, Content::new(Some(string_schema())));
    }
    ok.build()
}

fn json_body(schema: RefOr<Schema>) -> RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", json_of(schema))
        .build()
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

/// Every response: its description and the `X-Request-Id` it carries.
fn response_base(description: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .header("X-Request-Id", request_id_header())
}

fn json_response(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    response_base(description)
        .content("application/json", json_of(schema))
        .build()
}

fn response_with(description: &str, media_type: &str, body: Type) -> utoipa::openapi::Response {
    response_base(description)
        .content(
            media_type,
            Content::new(Some(ObjectBuilder::new().schema_type(body))),
        )
        .build()
}

fn error_response(status: u16, description: String) -> utoipa::openapi::Response {
    let mut response =
        response_base(&description).content("application/json", json_of(schema_ref::<ErrorBody>()));
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
    response_base("Created: the new entity's id.")
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
