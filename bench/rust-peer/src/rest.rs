//! The REST server (axum): the routes bench.sh and the Python originals
//! serve, over either backend. Every answer is JSON; errors are
//! `{"error": "..."}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::proto::entity_service_client::EntityServiceClient;
use crate::proto::{CreateEntityRequest, Entity, GetEntityRequest, ListEntitiesRequest};
use crate::store::Store;

/// Default and largest `limit` of `GET /entities`.
const DEFAULT_LIST_LIMIT: u32 = 100;
const MAX_LIST_LIMIT: u32 = 1000;

/// Where the REST handlers read and write entities (`--backend`).
#[derive(Clone)]
pub enum Backend {
    /// The REST→gRPC hop: a call to this process's own gRPC server over
    /// loopback TCP, on one channel made at start and shared by every request.
    Grpc(EntityServiceClient<Channel>),
    /// The store itself.
    Direct(Arc<Store>),
}

impl Backend {
    async fn get(&self, id: i64) -> Result<Entity, Status> {
        match self {
            Backend::Grpc(client) => {
                let reply = client.clone().get_entity(GetEntityRequest { id }).await?;
                Ok(reply.into_inner())
            }
            Backend::Direct(store) => store.get(id),
        }
    }

    async fn create(&self, name: String, description: String) -> Result<Entity, Status> {
        match self {
            Backend::Grpc(client) => {
                let request = CreateEntityRequest { name, description };
                Ok(client.clone().create_entity(request).await?.into_inner())
            }
            Backend::Direct(store) => store.create(name, description),
        }
    }

    async fn list(&self, start_id: i64, limit: u32) -> Result<Vec<Entity>, Status> {
        match self {
            Backend::Grpc(client) => {
                let request = ListEntitiesRequest { start_id, limit };
                let mut stream = client.clone().list_entities(request).await?.into_inner();
                let mut entities = Vec::new();
                while let Some(entity) = stream.message().await? {
                    entities.push(entity);
                }
                Ok(entities)
            }
            Backend::Direct(store) => Ok(store.list(start_id, limit)),
        }
    }
}

pub fn router(backend: Backend) -> Router {
    Router::new()
        .route("/entities", get(list_entities).post(create_entity))
        .route("/entities/{id}", get(get_entity))
        .route("/", post(create_entity))
        .route("/{id}", get(get_root_entity))
        .route(
            "/healthz",
            get(|| async { Json(json!({"status": "SERVING"})) }),
        )
        .fallback(|uri: Uri| async move {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no route for {}", uri.path()),
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .with_state(backend)
}

/// An error answer: `{"error": message}` with its status.
struct ApiError(StatusCode, String);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let code = match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                StatusCode::BAD_REQUEST
            }
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(code, status.message().to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

async fn get_entity(
    State(backend): State<Backend>,
    Path(id): Path<String>,
) -> Result<Json<Entity>, ApiError> {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|&id| id >= 1)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("id must be an integer >= 1, got {id:?}"),
            )
        })?;
    Ok(Json(backend.get(id).await?))
}

/// `GET /{id}`: the alias of `GET /entities/{id}` for what looks like an id
/// (digits, maybe signed); any other single segment is an unknown path.
async fn get_root_entity(
    state: State<Backend>,
    Path(segment): Path<String>,
    uri: Uri,
) -> Result<Json<Entity>, ApiError> {
    let digits = segment.strip_prefix(['-', '+']).unwrap_or(&segment);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no route for {}", uri.path()),
        ));
    }
    get_entity(state, Path(segment)).await
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /entities` and `POST /`: the body is read as JSON whatever its
/// Content-Type says (`curl -d` sends a form type).
async fn create_entity(State(backend): State<Backend>, body: Bytes) -> Result<Response, ApiError> {
    let CreateBody { name, description } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
        )
    })?;
    let entity = backend.create(name, description).await?;
    let location = format!("/entities/{}", entity.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({ "id": entity.id })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    start_id: Option<String>,
    limit: Option<String>,
}

/// `GET /entities?start_id=&limit=`: from max(start_id, 1), at most `limit`
/// (1–1000, default 100).
async fn list_entities(
    State(backend): State<Backend>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Entity>>, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    let start_id = match query.start_id.as_deref().filter(|v| !v.is_empty()) {
        None => 1,
        Some(value) => value
            .parse::<i64>()
            .map_err(|_| bad(format!("start_id must be an integer, got {value:?}")))?,
    };
    let limit = match query.limit.as_deref().filter(|v| !v.is_empty()) {
        None => DEFAULT_LIST_LIMIT,
        Some(value) => value
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_LIST_LIMIT).contains(limit))
            .ok_or_else(|| {
                bad(format!(
                    "limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {value:?}"
                ))
            })?,
    };
    Ok(Json(backend.list(start_id, limit).await?))
}
