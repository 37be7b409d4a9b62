//! Clients that create in a loop beside a test ([`rest_loader`],
//! [`grpc_loader`]) and the [`Ledger`] of what they sent and what came
//! back, checked against the table by [`verify_table`].

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grpcio::RpcStatusCode;
use serde_json::json;

use super::{table_figures, table_rows, Row};
use crate::helpers::background::Background;
use crate::helpers::grpc::{self, create_request};
use crate::helpers::http::{self, Answer, Connection};
use crate::helpers::lock::lock;
use crate::helpers::postgres::TestDatabase;
use crate::helpers::wait::assert_eventually;

/// How long one create may take, whatever its answer: past it, the create
/// counts as hung.
pub const CREATE_LIMIT: Duration = Duration::from_secs(5);
/// How long a loader waits after a failure before its next create, so that
/// refusals do not spin a core.
const FAILURE_PAUSE: Duration = Duration::from_millis(5);

/// What the loaders sent and what the service answered.
#[derive(Default)]
pub struct Ledger {
    /// Every name sent (names are unique) with its description, recorded
    /// before the request goes out.
    sent: Mutex<HashMap<String, String>>,
    /// Each acknowledged id with the name it was acknowledged for.
    acknowledged: Mutex<Vec<(i64, String)>>,
    acknowledgements: AtomicUsize,
    /// Creates answered 503 or UNAVAILABLE.
    refusals: AtomicUsize,
    /// The longest a refusal took to come.
    slowest_refusal: Mutex<Duration>,
    /// Any other answer, and failures to get one (a close, silence, a
    /// deadline), described.
    unexpected: Mutex<Vec<String>>,
}

impl Ledger {
    /// A ledger shared by the loaders and the test.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn send(&self, name: &str, description: &str) {
        let previous = lock(&self.sent).insert(name.into(), description.into());
        assert!(previous.is_none(), "name {name:?} sent twice");
    }

    fn acknowledge(&self, id: i64, name: &str) {
        lock(&self.acknowledged).push((id, name.to_string()));
        self.acknowledgements.fetch_add(1, Ordering::SeqCst);
    }

    fn refuse(&self, took: Duration) {
        let mut slowest = lock(&self.slowest_refusal);
        *slowest = (*slowest).max(took);
        self.refusals.fetch_add(1, Ordering::SeqCst);
    }

    fn unexpected(&self, what: String) {
        lock(&self.unexpected).push(what);
    }

    /// A create the test made itself, acknowledged as `id`.
    pub fn record(&self, id: i64, name: &str, description: &str) {
        self.send(name, description);
        self.acknowledge(id, name);
    }

    /// Creates acknowledged so far.
    pub fn acknowledgements(&self) -> usize {
        self.acknowledgements.load(Ordering::SeqCst)
    }

    /// Creates refused (503, UNAVAILABLE) so far.
    pub fn refusals(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }

    /// The longest a refusal took.
    pub fn slowest_refusal(&self) -> Duration {
        *lock(&self.slowest_refusal)
    }

    /// Every answer that was neither an acknowledgement nor a refusal.
    pub fn unexpected_answers(&self) -> Vec<String> {
        lock(&self.unexpected).clone()
    }

    /// Waits until `count` more creates than now are acknowledged.
    #[track_caller]
    pub fn wait_for_more(&self, count: usize, limit: Duration, when: &str) {
        let target = self.acknowledgements() + count;
        assert_eventually(
            limit,
            || self.acknowledgements() >= target,
            || {
                format!(
                    "{when}: {} of {target} creates acknowledged, {} refused; unexpected: {:?}",
                    self.acknowledgements(),
                    self.refusals(),
                    self.unexpected_answers()
                )
            },
        );
    }

    /// Waits until `count` more creates than now are refused.
    #[track_caller]
    pub fn wait_for_refusals(&self, count: usize, limit: Duration, when: &str) {
        let target = self.refusals() + count;
        assert_eventually(
            limit,
            || self.refusals() >= target,
            || {
                format!(
                    "{when}: {} of {target} creates refused; unexpected: {:?}",
                    self.refusals(),
                    self.unexpected_answers()
                )
            },
        );
    }
}

/// A unique name for a loader's `seq`th create, and a description that
/// varies in length and alphabet (U+0000 included).
fn entity(tag: &str, seq: usize) -> (String, String) {
    let name = format!("{tag}-{seq}");
    let description = match seq % 4 {
        0 => String::new(),
        1 => format!("described {}", "é".repeat(seq % 40)),
        2 => format!("nul\u{0}{seq}\u{0}"),
        _ => format!("{name} {}", "x".repeat(seq % 300)),
    };
    (name, description)
}

