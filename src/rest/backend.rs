//! Where REST handlers get entities from. Handlers see only [`Backend`]; the
//! two implementations are the seed's two benchmark cases: through the
//! blocking gRPC client (`--backend grpc`) or straight from the store
//! (`--backend direct`).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use grpcio::RpcStatusCode;

use crate::auth;
use crate::call_metadata::CallMetadata;
use crate::entities::Entities;
use crate::entity::Entity;
use crate::grpc::{BlockingClient, LocalChannels};
use crate::readiness::Readiness;
use crate::status::Status;

/// The entity operations a REST handler needs.
pub trait Backend: Send + Sync {
    /// GetEntity.
    fn get(&self, id: i64, call: CallMetadata) -> Result<Entity, Status>;
    /// CreateEntity (validation happens behind this call).
    fn create(
        &self,
        name: String,
        description: String,
        call: CallMetadata,
    ) -> Result<Entity, Status>;
    /// ListEntities with a bounded limit.
    fn list(&self, start_id: i64, limit: u32, call: CallMetadata) -> Result<Vec<Entity>, Status>;
    /// Ok when the store behind this backend is serving.
    fn health(&self, call: CallMetadata) -> Result<(), Status>;
}

/// Through the gRPC server, with a blocking client on one shared channel.
pub struct GrpcBackend {
    client: RwLock<BlockingClient>,
    /// Where a new channel comes from when the local one breaks (None: a
    /// TCP channel, which reconnects by itself).
    local: Option<LocalChannels>,
    /// Held while a broken local channel is checked and replaced.
    renewing: Mutex<()>,
}

/// How long the probe of a channel that failed a call may take.
const PROBE_DEADLINE: Duration = Duration::from_millis(250);

impl GrpcBackend {
    /// A backend calling through this client.
    pub fn new(client: BlockingClient) -> Self {
        Self {
            client: RwLock::new(client),
            local: None,
            renewing: Mutex::new(()),
        }
    }

    /// A backend calling this process's own server over a local channel
    /// from `local`, replaced by a new one from there if it breaks.
    pub fn local(client: BlockingClient, local: LocalChannels) -> Self {
        Self {
            local: Some(local),
            ..Self::new(client)
        }
    }

    /// The local channels, if this backend uses them (for tests).
    #[doc(hidden)]
    pub fn local_channels(&self) -> Option<&LocalChannels> {
        self.local.as_ref()
    }

    fn client(&self) -> BlockingClient {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// After a call failed UNAVAILABLE on a local channel that can break: if
    /// a health probe on the same channel fails too, the channel is broken
    /// (a direct channel never reconnects), so a new one replaces it. One at
    /// a time: calls that failed together find the new channel healthy.
    fn renew_if_broken(&self) {
        let Some(local) = self.local.as_ref().filter(|local| local.can_break()) else {
            return;
        };
        let _one = crate::sync::lock(&self.renewing);
        let client = self.client();
        let probe = client
            .clone()
            .with_deadline(Some(PROBE_DEADLINE))
            .health_status("", CallMetadata::default());
        let broken = matches!(&probe, Err(status)
            if matches!(status.code, RpcStatusCode::UNAVAILABLE | RpcStatusCode::DEADLINE_EXCEEDED));
        if !broken {
            return;
        }
        match local.open() {
            Ok(channel) => {
                log::warn!("the local gRPC channel broke; opened a new one");
                *self
                    .client
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = client.over(channel);
            }
            Err(error) => log::error!("the local gRPC channel broke; cannot open another: {error}"),
        }
    }

    /// Makes a call upstream with the caller's credentials as the upstream
    /// needs them ([`auth::forwarded`]): the gateway checked them already.
    fn upstream<T>(
        &self,
        call: CallMetadata,
        make: impl FnOnce(&BlockingClient, CallMetadata) -> Result<T, Status>,
    ) -> Result<T, Status> {
        // A call on a local channel needs the server still serving (see
        // `grpc::local`); held until the call, and any renewal, is done.
        let _serving = match &self.local {
            Some(local) => Some(local.enter().ok_or_else(|| {
                Status::new(RpcStatusCode::UNAVAILABLE, "the gRPC server has stopped")
            })?),
            None => None,
        };
        let authorization = auth::forwarded(call.authorization);
        let call = CallMetadata {
            authorization: authorization.as_deref(),
            ..call
        };
        let outcome = {
            let client = self
                .client
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            make(&client, call)
        };
        if matches!(&outcome, Err(status) if status.code == RpcStatusCode::UNAVAILABLE) {
            self.renew_if_broken();
        }
        outcome
    }
}

impl Backend for GrpcBackend {
    fn get(&self, id: i64, call: CallMetadata) -> Result<Entity, Status> {
        self.upstream(call, |client, call| client.get(id, call))
    }

    fn create(
        &self,
        name: String,
        description: String,
        call: CallMetadata,
    ) -> Result<Entity, Status> {
        self.upstream(call, |client, call| client.create(name, description, call))
    }

    fn list(&self, start_id: i64, limit: u32, call: CallMetadata) -> Result<Vec<Entity>, Status> {
        self.upstream(call, |client, call| client.list(start_id, limit, call))
    }

    fn health(&self, call: CallMetadata) -> Result<(), Status> {
        self.upstream(call, |client, call| client.check_health(call))
    }
}

/// Straight to the shared store, no gRPC hop.
pub struct DirectBackend {
    entities: Entities,
    readiness: Arc<Readiness>,
}

impl DirectBackend {
    /// A backend over these entities, serving while `readiness` says so.
    pub fn new(entities: Entities, readiness: Arc<Readiness>) -> Self {
        Self {
            entities,
            readiness,
        }
    }
}

impl Backend for DirectBackend {
    fn get(&self, id: i64, _call: CallMetadata) -> Result<Entity, Status> {
        // A REST worker may wait for a catch-up: it is a plain thread.
        futures_executor::block_on(self.entities.get(id)).map(|e| (*e).clone())
    }

    fn create(
        &self,
        name: String,
        description: String,
        _call: CallMetadata,
    ) -> Result<Entity, Status> {
        // A REST worker may wait for the journal's sync: it is a plain thread.
        let entity = self.entities.create(name, description)?.wait()?;
        Ok((*entity).clone())
    }

    fn list(&self, start_id: i64, limit: u32, _call: CallMetadata) -> Result<Vec<Entity>, Status> {
        let listed = futures_executor::block_on(self.entities.list(start_id, limit))?;
        Ok(listed.iter().map(|e| (**e).clone()).collect())
    }

    fn health(&self, _call: CallMetadata) -> Result<(), Status> {
        if self.readiness.is_serving() {
            Ok(())
        } else {
            Err(Status::new(
                grpcio::RpcStatusCode::UNAVAILABLE,
                "not serving: stopping, or the database not caught up with yet",
            ))
        }
    }
}
