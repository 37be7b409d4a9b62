//! The crash loop: REST clients, gRPC unary clients and CreateEntities
//! streams create concurrently while the binary is SIGKILLed at a random
//! moment; the restart on the same directory must hold every acknowledged
//! create with its name and description, ids 1..N without a hole, nothing
//! nobody sent, and give N+1 next. Six rounds on one directory.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;

use super::{all_entities, fresh_data_dir, rest_created, serve_in, EXIT_LIMIT};
use crate::helpers::child::{Binary, Server};
use crate::helpers::grpc::{self, call_options, create_many, create_request};
use crate::helpers::http::{self, Connection};
use crate::helpers::lock::lock;
use crate::helpers::wait::assert_eventually;

/// Kill-and-restart rounds on one directory.
const ROUNDS: usize = 6;
/// Concurrent clients of each kind.
const CLIENTS_PER_KIND: usize = 2;
/// Creates acknowledged in a round before the kill, at most (the kill
/// comes after a random number of them up to this).
const MAX_ACKNOWLEDGED_BEFORE_KILL: usize = 400;
/// How long a round may take to reach its kill moment: a hang bound.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// What the clients sent and what the service acknowledged, across rounds.
#[derive(Default)]
struct Ledger {
    /// Every name sent (names are unique), with its description; recorded
    /// before the request goes out.
    sent: Mutex<HashMap<String, String>>,
    /// Each acknowledged id with the name it was acknowledged for.
    acknowledged: Mutex<Vec<(i64, String)>>,
    /// Acknowledged in the current round.
    round_acknowledged: AtomicUsize,
}

impl Ledger {
    fn send(&self, name: &str, description: &str) {
        let previous = lock(&self.sent).insert(name.into(), description.into());
        assert!(previous.is_none(), "name {name:?} sent twice");
    }

    fn acknowledge(&self, id: i64, name: &str) {
        lock(&self.acknowledged).push((id, name.to_string()));
        self.round_acknowledged.fetch_add(1, Ordering::SeqCst);
    }
}

