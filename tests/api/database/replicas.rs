//! Two instances on one database are one store: what one acknowledged,
//! the other serves at once, through every read; creates on both at once
//! take ids 1..N without a hole or a repeat; every watch, on either
//! instance, sees all of them in id order, and resumes after an id on
//! the other instance.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};

use entity_service::BackendKind;
use serde_json::json;

use super::{
    all_entities, assert_serves, assert_table_figures, grpc_created, open_watch, rest_created,
    start_on, start_on_with, table_row, take_in_order, triple,
};
use crate::helpers::grpc::{self, call_options, create_many, create_request, get_request};
use crate::helpers::http::{self, entity_json};
use crate::helpers::postgres::{self, TestDatabase};
use crate::helpers::TestService;

/// Creates on each instance in the concurrent test: per thread, and threads.
const CREATES_PER_THREAD: usize = 50;
const THREADS: usize = 8;
/// Entities per CreateEntities call of the streaming threads.
const STREAM_BATCH: usize = 5;

/// The five ways to read one entity, each the first read after its create.
#[derive(Clone, Copy, Debug)]
enum Read {
    RestGet,
    RestList,
    GrpcGet,
    GrpcList,
    GrpcLookup,
}

const READS: [Read; 5] = [
    Read::RestGet,
    Read::RestList,
    Read::GrpcGet,
    Read::GrpcList,
    Read::GrpcLookup,
];

/// Reads entity `id` on `service` the `read` way; (id, name, description),
/// or None when the instance says it does not exist.
#[track_caller]
fn read_one(service: &TestService, read: Read, id: i64) -> Option<(i64, String, String)> {
    let client = grpc::entity_client(service.grpc_addr);
    let from_json = |value: &serde_json::Value| {
        (
            value["id"].as_i64().expect("an id"),
            value["name"].as_str().expect("a name").to_string(),
            value["description"]
                .as_str()
                .expect("a description")
                .to_string(),
        )
    };
    match read {
        Read::RestGet => {
            let response = http::get(service.http_addr, &format!("/entities/{id}"));
            match response.status {
                200 => Some(from_json(&response.json())),
                404 => None,
                status => panic!("GET /entities/{id}: {status} {}", response.text()),
            }
        }
        Read::RestList => {
            let response = http::get(service.http_addr, &format!("/entities?start_id={id}"));
            assert_eq!(response.status, 200, "{}", response.text());
            let list = response.json();
            let list = list.as_array().expect("an array");
            list.first().map(from_json).filter(|found| found.0 == id)
        }
        Read::GrpcGet => match client.get_entity_opt(&get_request(id), call_options()) {
            Ok(entity) => Some(triple(&entity)),
            Err(error) => {
                assert_eq!(grpc::status_code(error), grpcio::RpcStatusCode::NOT_FOUND);
                None
            }
        },
        Read::GrpcList => {
            let stream = client
                .list_entities_opt(&grpc::list_request(id, 1), call_options())
                .expect("list starts");
            let list = grpc::collect(stream).expect("list succeeds");
            list.first().map(triple).filter(|found| found.0 == id)
        }
        Read::GrpcLookup => grpc::lookup_each(&client, &[id])[0].as_ref().map(triple),
    }
}

#[test]
fn what_one_instance_acknowledged_the_other_reads_at_once() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let mut tables = db.client();
    // One answers REST through its gRPC hop, the other straight from its store.
    let hop = start_on(&db.url());
    let direct = start_on_with(&db.url(), |c| c.backend = BackendKind::Direct);
    let mut expected = Vec::new();
    for i in 0..30_i64 {
        let (writer, reader) = if i % 2 == 0 {
            (&hop, &direct)
        } else {
            (&direct, &hop)
        };
        let name = format!("entity {}", i + 1);
        let description = format!("written on {}", if i % 2 == 0 { "hop" } else { "direct" });
        let id = if i % 4 < 2 {
            rest_created(writer.http_addr, &name, &description)
        } else {
            grpc_created(writer.grpc_addr, &name, &description)
        };
        assert_eq!(id, i + 1);
        let entity = (id, name.clone(), description.clone());
        // Acknowledged only once committed: the table already has it.
        let row = table_row(&mut tables, id).map(|row| row.triple());
        assert_eq!(
            row.as_ref(),
            Some(&entity),
            "in the table when acknowledged"
        );
        // The other instance's first read after the answer sees it; the
        // read kinds rotate so that each is first after some creates.
        let read = READS[(i % 5) as usize];
        assert_eq!(
            read_one(reader, read, id).as_ref(),
            Some(&entity),
            "{read:?} of {id} right after its create on the other instance"
        );
        expected.push(entity);
    }
    for service in [&hop, &direct] {
        let served: Vec<_> = all_entities(service.grpc_addr).iter().map(triple).collect();
        assert_eq!(served, expected);
        let rest = http::get(service.http_addr, "/entities?limit=1000").json();
        let rest_expected: Vec<_> = expected
            .iter()
            .map(|(id, name, description)| entity_json(*id, name, description))
            .collect();
        assert_eq!(rest, json!(rest_expected));
        for read in READS {
            assert_eq!(
                read_one(service, read, 31),
                None,
                "{read:?} of a missing id"
            );
        }
    }
    assert_table_figures(&db, 30);
}

