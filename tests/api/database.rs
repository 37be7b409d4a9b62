//! `--database-url`: several instances keep their entities in one
//! PostgreSQL database. Each test has a fresh database on the test server
//! ([`TestDatabase`]) and checks the service against the tables themselves.
//!
//! [`replicas`] has read-your-writes across instances and concurrent
//! creates on two of them with their watches, [`strings`] what a string
//! and a rejected create leave in the table, [`outage`] a database that is
//! away at start or goes away under load, [`restart`] a restart of the
//! server, [`crash`] the SIGKILL of an instance under load, [`schema`] the
//! tables made at start and the starts that must be refused, [`metrics`]
//! the database series of `/metrics`, [`commits`] a commit the database
//! refuses. [`load`] is their loaders and ledger.

mod commits;
mod crash;
mod load;
mod metrics;
mod outage;
mod replicas;
mod restart;
mod schema;
mod strings;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use entity_service::proto::entities::Entity;
use entity_service::proto::entities_grpc::EntityServiceClient;
use entity_service::Config;
use grpcio::{ClientSStreamReceiver, RpcStatusCode};
use postgres::Client;
use serde_json::json;

use crate::helpers::child::{Binary, Server};
use crate::helpers::grpc::{self, call_options, create_request, list_request, watch_request};
use crate::helpers::http;
use crate::helpers::postgres::TestDatabase;
use crate::helpers::wait::assert_eventually;
use crate::helpers::TestService;

/// How long an instance may take to catch up with a reachable database
/// and report serving: a hang bound.
const SERVING_LIMIT: Duration = Duration::from_secs(15);
/// How long a watch may take to deliver what a test expects of it.
const WATCH_LIMIT: Duration = Duration::from_secs(60);
/// How long [`watch_through`] waits before it opens a failed watch again.
const REOPEN_PAUSE: Duration = Duration::from_millis(50);

/// The service in-process on the database at `url`, once it serves.
#[track_caller]
fn start_on(url: &str) -> TestService {
    start_on_with(url, |_| {})
}

/// Like [`start_on`], with the test defaults adjusted by `tweak` as well.
#[track_caller]
fn start_on_with(url: &str, tweak: impl FnOnce(&mut Config)) -> TestService {
    let url = url.to_string();
    let service = TestService::start_with(move |config| {
        config.database_url = Some(url);
        tweak(config);
    });
    wait_serving(service.http_addr);
    service
}

/// The binary as a child on the database at `url`, once it serves.
#[track_caller]
fn serve_on(url: &str) -> Server {
    let server = Binary::server(&["--database-url", url]).serve();
    wait_serving(server.http_addr);
    server
}

/// Waits until `GET /healthz` answers 200.
#[track_caller]
fn wait_serving(http_addr: SocketAddr) {
    assert_eventually(
        SERVING_LIMIT,
        || healthz(http_addr) == Some(200),
        || {
            format!(
                "{http_addr} reports serving: /healthz says {:?}",
                healthz(http_addr)
            )
        },
    );
}

/// The status of `GET /healthz`, None without an answer within a second.
fn healthz(http_addr: SocketAddr) -> Option<u16> {
    http::get_within(http_addr, "/healthz", Duration::from_secs(1)).map(|r| r.status)
}

/// POST /entities; the response.
fn rest_create(http_addr: SocketAddr, name: &str, description: &str) -> http::Response {
    let body = json!({ "name": name, "description": description }).to_string();
    http::post(http_addr, "/entities", &body)
}

/// POST /entities that must succeed; the new id.
#[track_caller]
fn rest_created(http_addr: SocketAddr, name: &str, description: &str) -> i64 {
    let response = rest_create(http_addr, name, description);
    assert_eq!(response.status, 201, "create {name:?}: {}", response.text());
    response.json()["id"].as_i64().expect("an integer id")
}

/// CreateEntity that must succeed; the new id.
#[track_caller]
fn grpc_created(grpc_addr: SocketAddr, name: &str, description: &str) -> i64 {
    let created = grpc::entity_client(grpc_addr)
        .create_entity_opt(&create_request(name, description), call_options())
        .unwrap_or_else(|error| panic!("create {name:?}: {error:?}"));
    assert_eq!(
        (created.name.as_str(), created.description.as_str()),
        (name, description)
    );
    created.id
}

/// Every entity an instance serves, through ListEntities.
#[track_caller]
fn all_entities(grpc_addr: SocketAddr) -> Vec<Entity> {
    let client = grpc::entity_client(grpc_addr);
    let stream = client
        .list_entities_opt(&list_request(1, 0), call_options())
        .expect("list starts");
    grpc::collect(stream).expect("list succeeds")
}

/// Asserts that the instance at `grpc_addr` lists exactly `stored`
/// (id, name, description), in id order.
#[track_caller]
fn assert_serves(grpc_addr: SocketAddr, stored: &[(i64, String, String)]) {
    let served: Vec<_> = all_entities(grpc_addr).iter().map(triple).collect();
    assert!(
        served == stored,
        "{grpc_addr} serves other entities than the table"
    );
}

/// (id, name, description) of an entity.
fn triple(entity: &Entity) -> (i64, String, String) {
    (entity.id, entity.name.clone(), entity.description.clone())
}

