//! The JSON bodies of the REST API: the types requests are read into and
//! replies are written from. Their schemas in the OpenAPI document are
//! derived from these same types, so the two cannot drift apart.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::store::Entity;
use crate::validation::{name_pattern, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};

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
