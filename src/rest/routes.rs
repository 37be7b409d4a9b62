//! Routing and handlers: from method + URL (+ body) to a [`Reply`]. Pure of
//! I/O except for reading the body through [`BodySource`], so it can be
//! exercised without sockets.

use std::sync::Arc;

use super::backend::Backend;
use super::bodies::{read_object, CreateEntityBody, HealthBody, HealthStatus};
use super::limits::{DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use super::reply::Reply;
use super::{docs, query};
use crate::auth::Auth;
use crate::call_metadata::CallMetadata;
use crate::metrics::Metrics;

/// The media type of `/metrics`: the Prometheus text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The parts of a request that routing needs.
pub struct Incoming<'a> {
    pub method: &'a str,
    /// Where the request goes, matched once (the access log and the
    /// metrics label it by the same route).
    pub target: Target<'a>,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The sanitised request id.
    pub request_id: &'a str,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("request body took too long to arrive")]
    TooSlow,
    #[error("cannot read request body: {0}")]
    Io(String),
}

/// Reads a request body, at most `limit` bytes.
pub trait BodySource {
    fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError>;
}

impl BodySource for &[u8] {
    fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        Ok(self.to_vec())
    }
}

/// A request's path, query and the route its path matches.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub path: &'a str,
    /// What follows the first `?`, empty without one.
    pub query: &'a str,
    pub route: Route<'a>,
}

impl<'a> Target<'a> {
    /// Splits a request URL (path and query, as sent) and matches its path.
    pub fn of(url: &'a str) -> Self {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Self {
            path,
            query,
            route: Route::of(path),
        }
    }
}

/// A route, as matched from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/entities`
    Entities,
    /// `/entities/{id}`
    Entity(&'a str),
    /// `/` (seed alias of `/entities` for POST)
    Root,
    /// `/{id}` (seed alias of `/entities/{id}`)
    RootEntity(&'a str),
    /// `/healthz`, open without a token
    Healthz,
    /// `/metrics`, open without a token
    Metrics,
    /// `/openapi.json`, the API's description, open without a token
    OpenApi,
    /// `/docs`, the API's browsable page, open without a token
    Docs,
    /// `/docs/{file}`, the page's scripts and styles
    DocsFile(&'a str),
    Unknown,
}

/// What a request runs once its route and method are known: one entry per
/// operation of the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateEntity,
    ListEntities,
    GetEntity,
    Health,
    Metrics,
    OpenApi,
    Docs,
    DocsFile,
}

impl Operation {
    /// Whether it is served without a token.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Operation::CreateEntity | Operation::ListEntities | Operation::GetEntity
        )
    }
}

impl<'a> Route<'a> {
    /// Every route, parameters as `{name}`: the one path list the router
    /// serves and the OpenAPI document describes.
    pub const ALL: [Route<'static>; 9] = [
        Route::Entities,
        Route::Entity("{id}"),
        Route::Root,
        Route::RootEntity("{id}"),
        Route::Healthz,
        Route::Metrics,
        Route::OpenApi,
        Route::Docs,
        Route::DocsFile("{file}"),
    ];

    /// Matches a path (without query).
    pub fn of(path: &'a str) -> Self {
        match path {
            "/" => Route::Root,
            "/entities" => Route::Entities,
            "/healthz" => Route::Healthz,
            "/metrics" => Route::Metrics,
            "/openapi.json" => Route::OpenApi,
            "/docs" => Route::Docs,
            _ => {
                if let Some(id) = path.strip_prefix("/entities/") {
                    if is_segment(id) {
                        return Route::Entity(id);
                    }
                } else if let Some(file) = path.strip_prefix("/docs/") {
                    if is_segment(file) {
                        return Route::DocsFile(file);
                    }
                } else if let Some(id) = path.strip_prefix('/') {
                    if looks_numeric(id) {
                        return Route::RootEntity(id);
                    }
                }
                Route::Unknown
            }
        }
    }

