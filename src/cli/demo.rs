//! `entity-service demo`: the seed's three lines (two entities and one not
//! found), then one short section per RPC kind, like the gRPC route_guide client.

use std::time::{Duration, Instant};

use grpcio::RpcStatusCode;

use super::output::{describe, report};
use crate::call_metadata::CallMetadata;
use crate::grpc::client::{bearer, create_request, ClientMetadata, EntityStream, MetadataValue};
use crate::grpc::BlockingClient;
use crate::proto::entities::CreateEntityRequest;
use crate::status::Status;

/// Options of the demo.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Server address.
    #[arg(long, default_value = super::DEFAULT_ADDR, env = "ENTITY_CLIENT_ADDR")]
    addr: String,
    /// Bearer token, for a server started with --auth-token.
    #[arg(long, env = "ENTITY_AUTH_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Deadline of each demo call.
const CALL_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline of the watch section, which is meant to expire.
const WATCH_DEADLINE: Duration = Duration::from_millis(800);

/// Runs the demo; returns the exit code.
pub fn run_demo(args: DemoArgs) -> i32 {
    let client = super::blocking_client(&args.addr, "grpc-demo", CALL_DEADLINE);
    let metadata = ClientMetadata {
        authorization: args.token.as_deref().map(bearer),
        extra: Vec::new(),
    };
    let client = match client.with_metadata(metadata.clone()) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: {}", super::usage_error(error));
            return 2;
        }
    };
    let demo = Demo { client, metadata };
    match demo.run() {
        Ok(()) => 0,
        Err(status) => report(&status),
    }
}

struct Demo {
    client: BlockingClient,
    /// The token, for the metadata section's client with its extra entries.
    metadata: ClientMetadata,
}

/// The demo sends no per-call metadata: the token is the client's.
const CALL: CallMetadata = CallMetadata {
    request_id: None,
    authorization: None,
};

fn banner(title: &str) {
    println!();
    println!("== {title} ==");
}

impl Demo {
    fn run(&self) -> Result<(), Status> {
        let last_id = self.seed_lines()?;
        self.list_section(last_id)?;
        let streamed_id = self.create_stream_section()?;
        self.lookup_section(last_id)?;
        let watched_id = self.watch_section(streamed_id)?;
        self.metadata_section(last_id)?;
        self.cancel_section(watched_id)?;
        Ok(())
    }

    /// Creates two entities and prints the first, the second and a missing one.
    fn seed_lines(&self) -> Result<i64, Status> {
        let create = |name: &str, description: &str| {
            self.client
                .create(name.to_string(), description.to_string(), CALL)
        };
        let first = create("Ada Lovelace", "wrote the first program")?;
        let second = create("Grace Hopper", "built the first compiler")?;
        for id in [first.id, second.id, second.id + 1] {
            match self.client.get(id, CALL) {
                Ok(entity) => println!("{}", describe(&entity)),
                Err(status) if status.code == RpcStatusCode::NOT_FOUND => {
                    println!("entity {id} not found")
                }
                Err(status) => return Err(status),
            }
        }
        Ok(second.id)
    }

    fn list_section(&self, last_id: i64) -> Result<(), Status> {
        banner("ListEntities (server streaming): the last two entities");
        let stream = EntityStream::List {
            start_id: last_id - 1,
            limit: 2,
        };
        self.client
            .each_entity(stream, CALL, |entity| println!("  {}", describe(&entity)))
    }

    /// Returns the last id created.
    fn create_stream_section(&self) -> Result<i64, Status> {
        banner("CreateEntities (client streaming): three entities in one call");
        let names = ["Alan Turing", "Edsger Dijkstra", "Barbara Liskov"];
        let response = self.client.create_many(sending(&names), CALL)?;
        println!(
            "  created {} entities: ids {:?}",
            response.created, response.ids
        );
        response
            .ids
            .last()
            .copied()
            .ok_or_else(|| Status::internal("CreateEntities returned no ids"))
    }

    fn lookup_section(&self, last_id: i64) -> Result<(), Status> {
        banner("LookupEntities (bidirectional streaming): ping-pong, one id at a time");
        let ids = [last_id, last_id - 1, 0, last_id + 1_000_000];
        self.client.lookup(ids, CALL, |id, answer| {
            match answer.entity.into_option().filter(|_| answer.found) {
                Some(entity) => println!("  asked {id} -> {}", describe(&entity.into())),
                None => println!("  asked {id} -> not found"),
            }
        })
    }

