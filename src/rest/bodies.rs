//! The JSON bodies of the REST API: the types requests are read into and
//! replies are written from. Their schemas in the OpenAPI document are
//! derived from these same types, so the two cannot drift apart, and
//! [`read_object`] reads a request body exactly as its schema says: a JSON
//! object whose fields have their declared types.

use std::fmt;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::entity::Entity;
use crate::validation::{name_pattern, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};

/// Why a request body was refused: the message of its 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyRejection {
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("invalid request body: {0}")]
    Invalid(String),
}

/// Reads a request body of type `T` as the OpenAPI document describes `T`:
/// a JSON object, never an array (serde alone would read a struct from an
/// array, field by field), no key twice, each field of its declared type
/// (the message names the field), unknown fields ignored but nested no
/// deeper than serde_json's recursion limit (128).
pub fn read_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyRejection> {
    let JsonObject(fields) = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => BodyRejection::Invalid(e.to_string()),
        _ => BodyRejection::NotJson(e.to_string()),
    })?;
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let error = e.into_inner();
        BodyRejection::Invalid(if path == "." {
            error.to_string()
        } else {
            format!("{path}: {error}")
        })
    })
}

/// The fields of a JSON object, each value parsed in full (so its depth is
/// bounded), a repeated key refused.
struct JsonObject(Map<String, Value>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonObjectVisitor)
    }
}

struct JsonObjectVisitor;

impl<'de> Visitor<'de> for JsonObjectVisitor {
    type Value = JsonObject;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            fields.insert(key, value);
        }
        Ok(JsonObject(fields))
    }

    // JSON's names for what serde calls a sequence and a unit.
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<JsonObject, A::Error> {
        Err(de::Error::invalid_type(
            de::Unexpected::Other("array"),
            &self,
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonObject, E> {
        Err(de::Error::invalid_type(
            de::Unexpected::Other("null"),
            &self,
        ))
    }
}

/// The body of `POST /entities`. Fields other than these are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Ada Lovelace", "description": "wrote the first program"}))]
pub struct CreateEntityBody {
    /// Not blank; at most 256 characters (Unicode scalar values).
    #[schema(schema_with = name_schema)]
    pub name: String,
    /// At most 4096 characters; absent or null means empty.
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: Option<String>,
}

/// The name's schema, from the limits validation enforces.
fn name_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_CHARS))
        .pattern(Some(name_pattern()))
        .description(Some(format!(
            "Not blank (some character outside Unicode White_Space); at most \
             {MAX_NAME_CHARS} characters (Unicode scalar values)."
        )))
}

/// The description's schema, from the limit validation enforces.
fn description_schema() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(MAX_DESCRIPTION_CHARS))
        .description(Some(format!(
            "At most {MAX_DESCRIPTION_CHARS} characters (Unicode scalar values); \
             absent or null means empty."
        )))
}

/// A stored entity, as `GET /entities/{id}` and `GET /entities` show it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Entity)]
pub struct EntityBody<'a> {
    /// Assigned by the service: 1, 2, 3, … in creation order, never reused.
    #[schema(minimum = 1)]
    pub id: i64,
    pub name: &'a str,
    pub description: &'a str,
}

impl<'a> From<&'a Entity> for EntityBody<'a> {
    fn from(entity: &'a Entity) -> Self {
        Self {
            id: entity.id,
            name: &entity.name,
            description: &entity.description,
        }
    }
}

/// The answer to a create: the new entity's id.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Created)]
pub struct CreatedBody {
    #[schema(minimum = 1)]
    pub id: i64,
}

/// Every error answer of the REST API.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error, example = json!({"error": "entity 7 not found"}))]
pub struct ErrorBody<'a> {
    /// What went wrong, for people.
    pub error: &'a str,
}

/// Whether the store behind the gateway is serving.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthBody {
    pub status: HealthStatus,
    /// Why it is not serving.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The gRPC health status of the store, by name.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    Serving,
    NotServing,
}