/// One row of the `entities` table.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    id: i64,
    name: Vec<u8>,
    description: Vec<u8>,
}

impl Row {
    /// The row as an entity, its strings decoded (invalid UTF-8 fails).
    #[track_caller]
    fn triple(&self) -> (i64, String, String) {
        let text = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec())
                .unwrap_or_else(|_| panic!("row {} holds invalid UTF-8: {self:?}", self.id))
        };
        (self.id, text(&self.name), text(&self.description))
    }
}

/// Every row of `entities`, in id order.
#[track_caller]
fn table_rows(client: &mut Client) -> Vec<Row> {
    client
        .query(
            "SELECT id, name, description FROM entities ORDER BY id",
            &[],
        )
        .expect("read the entities table")
        .iter()
        .map(|row| Row {
            id: row.get(0),
            name: row.get(1),
            description: row.get(2),
        })
        .collect()
}

/// The row with this id, if any.
#[track_caller]
fn table_row(client: &mut Client, id: i64) -> Option<Row> {
    client
        .query_opt(
            "SELECT id, name, description FROM entities WHERE id = $1",
            &[&id],
        )
        .expect("read the entities table")
        .map(|row| Row {
            id: row.get(0),
            name: row.get(1),
            description: row.get(2),
        })
}

/// `count(*)` and `max(id)` of `entities`, and the counter row's `last_id`.
#[track_caller]
fn table_figures(client: &mut Client) -> (i64, Option<i64>, i64) {
    let row = client
        .query_one("SELECT count(*), max(id) FROM entities", &[])
        .expect("count the entities table");
    let counters: Vec<i64> = client
        .query("SELECT last_id FROM entity_counter", &[])
        .expect("read the counter")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(counters.len(), 1, "one counter row: {counters:?}");
    (row.get(0), row.get(1), counters[0])
}

/// Asserts the table holds exactly ids 1..=`count` and that the counter
/// agrees.
#[track_caller]
fn assert_table_figures(db: &TestDatabase, count: i64) {
    let figures = table_figures(&mut db.client());
    let max = (count > 0).then_some(count);
    assert_eq!(figures, (count, max, count), "(count, max id, last_id)");
}

/// An open WatchEntities call.
struct Watch {
    stream: ClientSStreamReceiver<Entity>,
    /// The call's channel, which must outlive it.
    _client: EntityServiceClient,
}

/// A watch on `grpc_addr` from `after_id`, with the [`WATCH_LIMIT`] deadline.
#[track_caller]
fn open_watch(grpc_addr: SocketAddr, after_id: i64) -> Watch {
    let client = grpc::entity_client(grpc_addr);
    let stream = client
        .watch_entities_opt(&watch_request(after_id), grpc::deadline(WATCH_LIMIT))
        .expect("watch starts");
    Watch {
        stream,
        _client: client,
    }
}

/// The next `count` entities of `watch`, which must be ids `after_id + 1`
/// on, one after the other.
#[track_caller]
fn take_in_order(watch: &mut Watch, after_id: i64, count: usize) -> Vec<Entity> {
    let mut seen: Vec<Entity> = Vec::with_capacity(count);
    while seen.len() < count {
        let expected = after_id + seen.len() as i64 + 1;
        let entity = match grpc::next_outcome(&mut watch.stream) {
            Ok(Some(entity)) => entity,
            other => panic!(
                "the watch from {after_id} ended before id {expected} (of {count}): {other:?}"
            ),
        };
        assert_eq!(
            entity.id, expected,
            "the watch from {after_id} skips or repeats"
        );
        seen.push(entity);
    }
    seen
}

/// Every entity after `after_id` up to `last_id` through watches on
/// `grpc_addr`: a watch that ends UNAVAILABLE (its instance lost the
/// database) is opened again after the last id it delivered; any other
/// end, a gap or a repeat fails the test. The entities, and how many times
/// a watch was opened again.
#[track_caller]
fn watch_through(grpc_addr: SocketAddr, after_id: i64, last_id: i64) -> (Vec<Entity>, usize) {
    let deadline = Instant::now() + WATCH_LIMIT;
    let client = grpc::entity_client(grpc_addr);
    let mut seen: Vec<Entity> = Vec::new();
    let mut reopened = 0;
    let mut last = after_id;
    while last < last_id {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(!remaining.is_zero(), "watch reached {last} of {last_id}");
        let mut watch = client
            .watch_entities_opt(&watch_request(last), grpc::deadline(remaining))
            .expect("watch starts");
        while last < last_id {
            match grpc::next_outcome(&mut watch) {
                Ok(Some(entity)) => {
                    assert_eq!(entity.id, last + 1, "the watch skips or repeats");
                    last = entity.id;
                    seen.push(entity);
                }
                Err(grpcio::Error::RpcFailure(status))
                    if status.code() == RpcStatusCode::UNAVAILABLE =>
                {
                    reopened += 1;
                    // Not at once: the database may still be away.
                    std::thread::sleep(REOPEN_PAUSE);
                    break;
                }
                other => panic!("the watch ended at {last} of {last_id}: {other:?}"),
            }
        }
    }
    (seen, reopened)
}
