//! `entity-service demo`: the seed's three lines (two entities and one not
//! found), then one short section per RPC kind, like the gRPC route_guide client.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, TryStreamExt};
use grpcio::{CallOption, MetadataBuilder, RpcStatusCode, WriteFlags};

use super::output::{describe, report};
use crate::proto::entities::{
    CreateEntityRequest, GetEntityRequest, ListEntitiesRequest, WatchEntitiesRequest,
};
use crate::proto::entities_grpc::EntityServiceClient;
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
    let demo = Demo {
        client: EntityServiceClient::new(super::channel(&args.addr)),
        token: args.token,
    };
    match demo.run() {
        Ok(()) => 0,
        Err(status) => report(&status),
    }
}

struct Demo {
    client: EntityServiceClient,
    token: Option<String>,
}

fn banner(title: &str) {
    println!();
    println!("== {title} ==");
}

fn create_request(name: &str, description: &str) -> CreateEntityRequest {
    let mut request = CreateEntityRequest::new();
    request.name = name.to_string();
    request.description = description.to_string();
    request
}

impl Demo {
    fn options(&self, deadline: Duration) -> CallOption {
        self.options_with(deadline, MetadataBuilder::new())
    }

    fn options_with(&self, deadline: Duration, mut metadata: MetadataBuilder) -> CallOption {
        if let Some(token) = &self.token {
            let _ = metadata.add_str("authorization", &format!("Bearer {token}"));
        }
        CallOption::default()
            .timeout(deadline)
            .headers(metadata.build())
    }

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
        let first = self.client.create_entity_opt(
            &create_request("Ada Lovelace", "wrote the first program"),
            self.options(CALL_DEADLINE),
        )?;
        let second = self.client.create_entity_opt(
            &create_request("Grace Hopper", "built the first compiler"),
            self.options(CALL_DEADLINE),
        )?;
        for id in [first.id, second.id, second.id + 1] {
            let mut request = GetEntityRequest::new();
            request.id = id;
            match self
                .client
                .get_entity_opt(&request, self.options(CALL_DEADLINE))
            {
                Ok(entity) => println!("{}", describe(&entity)),
                Err(error) => {
                    let status = Status::from(error);
                    if status.code != RpcStatusCode::NOT_FOUND {
                        return Err(status);
                    }
                    println!("entity {id} not found");
                }
            }
        }
        Ok(second.id)
    }

    fn list_section(&self, last_id: i64) -> Result<(), Status> {
        banner("ListEntities (server streaming): the last two entities");
        let mut request = ListEntitiesRequest::new();
        request.start_id = last_id - 1;
        request.limit = 2;
        let mut stream = self
            .client
            .list_entities_opt(&request, self.options(CALL_DEADLINE))?;
        while let Some(entity) = futures_executor::block_on(stream.try_next())? {
            println!("  {}", describe(&entity));
        }
        Ok(())
    }

    /// Returns the last id created.
    fn create_stream_section(&self) -> Result<i64, Status> {
        banner("CreateEntities (client streaming): three entities in one call");
        let (mut sink, receiver) = self
            .client
            .create_entities_opt(self.options(CALL_DEADLINE))?;
        let names = ["Alan Turing", "Edsger Dijkstra", "Barbara Liskov"];
        futures_executor::block_on(async {
            for name in names {
                println!("  sending {name:?}");
                sink.send((create_request(name, ""), WriteFlags::default()))
                    .await?;
            }
            super::close_stream(&mut sink).await
        })?;
        let response = futures_executor::block_on(receiver)?;
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
        let (mut sink, mut answers) = self
            .client
            .lookup_entities_opt(self.options(CALL_DEADLINE))?;
        futures_executor::block_on(async {
            for id in [last_id, last_id - 1, 0, last_id + 1_000_000] {
                let mut request = GetEntityRequest::new();
                request.id = id;
                sink.send((request, WriteFlags::default())).await?;
                let answer = answers
                    .try_next()
                    .await?
                    .ok_or_else(|| Status::internal("stream ended early"))?;
                match answer.entity.as_ref().filter(|_| answer.found) {
                    Some(entity) => println!("  asked {id} -> {}", describe(entity)),
                    None => println!("  asked {id} -> not found"),
                }
            }
            super::close_stream(&mut sink).await?;
            while answers.try_next().await?.is_some() {}
            Ok::<(), Status>(())
        })
    }

    /// Watches from just before `recent_id`; returns the id created live.
    fn watch_section(&self, recent_id: i64) -> Result<i64, Status> {
        banner(&format!(
            "WatchEntities (server streaming) with a {} ms deadline",
            WATCH_DEADLINE.as_millis()
        ));
        let mut request = WatchEntitiesRequest::new();
        request.after_id = recent_id - 1;
        let mut stream = self
            .client
            .watch_entities_opt(&request, self.options(WATCH_DEADLINE))?;
        // Create one entity while the watch is open, to show a live update.
        let client = self.client.clone();
        let live = self.options(CALL_DEADLINE);
        let creator = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            client.create_entity_opt(&create_request("Katherine Johnson", "live update"), live)
        });
        let started = Instant::now();
        loop {
            match futures_executor::block_on(stream.try_next()) {
                Ok(Some(entity)) => println!("  watched {}", describe(&entity)),
                Ok(None) => {
                    println!("  the stream ended");
                    break;
                }
                Err(error) => {
                    let status = Status::from(error);
                    if status.code != RpcStatusCode::DEADLINE_EXCEEDED {
                        return Err(status);
                    }
                    println!(
                        "  DEADLINE_EXCEEDED after {} ms, as expected: a watch runs until its deadline",
                        started.elapsed().as_millis()
                    );
                    break;
                }
            }
        }
        let live = creator
            .join()
            .map_err(|_| Status::internal("creator thread panicked"))??;
        Ok(live.id)
    }

    fn metadata_section(&self, last_id: i64) -> Result<(), Status> {
        banner("Metadata round-trip: x-request-id, x-echo-initial, x-echo-bin");
        let binary: &[u8] = &[0x00, 0xff, 0x10, 0x80];
        let mut metadata = MetadataBuilder::new();
        metadata
            .add_str("x-request-id", "demo-request-1")
            .and_then(|m| m.add_str("x-echo-initial", "hello from the demo"))
            .and_then(|m| m.add_bytes("x-echo-bin", binary))
            .map_err(|e| Status::internal(e.to_string()))?;
        let mut request = GetEntityRequest::new();
        request.id = last_id;
        let mut call = self
            .client
            .get_entity_async_opt(&request, self.options_with(CALL_DEADLINE, metadata))?;
        let (headers, _, _) = call.receive_sync()?;
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
        let (mut sink, mut receiver) = self
            .client
            .create_entities_opt(self.options(CALL_DEADLINE))?;
        futures_executor::block_on(async {
            for name in ["kept one", "kept two"] {
                println!("  sending {name:?}");
                sink.send((create_request(name, ""), WriteFlags::default()))
                    .await?;
            }
            Ok::<(), Status>(())
        })?;
        // Wait until the server has stored both, then cancel mid-stream.
        let waited = Instant::now();
        while !self.exists(before + 2)? && waited.elapsed() < CALL_DEADLINE {
            std::thread::sleep(Duration::from_millis(10));
        }
        receiver.cancel();
        drop(sink);
        match futures_executor::block_on(receiver) {
            Err(error) => println!("  call ended: {}", Status::from(error).code_name()),
            Ok(_) => println!("  call ended: OK"),
        }
        let mut request = ListEntitiesRequest::new();
        request.start_id = before + 1;
        let mut stream = self
            .client
            .list_entities_opt(&request, self.options(CALL_DEADLINE))?;
        while let Some(entity) = futures_executor::block_on(stream.try_next())? {
            println!("  still stored: {}", describe(&entity));
        }
        Ok(())
    }

    /// Whether an entity with this id is stored.
    fn exists(&self, id: i64) -> Result<bool, Status> {
        let mut request = GetEntityRequest::new();
        request.id = id;
        match self
            .client
            .get_entity_opt(&request, self.options(CALL_DEADLINE))
        {
            Ok(_) => Ok(true),
            Err(error) => match Status::from(error) {
                status if status.code == RpcStatusCode::NOT_FOUND => Ok(false),
                status => Err(status),
            },
        }
    }
}
