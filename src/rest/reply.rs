//! REST responses: always JSON, errors always `{"error": …}`, and the one
//! place a [`Status`] becomes an HTTP answer.

use serde::Serialize;

use crate::status::{http_status, Status};
use crate::store::Entity;

/// An HTTP answer before it is written: status, extra headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// `application/json` for everything but `/metrics`.
    pub content_type: &'static str,
}

#[derive(Serialize)]
struct EntityJson<'a> {
    id: i64,
    name: &'a str,
    description: &'a str,
}

impl<'a> From<&'a Entity> for EntityJson<'a> {
    fn from(entity: &'a Entity) -> Self {
        Self {
            id: entity.id,
            name: &entity.name,
            description: &entity.description,
        }
    }
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

    /// A plain-text body (the Prometheus exposition format).
    pub fn text(status: u16, body: String, content_type: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into_bytes(),
            content_type,
        }
    }

    /// `{"error": message}` with this status.
    pub fn error(status: u16, message: impl AsRef<str>) -> Self {
        Self::json(status, &serde_json::json!({ "error": message.as_ref() }))
    }

    /// A failed operation, its gRPC code mapped to HTTP.
    pub fn from_status(status: &Status) -> Self {
        Self::error(http_status(status.code), &status.message)
    }

    /// One entity.
    pub fn entity(entity: &Entity) -> Self {
        Self::json(200, &EntityJson::from(entity))
    }

    /// A list of entities.
    pub fn entities(entities: &[Entity]) -> Self {
        let list: Vec<EntityJson> = entities.iter().map(EntityJson::from).collect();
        Self::json(200, &list)
    }

    /// 201 `{"id": n}` with `Location: /entities/n`.
    pub fn created(entity: &Entity) -> Self {
        Self::json(201, &serde_json::json!({ "id": entity.id }))
            .with_header("Location", format!("/entities/{}", entity.id))
    }

    /// 405 with the allowed methods.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::error(405, format!("method not allowed; allowed: {allow}"))
            .with_header("Allow", allow.to_string())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}