    /// Watches from just before `recent_id`; returns the id created live.
    fn watch_section(&self, recent_id: i64) -> Result<i64, Status> {
        banner(&format!(
            "WatchEntities (server streaming) with a {} ms deadline",
            WATCH_DEADLINE.as_millis()
        ));
        // Create one entity while the watch is open, to show a live update.
        let client = self.client.clone();
        let creator = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            client.create("Katherine Johnson".into(), "live update".into(), CALL)
        });
        let stream = EntityStream::Watch {
            after_id: recent_id - 1,
        };
        let started = Instant::now();
        let watched = self
            .client
            .clone()
            .with_deadline(Some(WATCH_DEADLINE))
            .each_entity(stream, CALL, |entity| {
                println!("  watched {}", describe(&entity))
            });
        match watched {
            Ok(()) => println!("  the stream ended"),
            Err(status) if status.code == RpcStatusCode::DEADLINE_EXCEEDED => println!(
                "  DEADLINE_EXCEEDED after {} ms, as expected: a watch runs until its deadline",
                started.elapsed().as_millis()
            ),
            Err(status) => return Err(status),
        }
        let live = creator
            .join()
            .map_err(|_| Status::internal("creator thread panicked"))??;
        Ok(live.id)
    }

    fn metadata_section(&self, last_id: i64) -> Result<(), Status> {
        banner("Metadata round-trip: x-request-id, x-echo-initial, x-echo-bin");
        let binary: &[u8] = &[0x00, 0xff, 0x10, 0x80];
        let text = |value: &str| MetadataValue::Text(value.to_string());
        let mut metadata = self.metadata.clone();
        metadata.extra = vec![
            ("x-request-id".into(), text("demo-request-1")),
            ("x-echo-initial".into(), text("hello from the demo")),
            ("x-echo-bin".into(), MetadataValue::Binary(binary.to_vec())),
        ];
        let client = self
            .client
            .clone()
            .with_metadata(metadata)
            .map_err(|e| Status::internal(e.to_string()))?;
        let (headers, _) = client.get_with_headers(last_id, CALL)?;
        for (key, value) in headers.iter() {
            if key.ends_with("-bin") {
                let hex: Vec<String> = value.iter().map(|b| format!("{b:02x}")).collect();
                let same = if value == binary {
                    "same bytes as sent"
                } else {
                    "DIFFERENT from what was sent"
                };
                println!("  {key}: {} ({same})", hex.join(" "));
            } else if key.starts_with("x-") {
                println!("  {key}: {}", String::from_utf8_lossy(value));
            }
        }
        Ok(())
    }

    /// Streams two creates after `before`, then cancels the call.
    fn cancel_section(&self, before: i64) -> Result<(), Status> {
        banner("Cancelled client stream: what was created before the cancel stays");
        // Wait until the server has stored both, then cancel mid-stream.
        let stored_both = || -> Result<(), Status> {
            let waited = Instant::now();
            while !self.exists(before + 2)? && waited.elapsed() < CALL_DEADLINE {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        };
        let ended = self.client.create_then_cancel(
            sending(&["kept one", "kept two"]),
            CALL,
            stored_both,
        )?;
        match ended {
            Err(status) => println!("  call ended: {}", status.code_name()),
            Ok(_) => println!("  call ended: OK"),
        }
        let stream = EntityStream::List {
            start_id: before + 1,
            limit: 0,
        };
        self.client.each_entity(stream, CALL, |entity| {
            println!("  still stored: {}", describe(&entity))
        })
    }

    /// Whether an entity with this id is stored.
    fn exists(&self, id: i64) -> Result<bool, Status> {
        match self.client.get(id, CALL) {
            Ok(_) => Ok(true),
            Err(status) if status.code == RpcStatusCode::NOT_FOUND => Ok(false),
            Err(status) => Err(status),
        }
    }
}

/// Create requests without a description, each announced as it is sent.
fn sending<'a>(names: &'a [&'a str]) -> impl Iterator<Item = CreateEntityRequest> + 'a {
    names.iter().map(|name| {
        println!("  sending {name:?}");
        create_request(*name, "")
    })
}