/// How one creating thread reaches its instance.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Rest,
    Unary,
    Stream,
}

/// Creates `CREATES_PER_THREAD` entities named `{tag}-{seq}`; the
/// acknowledged (id, name) pairs.
fn create_all(
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    kind: Kind,
    tag: &str,
) -> Vec<(i64, String)> {
    let names: Vec<String> = (0..CREATES_PER_THREAD)
        .map(|seq| format!("{tag}-{seq}"))
        .collect();
    let description = |name: &str| format!("made by {name}");
    match kind {
        Kind::Rest => {
            let mut connection = http::Connection::open(http_addr);
            names
                .into_iter()
                .map(|name| {
                    let body = json!({ "name": name, "description": description(&name) });
                    let response =
                        connection.request("POST", "/entities", &[], body.to_string().as_bytes());
                    assert_eq!(response.status, 201, "{name}: {}", response.text());
                    (response.json()["id"].as_i64().expect("an id"), name)
                })
                .collect()
        }
        Kind::Unary => {
            let client = grpc::separate_entity_client(grpc_addr);
            names
                .into_iter()
                .map(|name| {
                    let request = create_request(&name, &description(&name));
                    let created = client
                        .create_entity_opt(&request, call_options())
                        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
                    (created.id, name)
                })
                .collect()
        }
        Kind::Stream => {
            let client = grpc::separate_entity_client(grpc_addr);
            let mut acknowledged = Vec::new();
            for batch in names.chunks(STREAM_BATCH) {
                let requests = batch
                    .iter()
                    .map(|name| create_request(name, &description(name)))
                    .collect();
                let response = create_many(&client, call_options(), requests)
                    .unwrap_or_else(|e| panic!("{tag}: CreateEntities: {e:?}"));
                assert_eq!(response.ids.len(), batch.len(), "one id per entity");
                acknowledged.extend(response.ids.iter().copied().zip(batch.iter().cloned()));
            }
            acknowledged
        }
    }
}

#[test]
fn concurrent_creates_on_two_instances_take_every_id_once_and_every_watch_sees_them() {
    let Some(_server) = postgres::server() else {
        return;
    };
    let db = TestDatabase::create();
    let instances = [start_on(&db.url()), start_on(&db.url())];
    let mut watches = [
        open_watch(instances[0].grpc_addr, 0),
        open_watch(instances[1].grpc_addr, 0),
    ];
    let start = Arc::new(Barrier::new(THREADS));
    let kinds = [Kind::Rest, Kind::Unary, Kind::Stream, Kind::Rest];
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let instance = &instances[t / kinds.len() % 2];
            let (http_addr, grpc_addr) = (instance.http_addr, instance.grpc_addr);
            let kind = kinds[t % kinds.len()];
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                create_all(http_addr, grpc_addr, kind, &format!("t{t}-{kind:?}"))
            })
        })
        .collect();
    let mut acknowledged: Vec<(i64, String)> = threads
        .into_iter()
        .flat_map(|thread| thread.join().expect("a creating thread"))
        .collect();
    acknowledged.sort();
    let total = THREADS * CREATES_PER_THREAD;
    let ids: Vec<i64> = acknowledged.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=total as i64).collect::<Vec<_>>(), "every id once");

    assert_table_figures(&db, total as i64);
    let rows = super::table_rows(&mut db.client());
    let by_id: HashMap<i64, String> = acknowledged.into_iter().collect();
    for row in &rows {
        let (id, name, description) = row.triple();
        assert_eq!(Some(&name), by_id.get(&id), "row {id}");
        assert_eq!(description, format!("made by {name}"), "row {id}");
    }
    let stored: Vec<_> = rows.iter().map(|row| row.triple()).collect();
    for watch in &mut watches {
        let seen: Vec<_> = take_in_order(watch, 0, total).iter().map(triple).collect();
        assert!(
            seen == stored,
            "a watch saw other entities than the table holds"
        );
    }
    for instance in &instances {
        assert_serves(instance.grpc_addr, &stored);
    }

    // A client that watched one instance up to 200 resumes on the other,
    // and goes on seeing what either creates.
    let mut expected = stored;
    for (resume_on, create_on) in [(1, 0), (0, 1)] {
        let after = 200;
        let mut resumed = open_watch(instances[resume_on].grpc_addr, after);
        let replay = take_in_order(&mut resumed, after, expected.len() - after as usize);
        assert!(
            replay
                .iter()
                .map(triple)
                .eq(expected[after as usize..].iter().cloned()),
            "the resumed watch replays the table after {after}"
        );
        let name = format!("after resume on {resume_on}");
        let next = rest_created(instances[create_on].http_addr, &name, "");
        let live = take_in_order(&mut resumed, next - 1, 1);
        assert_eq!(triple(&live[0]), (next, name.clone(), String::new()));
        expected.push((next, name, String::new()));
    }
    assert_table_figures(&db, total as i64 + 2);
}