    /// The route pattern, for logs and metric labels (never the raw path).
    pub fn pattern(&self) -> &'static str {
        match self {
            Route::Entities => "/entities",
            Route::Entity(_) => "/entities/{id}",
            Route::Root => "/",
            Route::RootEntity(_) => "/{id}",
            Route::Healthz => "/healthz",
            Route::Metrics => "/metrics",
            Route::OpenApi => "/openapi.json",
            Route::Docs => "/docs",
            Route::DocsFile(_) => "/docs/{file}",
            Route::Unknown => "unknown",
        }
    }

    /// The path parameter (`{id}` or `{file}`), empty for routes without one.
    pub fn parameter(&self) -> &'a str {
        match self {
            Route::Entity(value) | Route::RootEntity(value) | Route::DocsFile(value) => value,
            _ => "",
        }
    }

    /// The methods this route serves and the operation each runs. HEAD is
    /// served wherever GET is, as GET without a body. Any other method is
    /// answered 405 with these methods in `Allow`.
    pub fn operations(&self) -> &'static [(&'static str, Operation)] {
        match self {
            Route::Entities => &[
                ("GET", Operation::ListEntities),
                ("POST", Operation::CreateEntity),
            ],
            Route::Root => &[("POST", Operation::CreateEntity)],
            Route::Entity(_) | Route::RootEntity(_) => &[("GET", Operation::GetEntity)],
            Route::Healthz => &[("GET", Operation::Health)],
            Route::Metrics => &[("GET", Operation::Metrics)],
            Route::OpenApi => &[("GET", Operation::OpenApi)],
            Route::Docs => &[("GET", Operation::Docs)],
            Route::DocsFile(_) => &[("GET", Operation::DocsFile)],
            Route::Unknown => &[],
        }
    }

    /// The operation a method runs on this route, if it is served.
    pub fn operation(&self, method: &str) -> Option<Operation> {
        let method = if method == "HEAD" { "GET" } else { method };
        self.operations()
            .iter()
            .find(|(served, _)| *served == method)
            .map(|&(_, operation)| operation)
    }

    /// The `Allow` header of a 405 on this route.
    pub fn allow(&self) -> String {
        let methods: Vec<&str> = self.operations().iter().map(|&(m, _)| m).collect();
        methods.join(", ")
    }

    /// Whether the route is open without a token: all its operations are.
    /// Unknown paths are not, so they reveal nothing without a token.
    pub fn is_open(&self) -> bool {
        let operations = self.operations();
        !operations.is_empty() && operations.iter().all(|&(_, op)| op.is_open())
    }
}

/// A non-empty path segment (no `/`).
fn is_segment(value: &str) -> bool {
    !value.is_empty() && !value.contains('/')
}

