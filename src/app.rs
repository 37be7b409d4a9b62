//! Starting and stopping the whole service: the store, the gRPC server, the
//! REST gateway in front of it, in that order, and the reverse on stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Auth;
use crate::backing::Backing;
use crate::config::{resolve, BackendKind, Config};
use crate::entities::Entities;
use crate::grpc::call::CallGate;
use crate::grpc::{
    client, BlockingClient, DescriptorIndex, EntityService, GrpcServer, GrpcServerError,
    GrpcServerOptions, HealthService, LocalChannels, ReflectionService,
};
use crate::journal::OpenError;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::rest::{
    openapi, Backend, DirectBackend, Gateway, GrpcBackend, RestServer, RestServerOptions,
};
use crate::store::Store;
use crate::{database, journal};

/// How long running gRPC calls may take to finish once a stop begins.
const GRPC_STOP_GRACE: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid {what} address {addr:?}: {source}")]
    Address {
        what: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("the embedded protobuf descriptors are invalid: {0}")]
    Descriptors(#[source] protobuf::Error),
    #[error(transparent)]
    Grpc(#[from] GrpcServerError),
    #[error("cannot bind the REST listener to {addr}: {source}")]
    Rest {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] OpenError),
    #[error(transparent)]
    Database(#[from] database::StartError),
    #[error("--data-dir and --database-url are two places to keep the entities; give one")]
    TwoStores,
    #[error("cannot open the gateway's channel to the gRPC server: {0}")]
    LocalChannel(#[source] std::io::Error),
    #[error("{}", crate::config::EMPTY_TOKEN)]
    EmptyToken,
}

/// The service entry point.
pub struct Service;

/// A started service: its bound addresses, and `stop`.
pub struct Running {
    /// The REST listener's bound address.
    pub http_addr: SocketAddr,
    /// The gRPC listener's bound address.
    pub grpc_addr: SocketAddr,
    store: Arc<Store>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
    grpc: GrpcServer,
    rest: RestServer,
    /// The gateway's backend when it calls this process's server locally.
    local_backend: Option<Arc<GrpcBackend>>,
}

impl Service {
    /// Binds both listeners and starts serving.
    pub fn start(config: &Config) -> Result<Running, StartError> {
        if config.auth_token.as_deref() == Some("") {
            return Err(StartError::EmptyToken);
        }
        raise_open_file_limit();
        let grpc_bind = parse_addr("gRPC", &config.grpc_addr)?;
        let http_bind = parse_addr("REST", &config.http_addr)?;
        let (store, readiness) = open_store(config)?;
        let entities = Entities::new(Arc::clone(&store));
        let auth = Auth::new(config.auth_token.clone());
        let metrics = Arc::new(Metrics::new(Arc::clone(&store)));
        let descriptors = DescriptorIndex::from_set(crate::proto::FILE_DESCRIPTOR_SET)
            .map_err(StartError::Descriptors)?;

        let protected = CallGate {
            auth: auth.clone(),
            metrics: Arc::clone(&metrics),
        };
        let open = CallGate {
            auth: Auth::default(),
            metrics: Arc::clone(&metrics),
        };
        let reflection = ReflectionService::new(Arc::new(descriptors), open.clone());
        let services = vec![
            EntityService::new(entities.clone(), protected).into_grpc_service(),
            HealthService::new(Arc::clone(&readiness), open).into_grpc_service(),
            reflection.clone().into_v1_service(),
            reflection.into_v1alpha_service(),
        ];
        let grpc = GrpcServer::start(
            &GrpcServerOptions {
                addr: grpc_bind,
                completion_queues: usize::from(config.grpc_completion_queues),
                max_message_bytes: config.grpc_max_message_bytes,
                keepalive_time: Duration::from_millis(config.grpc_keepalive_time_ms),
                keepalive_timeout: Duration::from_millis(config.grpc_keepalive_timeout_ms),
            },
            services,
        )
        .inspect_err(|_| store.close_backing())?;
        let grpc_addr = grpc.addr;

        let mut local_backend = None;
        let backend: Arc<dyn Backend> = match config.backend {
            BackendKind::Direct => Arc::new(DirectBackend::new(entities, Arc::clone(&readiness))),
            BackendKind::Grpc => {
                match &config.grpc_upstream {
                    Some(target) => Arc::new(GrpcBackend::new(BlockingClient::new(
                        client::connect(target, client::ChannelThreads::Own("grpc-upstream")),
                        config.deadline(),
                    ))),
                    // This process's own server: in-process (or over a
                    // socket pair), not TCP.
                    None => {
                        let local = grpc.local_channels(config.grpc_local_transport);
                        let channel = match local.open() {
                            Ok(channel) => channel,
                            Err(source) => {
                                grpc.stop(Duration::ZERO);
                                store.close_backing();
                                return Err(StartError::LocalChannel(source));
                            }
                        };
                        let client = BlockingClient::new(channel, config.deadline());
                        let backend = Arc::new(GrpcBackend::local(client, local));
                        local_backend = Some(Arc::clone(&backend));
                        backend
                    }
                }
            }
        };
        let openapi = openapi::document_json(&openapi::Settings {
            // A token is required when a request without one is refused.
            auth_required: !auth.allows(None),
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout(),
        });
        let gateway = Gateway::new(
            backend,
            auth,
            config.max_body_bytes,
            Arc::clone(&metrics),
            openapi.into(),
        );
        let rest = RestServer::start(
            RestServerOptions {
                addr: http_bind,
                threads: config.http_threads(),
                idle_timeout: config.idle_timeout(),
                body_timeout: config.body_timeout(),
            },
            gateway,
        );
        let rest = match rest {
            Ok(rest) => rest,
            Err(source) => {
                grpc.stop(Duration::ZERO);
                store.close_backing();
                return Err(StartError::Rest {
                    addr: http_bind,
                    source,
                });
            }
        };
        Ok(Running {
            http_addr: rest.addr,
            grpc_addr,
            store,
            readiness,
            metrics,
            grpc,
            rest,
            local_backend,
        })
    }
}

impl Running {
    /// Graceful stop: health turns NOT_SERVING, REST stops accepting and
    /// finishes the requests in flight, open watches end, then running gRPC
    /// calls get [`GRPC_STOP_GRACE`] to finish; last, the backing (if any)
    /// commits what is queued and closes: the journal syncs and unlocks its
    /// directory, the database's connections close.
    pub fn stop(self) {
        log::info!("stopping");
        self.readiness.begin_stop();
        self.rest.stop();
        self.store.close_watches();
        self.readiness.close();
        self.grpc.stop(GRPC_STOP_GRACE);
        self.store.close_backing();
        log::info!("stopped");
    }

    /// Reports NOT_SERVING from now on, without stopping (the first step of `stop`).
    pub fn begin_stop(&self) {
        self.readiness.begin_stop();
    }

    /// This service's metrics in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    /// Breaks the gateway's socket-pair channel to the gRPC server, as a
    /// failing transport would (for the test of its recovery); false without
    /// one.
    #[doc(hidden)]
    pub fn sever_local_channel(&self) -> bool {
        let local = self.local_backend.as_ref().and_then(|b| b.local_channels());
        local.is_some_and(LocalChannels::sever)
    }

    /// The shared store (for tests and tools in this process).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// The store as the config asks (memory, a journal or a database) and the
/// readiness that goes with it: serving at once, or once the database has
/// been caught up with.
fn open_store(config: &Config) -> Result<(Arc<Store>, Arc<Readiness>), StartError> {
    match (&config.data_dir, &config.database_url) {
        (Some(_), Some(_)) => Err(StartError::TwoStores),
        (Some(dir), None) => {
            ignore_file_size_signal();
            let mut opened = journal::open(dir)?;
            let entities = std::mem::take(&mut opened.entities);
            let store = Store::backed(entities, |index| {
                let journal = opened.start(index).map_err(|source| OpenError::Directory {
                    dir: dir.clone(),
                    source,
                })?;
                Ok::<_, OpenError>(Box::new(journal) as Box<dyn Backing>)
            })?;
            Ok((Arc::new(store), Arc::new(Readiness::default())))
        }
        (None, Some(url)) => {
            let readiness = Arc::new(Readiness::waiting());
            let store = Store::backed(Vec::new(), |index| {
                let database = database::start(url, index, Arc::clone(&readiness))?;
                Ok::<_, database::StartError>(Box::new(database) as Box<dyn Backing>)
            })?;
            Ok((Arc::new(store), readiness))
        }
        (None, None) => Ok((Arc::new(Store::new()), Arc::new(Readiness::default()))),
    }
}

/// Raises the soft limit on open files to the hard limit: tiny_http uses two
/// descriptors per connection, so the usual soft limit of 1024 would cap the
/// REST side at about 500 connections.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= limit.rlim_max
        {
            return;
        }
        let soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            log::debug!("open file limit raised from {soft} to {}", limit.rlim_max);
        }
    }
}

/// With a journal, a write past the file-size limit (RLIMIT_FSIZE) must fail
/// with EFBIG and fail the creates waiting on it, not kill the process with
/// SIGXFSZ.
fn ignore_file_size_signal() {
    // SAFETY: sets the disposition of one signal to "ignore"; no handler runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn parse_addr(what: &'static str, addr: &str) -> Result<SocketAddr, StartError> {
    resolve(addr).map_err(|source| StartError::Address {
        what,
        addr: addr.to_string(),
        source,
    })
}