/// POSTs creates on a keep-alive connection to `http_addr` until dropped;
/// a connection that fails is opened again.
pub fn rest_loader(http_addr: SocketAddr, tag: &str, ledger: &Arc<Ledger>) -> Background {
    let (tag, ledger) = (tag.to_string(), Arc::clone(ledger));
    Background::spawn(move |stop| rest_load(http_addr, &tag, &ledger, stop))
}

fn rest_load(addr: SocketAddr, tag: &str, ledger: &Ledger, stop: &AtomicBool) {
    let mut connection: Option<Connection> = None;
    let mut seq = 0;
    while !stop.load(Ordering::SeqCst) {
        let open = match connection.take() {
            Some(open) => Ok(open),
            None => Connection::try_open(addr, CREATE_LIMIT),
        };
        let mut open = match open {
            Ok(open) => open.named(tag).with_timeout(CREATE_LIMIT),
            Err(error) => {
                ledger.unexpected(format!("{tag}: connect: {error}"));
                std::thread::sleep(FAILURE_PAUSE);
                continue;
            }
        };
        let (name, description) = entity(tag, seq);
        seq += 1;
        ledger.send(&name, &description);
        let body = json!({ "name": name, "description": description }).to_string();
        let request = http::request_bytes("POST", "/entities", &[], body.as_bytes());
        let started = Instant::now();
        let answer = match open.try_send_raw(&request) {
            Ok(()) => open.answer(),
            Err(_) => Answer::Closed,
        };
        let response = match answer {
            Answer::Response(response) => response,
            failed => {
                ledger.unexpected(format!("{tag}: {name}: no answer ({failed:?})"));
                std::thread::sleep(FAILURE_PAUSE);
                continue;
            }
        };
        match response.status {
            201 => ledger.acknowledge(response.json()["id"].as_i64().expect("an id"), &name),
            503 => {
                ledger.refuse(started.elapsed());
                std::thread::sleep(FAILURE_PAUSE);
            }
            status => ledger.unexpected(format!("{tag}: {name}: {status} {}", response.text())),
        }
        let closing = response
            .header("Connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if !closing {
            connection = Some(open);
        }
    }
}

/// CreateEntity calls to `grpc_addr`, one at a time, until dropped.
pub fn grpc_loader(grpc_addr: SocketAddr, tag: &str, ledger: &Arc<Ledger>) -> Background {
    let (tag, ledger) = (tag.to_string(), Arc::clone(ledger));
    Background::spawn(move |stop| grpc_load(grpc_addr, &tag, &ledger, stop))
}

fn grpc_load(addr: SocketAddr, tag: &str, ledger: &Ledger, stop: &AtomicBool) {
    let client = grpc::separate_entity_client(addr);
    let mut seq = 0;
    while !stop.load(Ordering::SeqCst) {
        let (name, description) = entity(tag, seq);
        seq += 1;
        ledger.send(&name, &description);
        let started = Instant::now();
        let request = create_request(&name, &description);
        match client.create_entity_opt(&request, grpc::deadline(CREATE_LIMIT)) {
            Ok(created) => {
                assert_eq!(created.name, name, "{tag}: the reply is of this create");
                ledger.acknowledge(created.id, &name);
            }
            Err(grpcio::Error::RpcFailure(status))
                if status.code() == RpcStatusCode::UNAVAILABLE =>
            {
                ledger.refuse(started.elapsed());
                std::thread::sleep(FAILURE_PAUSE);
            }
            Err(error) => {
                ledger.unexpected(format!("{tag}: {name}: {error:?}"));
                std::thread::sleep(FAILURE_PAUSE);
            }
        }
    }
}

/// Checks the table against the ledger: ids 1..=N without a hole, the
/// counter at N, each row a create that was sent with exactly its
/// description and stored once, and each acknowledged create stored under
/// its id. The rows.
#[track_caller]
pub fn verify_table(db: &TestDatabase, ledger: &Ledger) -> Vec<Row> {
    let mut client = db.client();
    let rows = table_rows(&mut client);
    let (count, max, last_id) = table_figures(&mut client);
    let n = rows.len() as i64;
    assert_eq!(
        (count, max.unwrap_or(0), last_id),
        (n, n, n),
        "(count, max, last_id)"
    );
    let sent = lock(&ledger.sent).clone();
    let mut names = HashSet::new();
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(
            row.id,
            index as i64 + 1,
            "the ids have a hole before {}",
            row.id
        );
        let (id, name, description) = row.triple();
        assert_eq!(
            sent.get(&name),
            Some(&description),
            "row {id} ({name:?}) was never sent with this description"
        );
        assert!(names.insert(name.clone()), "{name:?} is stored twice");
    }
    for (id, name) in lock(&ledger.acknowledged).iter() {
        let stored = usize::try_from(*id - 1).ok().and_then(|i| rows.get(i));
        assert_eq!(
            stored.map(|row| row.triple().1),
            Some(name.clone()),
            "acknowledged entity {id} ({name:?}) is not in the table as acknowledged"
        );
    }
    rows
}
