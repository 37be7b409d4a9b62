//! How command-line results look: human lines or JSON lines (the REST
//! shapes), errors as `error: <CODE>: <message>` with a distinct exit code.

use grpcio::RpcStatusCode;
use serde_json::json;

use crate::entity::Entity;
use crate::proto::entities::LookupEntityResponse;
use crate::status::Status;

/// Exit code for a failed call: 3 NOT_FOUND, 4 INVALID_ARGUMENT,
/// 5 UNAVAILABLE, 6 DEADLINE_EXCEEDED, 7 UNAUTHENTICATED, 1 anything else.
/// (2 is a command-line usage error.)
pub fn exit_code(code: RpcStatusCode) -> i32 {
    match code {
        RpcStatusCode::NOT_FOUND => 3,
        RpcStatusCode::INVALID_ARGUMENT => 4,
        RpcStatusCode::UNAVAILABLE => 5,
        RpcStatusCode::DEADLINE_EXCEEDED => 6,
        RpcStatusCode::UNAUTHENTICATED => 7,
        _ => 1,
    }
}

/// Prints `error: <CODE>: <message>` on stderr and returns the exit code.
pub fn report(status: &Status) -> i32 {
    eprintln!("error: {}: {}", status.code_name(), status.message);
    exit_code(status.code)
}

/// Human or JSON-lines output.
#[derive(Clone, Copy)]
pub struct Printer {
    pub json: bool,
}

impl Printer {
    /// One entity.
    pub fn entity(&self, entity: &Entity) {
        if self.json {
            println!("{}", entity_json(entity));
        } else {
            println!("{}", describe(entity));
        }
    }

    /// The result of an import.
    pub fn imported(&self, created: u32, ids: &[i64]) {
        if self.json {
            println!("{}", json!({ "created": created, "ids": ids }));
        } else {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            println!("created {created} entities: {}", ids.join(", "));
        }
    }

    /// A health status name, e.g. `SERVING`.
    pub fn health(&self, status: &str) {
        if self.json {
            println!("{}", json!({ "status": status }));
        } else {
            println!("{status}");
        }
    }

    /// One lookup answer.
    pub fn lookup(&self, answer: LookupEntityResponse) {
        let entity = answer.entity.into_option().map(Entity::from);
        if self.json {
            let mut value = json!({ "id": answer.id, "found": answer.found });
            if let Some(entity) = &entity {
                value["entity"] = entity_json(entity);
            }
            println!("{value}");
        } else if let Some(entity) = entity.filter(|_| answer.found) {
            println!("{}", describe(&entity));
        } else {
            println!("entity {} not found", answer.id);
        }
    }
}

/// An entity as REST shows it.
pub fn entity_json(entity: &Entity) -> serde_json::Value {
    json!({ "id": entity.id, "name": entity.name, "description": entity.description })
}

/// An entity as one human-readable line.
pub fn describe(entity: &Entity) -> String {
    format!(
        "entity {}: name={:?} description={:?}",
        entity.id, entity.name, entity.description
    )
}
