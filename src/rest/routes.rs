//! Routing and handlers: from method + URL (+ body) to a [`Reply`]. Pure of
//! I/O except for reading the body through [`BodySource`], so it can be
//! exercised without sockets.

use std::sync::Arc;

use serde_json::Value;

use super::backend::Backend;
use super::reply::Reply;
use crate::auth::Auth;
use crate::call_metadata::CallMetadata;
use crate::metrics::Metrics;

/// Default and largest `limit` for `GET /entities`.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
pub const MAX_LIST_LIMIT: u32 = 1000;

/// The parts of a request that routing needs.
pub struct Incoming<'a> {
    pub method: &'a str,
    /// Path and query, as sent.
    pub url: &'a str,
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
    Unknown,
}

impl<'a> Route<'a> {
    /// Matches a path (without query).
    pub fn of(path: &'a str) -> Self {
        match path {
            "/" => Route::Root,
            "/entities" => Route::Entities,
            "/healthz" => Route::Healthz,
            "/metrics" => Route::Metrics,
            _ => {
                if let Some(id) = path.strip_prefix("/entities/") {
                    if !id.is_empty() && !id.contains('/') {
                        return Route::Entity(id);
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
            Route::Unknown => "unknown",
        }
    }

    /// Whether the route is open without a token.
    pub fn is_open(&self) -> bool {
        matches!(self, Route::Healthz | Route::Metrics)
    }
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
}

impl Gateway {
    /// Handlers over this backend.
    pub fn new(
        backend: Arc<dyn Backend>,
        auth: Auth,
        max_body_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            backend,
            auth,
            max_body_bytes,
            metrics,
        }
    }

    /// Where request metrics go.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Answers one request. The token is checked before anything else.
    pub fn handle(&self, incoming: &Incoming, body: &mut dyn BodySource) -> Reply {
        let (path, query) = incoming.url.split_once('?').unwrap_or((incoming.url, ""));
        let route = Route::of(path);
        if !route.is_open() && !self.auth.allows(incoming.authorization.map(str::as_bytes)) {
            return Reply::error(401, "missing or invalid bearer token")
                .with_header("WWW-Authenticate", "Bearer".to_string());
        }
        let call = CallMetadata {
            request_id: Some(incoming.request_id),
            authorization: incoming.authorization,
        };
        match (route, incoming.method) {
            (Route::Entities | Route::Root, "POST") => self.create(body, call),
            // HEAD answers as GET does; tiny_http leaves out the body.
            (Route::Entities, "GET" | "HEAD") => self.list(query, call),
            (Route::Entity(id) | Route::RootEntity(id), "GET" | "HEAD") => self.get(id, call),
            (Route::Entities, _) => Reply::method_not_allowed("GET, POST"),
            (Route::Root, _) => Reply::method_not_allowed("POST"),
            (Route::Entity(_) | Route::RootEntity(_), _) => Reply::method_not_allowed("GET"),
            (Route::Healthz, "GET" | "HEAD") => self.healthz(call),
            (Route::Metrics, "GET" | "HEAD") => {
                Reply::text(200, self.metrics.render(), "text/plain; version=0.0.4")
            }
            (Route::Healthz | Route::Metrics, _) => Reply::method_not_allowed("GET"),
            (Route::Unknown, _) => Reply::error(404, format!("no route for {path}")),
        }
    }

    fn healthz(&self, call: CallMetadata) -> Reply {
        match self.backend.health(call) {
            Ok(()) => Reply::json(200, &serde_json::json!({ "status": "SERVING" })),
            Err(status) => Reply::json(
                503,
                &serde_json::json!({ "status": "NOT_SERVING", "error": status.to_string() }),
            ),
        }
    }

    fn get(&self, id: &str, call: CallMetadata) -> Reply {
        let id = match id.parse::<i64>() {
            Ok(id) if id >= 1 => id,
            _ => return Reply::error(400, format!("id must be an integer >= 1, got {id:?}")),
        };
        match self.backend.get(id, call) {
            Ok(entity) => Reply::entity(&entity),
            Err(status) => Reply::from_status(&status),
        }
    }

    fn list(&self, query: &str, call: CallMetadata) -> Reply {
        let mut start_id = 1i64;
        let mut limit = DEFAULT_LIST_LIMIT;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() {
                continue; // `?start_id=&limit=` means the defaults
            }
            match key {
                "start_id" => match value.parse::<i64>() {
                    Ok(v) => start_id = v,
                    Err(_) => {
                        return Reply::error(
                            400,
                            format!("start_id must be an integer, got {value:?}"),
                        )
                    }
                },
                "limit" => match parse_limit(value) {
                    Some(v) => limit = v,
                    None => {
                        return Reply::error(
                            400,
                            format!(
                            "limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {value:?}"
                        ),
                        )
                    }
                },
                _ => {}
            }
        }
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

/// A `limit` from 1 to [`MAX_LIST_LIMIT`], in plain decimal digits.
fn parse_limit(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u32>()
        .ok()
        .filter(|limit| (1..=MAX_LIST_LIMIT).contains(limit))
}

/// `{"name": string, "description": string (optional)}` → (name, description).
fn parse_create(body: &[u8]) -> Result<(String, String), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("request body is not valid JSON: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err("request body must be a JSON object".to_string());
    };
    let name = match object.remove("name") {
        Some(Value::String(name)) => name,
        None | Some(Value::Null) => return Err("name is required".to_string()),
        Some(_) => return Err("name must be a string".to_string()),
    };
    let description = match object.remove("description") {
        Some(Value::String(description)) => description,
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err("description must be a string".to_string()),
    };
    Ok((name, description))
}
