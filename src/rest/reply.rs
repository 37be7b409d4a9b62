//! REST responses: always JSON, errors always `{"error": …}`, and the one
//! place a [`Status`] becomes an HTTP answer.

use serde::Serialize;

use super::bodies::{CreatedBody, EntityBody, ErrorBody};
use crate::entity::Entity;
use crate::status::{http_status, Status};

/// An HTTP answer before it is written: status, extra headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// `application/json` for everything but `/metrics`.
    pub content_type: &'static str,
}

impl Reply {
    /// A JSON body with this status.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
            content_type: "application/json",
        }
    }

    /// A body of another media type (the Prometheus text format, the docs page).
    pub fn bytes(status: u16, body: Vec<u8>, content_type: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
            content_type,
        }
    }

    /// `{"error": message}` with this status.
    pub fn error(status: u16, message: impl AsRef<str>) -> Self {
        Self::json(
            status,
            &ErrorBody {
                error: message.as_ref(),
            },
        )
    }

    /// A failed operation, its gRPC code mapped to HTTP.
    pub fn from_status(status: &Status) -> Self {
        match http_status(status.code) {
            401 => Self::unauthorized(&status.message),
            code => Self::error(code, &status.message),
        }
    }

    /// 401 with the `WWW-Authenticate: Bearer` challenge every 401 carries.
    pub fn unauthorized(message: impl AsRef<str>) -> Self {
        Self::error(401, message).with_header("WWW-Authenticate", "Bearer".to_string())
    }

    /// One entity.
    pub fn entity(entity: &Entity) -> Self {
        Self::json(200, &EntityBody::from(entity))
    }

    /// A list of entities.
    pub fn entities(entities: &[Entity]) -> Self {
        let list: Vec<EntityBody> = entities.iter().map(EntityBody::from).collect();
        Self::json(200, &list)
    }

    /// 201 `{"id": n}` with `Location: /entities/n`.
    pub fn created(entity: &Entity) -> Self {
        Self::json(201, &CreatedBody { id: entity.id })
            .with_header("Location", format!("/entities/{}", entity.id))
    }

    /// 405 with the allowed methods.
    pub fn method_not_allowed(allow: String) -> Self {
        Self::error(405, format!("method not allowed; allowed: {allow}"))
            .with_header("Allow", allow)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The headers of this answer, besides its length: the media type, the
    /// request id, then its own.
    pub fn header_lines<'r>(&'r self, request_id: &'r str) -> Vec<(&'r str, &'r str)> {
        let mut headers = vec![
            ("Content-Type", self.content_type),
            ("X-Request-Id", request_id),
        ];
        headers.extend(self.headers.iter().map(|(n, v)| (*n, v.as_str())));
        headers
    }

    /// The tiny_http response that writes this answer.
    pub fn into_response(self, request_id: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut response = tiny_http::Response::from_data(Vec::new()).with_status_code(self.status);
        for (name, value) in self.header_lines(request_id) {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        let length = self.body.len();
        response.with_data(std::io::Cursor::new(self.body), Some(length))
    }
}