/// A unique name and a description of varying length and alphabet.
fn entity(client: &str, seq: usize) -> (String, String) {
    let name = format!("{client}-{seq}");
    let description = match seq % 3 {
        0 => String::new(),
        1 => format!("described {}", "é".repeat(seq % 50)),
        _ => format!("{name} {}", "x".repeat(seq % 300)),
    };
    (name, description)
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_create() {
    let _machine = crate::helpers::lock::serial();
    let dir = fresh_data_dir();
    let ledger = Arc::new(Ledger::default());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    for round in 0..ROUNDS {
        // The REST side goes through the gRPC hop, or straight to the store.
        let backend = if round % 2 == 0 { "grpc" } else { "direct" };
        let mut server = Binary::server(&["--backend", backend])
            .data_dir(dir.path())
            .serve();
        verify(&server, &ledger, seed);
        ledger.round_acknowledged.store(0, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let clients = start_clients(&server, round, &ledger, &stop);
        let kill_after = 1 + rng.usize(..MAX_ACKNOWLEDGED_BEFORE_KILL);
        assert_eventually(
            ROUND_LIMIT,
            || ledger.round_acknowledged.load(Ordering::SeqCst) >= kill_after,
            || format!("round {round} (seed {seed}): fewer than {kill_after} creates acknowledged"),
        );
        server.signal(libc::SIGKILL);
        server
            .wait_with_timeout(EXIT_LIMIT)
            .expect("SIGKILL ends the child");
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.join().expect("client thread does not panic");
        }
    }
    let server = serve_in(&dir);
    let count = verify(&server, &ledger, seed);
    assert!(count >= ROUNDS, "seed {seed}: only {count} entities in all");
    super::stop_gracefully(server);
}

/// Checks what the restarted service holds against the ledger, then makes
/// one more create, which must get the next id. The number of entities.
#[track_caller]
fn verify(server: &Server, ledger: &Ledger, seed: u64) -> usize {
    let entities = all_entities(server.grpc_addr);
    let sent = lock(&ledger.sent).clone();
    let mut names = HashSet::new();
    for (index, entity) in entities.iter().enumerate() {
        assert_eq!(entity.id, index as i64 + 1, "seed {seed}: ids have a hole");
        assert_eq!(
            sent.get(&entity.name),
            Some(&entity.description),
            "seed {seed}: entity {} was never sent so",
            entity.id
        );
        assert!(
            names.insert(entity.name.clone()),
            "seed {seed}: {:?} stored twice",
            entity.name
        );
    }
    for (id, name) in lock(&ledger.acknowledged).iter() {
        let stored = usize::try_from(*id - 1)
            .ok()
            .and_then(|index| entities.get(index));
        assert_eq!(
            stored.map(|e| &e.name),
            Some(name),
            "seed {seed}: acknowledged entity {id} ({name:?}) lost or changed"
        );
    }
    let next = format!("after-{}", entities.len());
    ledger.send(&next, "");
    let id = rest_created(server.http_addr, &next, "");
    assert_eq!(id, entities.len() as i64 + 1, "seed {seed}: next id");
    ledger.acknowledge(id, &next);
    entities.len() + 1
}

/// The round's clients, each creating until its calls fail (the kill).
fn start_clients(
    server: &Server,
    round: usize,
    ledger: &Arc<Ledger>,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let mut clients = Vec::new();
    for client in 0..CLIENTS_PER_KIND {
        let context = (Arc::clone(ledger), Arc::clone(stop));
        let (http_addr, grpc_addr) = (server.http_addr, server.grpc_addr);
        let tag = format!("r{round}-rest{client}");
        clients.push(std::thread::spawn(move || {
            rest_client(http_addr, &tag, &context.0, &context.1)
        }));
        let context = (Arc::clone(ledger), Arc::clone(stop));
        let tag = format!("r{round}-unary{client}");
        clients.push(std::thread::spawn(move || {
            unary_client(grpc_addr, &tag, &context.0, &context.1)
        }));
        let context = (Arc::clone(ledger), Arc::clone(stop));
        let tag = format!("r{round}-stream{client}");
        clients.push(std::thread::spawn(move || {
            stream_client(grpc_addr, &tag, &context.0, &context.1)
        }));
    }
    clients
}

/// POSTs on one keep-alive connection until the connection dies.
fn rest_client(addr: SocketAddr, tag: &str, ledger: &Ledger, stop: &AtomicBool) {
    let Ok(connection) = Connection::try_open(addr, Duration::from_secs(5)) else {
        return;
    };
    let mut connection = connection.named(tag);
    for seq in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (name, description) = entity(tag, seq);
        ledger.send(&name, &description);
        let body = json!({ "name": name, "description": description }).to_string();
        let request = http::request_bytes("POST", "/entities", &[], body.as_bytes());
        if connection.try_send_raw(&request).is_err() {
            return;
        }
        let Some(response) = connection.try_read_response() else {
            return;
        };
        if response.status == 201 {
            let id = response.json()["id"].as_i64().expect("an integer id");
            ledger.acknowledge(id, &name);
        }
    }
}

/// CreateEntity calls, one at a time, until one fails.
fn unary_client(addr: SocketAddr, tag: &str, ledger: &Ledger, stop: &AtomicBool) {
    let client = grpc::separate_entity_client(addr);
    for seq in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (name, description) = entity(tag, seq);
        ledger.send(&name, &description);
        match client.create_entity_opt(&create_request(&name, &description), call_options()) {
            Ok(created) => ledger.acknowledge(created.id, &name),
            Err(_) => return,
        }
    }
}

/// CreateEntities streams of 1 to 16 entities until one fails.
fn stream_client(addr: SocketAddr, tag: &str, ledger: &Ledger, stop: &AtomicBool) {
    let client = grpc::separate_entity_client(addr);
    let mut rng = fastrand::Rng::with_seed(
        tag.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let mut seq = 0;
    while !stop.load(Ordering::SeqCst) {
        let size = 1 + rng.usize(..16);
        let batch: Vec<(String, String)> = (seq..seq + size).map(|s| entity(tag, s)).collect();
        seq += size;
        for (name, description) in &batch {
            ledger.send(name, description);
        }
        let requests = batch
            .iter()
            .map(|(name, description)| create_request(name, description))
            .collect();
        let Ok(response) = create_many(&client, call_options(), requests) else {
            return;
        };
        assert_eq!(response.ids.len(), batch.len(), "{tag}: one id per entity");
        for (id, (name, _)) in response.ids.iter().zip(&batch) {
            ledger.acknowledge(*id, name);
        }
    }
}