/// A segment that is meant as an id (digits with an optional sign), so that
/// `/-1` and `/99999999999999999999` are bad ids, while `/favicon.ico` is an
/// unknown path.
fn looks_numeric(segment: &str) -> bool {
    let digits = segment.strip_prefix(['-', '+']).unwrap_or(segment);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The REST gateway's handlers over a backend.
#[derive(Clone)]
pub struct Gateway {
    backend: Arc<dyn Backend>,
    auth: Auth,
    max_body_bytes: usize,
    metrics: Arc<Metrics>,
    /// The OpenAPI document, serialized once.
    openapi: Arc<[u8]>,
}

impl Gateway {
    /// Handlers over this backend, serving this OpenAPI document
    /// ([`super::openapi::document_json`]).
    pub fn new(
        backend: Arc<dyn Backend>,
        auth: Auth,
        max_body_bytes: usize,
        metrics: Arc<Metrics>,
        openapi: Arc<[u8]>,
    ) -> Self {
        Self {
            backend,
            auth,
            max_body_bytes,
            metrics,
            openapi,
        }
    }

    /// Where request metrics go.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Answers one request. The token is checked before anything else.
    pub fn handle(&self, incoming: &Incoming, body: &mut dyn BodySource) -> Reply {
        let Target { path, query, route } = incoming.target;
        if !route.is_open() && !self.auth.allows(incoming.authorization.map(str::as_bytes)) {
            return Reply::unauthorized("missing or invalid bearer token");
        }
        let call = CallMetadata {
            request_id: Some(incoming.request_id),
            authorization: incoming.authorization,
        };
        let Some(operation) = route.operation(incoming.method) else {
            return match route {
                Route::Unknown => Reply::error(404, format!("no route for {path}")),
                _ => Reply::method_not_allowed(route.allow()),
            };
        };
        match operation {
            Operation::CreateEntity => self.create(body, call),
            Operation::ListEntities => self.list(query, call),
            Operation::GetEntity => self.get(route.parameter(), call),
            Operation::Health => self.healthz(call),
            Operation::Metrics => Reply::bytes(
                200,
                self.metrics.render().into_bytes(),
                METRICS_CONTENT_TYPE,
            ),
            Operation::OpenApi => Reply::bytes(200, self.openapi.to_vec(), "application/json"),
            Operation::Docs => docs::page(),
            Operation::DocsFile => docs::file(route.parameter()),
        }
    }

    fn healthz(&self, call: CallMetadata) -> Reply {
        match self.backend.health(call) {
            Ok(()) => Reply::json(
                200,
                &HealthBody {
                    status: HealthStatus::Serving,
                    error: None,
                },
            ),
            Err(status) => Reply::json(
                503,
                &HealthBody {
                    status: HealthStatus::NotServing,
                    error: Some(status.to_string()),
                },
            ),
        }
    }

    fn get(&self, id: &str, call: CallMetadata) -> Reply {
        let id = match query::path_segment(id) {
            Ok(decoded) => match query::integer(&decoded) {
                Some(id) if id >= 1 => id,
                _ => {
                    return Reply::error(
                        400,
                        format!("id must be an integer >= 1, got {decoded:?}"),
                    )
                }
            },
            Err(error) => return Reply::error(400, format!("id: {error}")),
        };
        match self.backend.get(id, call) {
            Ok(entity) => Reply::entity(&entity),
            Err(status) => Reply::from_status(&status),
        }
    }

    fn list(&self, query: &str, call: CallMetadata) -> Reply {
        let (start_id, limit) = match list_window(query) {
            Ok(window) => window,
            Err(message) => return Reply::error(400, message),
        };
        match self.backend.list(start_id, limit, call) {
            Ok(entities) => Reply::entities(&entities),
            Err(status) => Reply::from_status(&status),
        }
    }

    fn create(&self, body: &mut dyn BodySource, call: CallMetadata) -> Reply {
        let bytes = match body.read_body(self.max_body_bytes) {
            Ok(bytes) => bytes,
            Err(error @ BodyError::TooLarge(_)) => return Reply::error(413, error.to_string()),
            Err(error @ BodyError::TooSlow) => return Reply::error(408, error.to_string()),
            Err(error @ BodyError::Io(_)) => return Reply::error(400, error.to_string()),
        };
        let (name, description) = match parse_create(&bytes) {
            Ok(fields) => fields,
            Err(message) => return Reply::error(400, message),
        };
        match self.backend.create(name, description, call) {
            Ok(entity) => Reply::created(&entity),
            Err(status) => Reply::from_status(&status),
        }
    }
}

/// `start_id` and `limit` of a list query, defaults for absent or empty
/// values, or the message of a 400. Other parameters are ignored.
fn list_window(query: &str) -> Result<(i64, u32), String> {
    let mut start_id = 1i64;
    let mut limit = DEFAULT_LIST_LIMIT;
    for (name, value) in query::pairs(query).map_err(|e| e.to_string())? {
        if value.is_empty() {
            continue; // `?start_id=&limit=` means the defaults
        }
        match name.as_str() {
            "start_id" => {
                start_id = query::integer(&value)
                    .ok_or_else(|| format!("start_id must be an integer, got {value:?}"))?;
            }
            "limit" => {
                limit = query::integer(&value)
                    .and_then(|limit| u32::try_from(limit).ok())
                    .filter(|limit| (1..=MAX_LIST_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        format!(
                            "limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {value:?}"
                        )
                    })?;
            }
            _ => {}
        }
    }
    Ok((start_id, limit))
}

/// The body of a create → (name, description), or the message of a 400.
fn parse_create(body: &[u8]) -> Result<(String, String), String> {
    let body: CreateEntityBody = read_object(body).map_err(|e| e.to_string())?;
    Ok((body.name, body.description.unwrap_or_default()))
}
