//! `entity-service client …`: every EntityService RPC from the terminal.

use std::io::BufRead;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, TryStreamExt};
use grpcio::{CallOption, MetadataBuilder, RpcStatusCode, WriteFlags};

use super::output::{report, Printer};
use crate::proto::entities::{
    CreateEntityRequest, GetEntityRequest, ListEntitiesRequest, WatchEntitiesRequest,
};
use crate::proto::entities_grpc::EntityServiceClient;
use crate::status::Status;

/// Deadline of every call but `watch`, unless `--deadline-ms` says otherwise.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Options shared by every client command.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// Server address.
    #[arg(long, global = true, default_value = super::DEFAULT_ADDR, env = "ENTITY_CLIENT_ADDR")]
    addr: String,
    /// Call deadline in milliseconds (default 10000; `watch`: none).
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    deadline_ms: Option<u64>,
    /// Bearer token sent as `authorization: Bearer <token>`.
    #[arg(long, global = true, env = "ENTITY_AUTH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Extra metadata `key=value` (repeatable); `-bin` keys take base64 values.
    #[arg(long = "header", global = true, value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// Print one JSON object per line (the REST shapes).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ClientCommand {
    /// GetEntity.
    #[command(allow_negative_numbers = true)]
    Get { id: i64 },
    /// CreateEntity.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// ListEntities (server streaming).
    #[command(allow_negative_numbers = true)]
    List {
        #[arg(long, default_value_t = 1)]
        start_id: i64,
        /// 0 = all.
        #[arg(long, default_value_t = 0)]
        limit: u32,
    },
    /// WatchEntities (server streaming) until Ctrl-C or the deadline.
    #[command(allow_negative_numbers = true)]
    Watch {
        #[arg(long, default_value_t = 0)]
        after_id: i64,
    },
    /// CreateEntities (client streaming) from JSON lines `{"name":…,"description":…}`.
    Import {
        /// A file, or `-` for standard input.
        file: String,
    },
    /// LookupEntities (bidirectional streaming), one id at a time.
    #[command(allow_negative_numbers = true)]
    Lookup {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// grpc.health.v1.Health/Check; exits 1 unless SERVING.
    Health {
        /// The service name to check ("" = the whole server).
        #[arg(default_value = "")]
        service: String,
    },
}

/// Runs one client command; returns the process exit code.
pub fn run_client(args: ClientArgs) -> i32 {
    let printer = Printer { json: args.json };
    let options = match call_options(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    let channel = super::channel(&args.addr);
    if let ClientCommand::Health { service } = &args.command {
        return health(channel, service, options, printer);
    }
    let client = EntityServiceClient::new(channel);
    let result = match args.command {
        ClientCommand::Get { id } => get(&client, id, options, printer),
        ClientCommand::Create { name, description } => {
            create(&client, name, description, options, printer)
        }
        ClientCommand::List { start_id, limit } => list(&client, start_id, limit, options, printer),
        ClientCommand::Watch { after_id } => watch(&client, after_id, options, printer),
        ClientCommand::Import { file } => import(&client, &file, options, printer),
        ClientCommand::Lookup { ids } => lookup(&client, &ids, options, printer),
        ClientCommand::Health { .. } => unreachable!("answered above"),
    };
    match result {
        Ok(()) => 0,
        Err(status) => report(&status),
    }
}

/// The deadline and metadata for this run's call.
fn call_options(args: &ClientArgs) -> Result<CallOption, String> {
    let mut metadata = MetadataBuilder::new();
    if let Some(token) = &args.token {
        metadata
            .add_str("authorization", &format!("Bearer {token}"))
            .map_err(|e| format!("--token: {e}"))?;
    }
    for header in &args.headers {
        let (key, value) = header
            .split_once('=')
            .ok_or_else(|| format!("--header {header:?}: expected KEY=VALUE"))?;
        let added = if key.to_ascii_lowercase().ends_with("-bin") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|e| format!("--header {key}: value is not base64: {e}"))?;
            metadata.add_bytes(key, &bytes).map(|_| ())
        } else {
            metadata.add_str(key, value).map(|_| ())
        };
        added.map_err(|e| format!("--header {key}: {e}"))?;
    }
    let deadline = match (&args.command, args.deadline_ms) {
        (_, Some(ms)) => Some(Duration::from_millis(ms)),
        (ClientCommand::Watch { .. }, None) => None,
        (_, None) => Some(DEFAULT_DEADLINE),
    };
    let mut options = CallOption::default().headers(metadata.build());
    if let Some(deadline) = deadline {
        options = options.timeout(deadline);
    }
    Ok(options)
}

fn get(
    client: &EntityServiceClient,
    id: i64,
    options: CallOption,
    printer: Printer,
) -> Result<(), Status> {
    let mut request = GetEntityRequest::new();
    request.id = id;
    printer.entity(&client.get_entity_opt(&request, options)?);
    Ok(())
}

fn create(
    client: &EntityServiceClient,
    name: String,
    description: String,
    options: CallOption,
    printer: Printer,
) -> Result<(), Status> {
    let mut request = CreateEntityRequest::new();
    request.name = name;
    request.description = description;
    printer.entity(&client.create_entity_opt(&request, options)?);
    Ok(())
}

fn list(
    client: &EntityServiceClient,
    start_id: i64,
    limit: u32,
    options: CallOption,
    printer: Printer,
) -> Result<(), Status> {
    let mut request = ListEntitiesRequest::new();
    request.start_id = start_id;
    request.limit = limit;
    let mut stream = client.list_entities_opt(&request, options)?;
    while let Some(entity) = futures_executor::block_on(stream.try_next())? {
        printer.entity(&entity);
    }
    Ok(())
}

fn watch(
    client: &EntityServiceClient,
    after_id: i64,
    options: CallOption,
    printer: Printer,
) -> Result<(), Status> {
    let mut request = WatchEntitiesRequest::new();
    request.after_id = after_id;
    let mut stream = client.watch_entities_opt(&request, options)?;
    while let Some(entity) = futures_executor::block_on(stream.try_next())? {
        printer.entity(&entity);
    }
    Ok(())
}

/// One parsed line of an import file.
fn parse_import_line(line: &str) -> Result<CreateEntityRequest, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        name: String,
        #[serde(default)]
        description: String,
    }
    let parsed: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let mut request = CreateEntityRequest::new();
    request.name = parsed.name;
    request.description = parsed.description;
    Ok(request)
}

fn import(
    client: &EntityServiceClient,
    file: &str,
    options: CallOption,
    printer: Printer,
) -> Result<(), Status> {
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let opened = std::fs::File::open(file)
            .map_err(|e| Status::invalid_argument(format!("cannot open {file}: {e}")))?;
        Box::new(std::io::BufReader::new(opened))
    };
    let (mut sink, receiver) = client.create_entities_opt(options)?;
    // Line number (1-based) of each message sent, to name the line of a server-side error.
    let mut sent_lines: Vec<usize> = Vec::new();
    let mut local_error: Option<Status> = None;
    futures_executor::block_on(async {
        for (number, line) in input.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    local_error = Some(Status::invalid_argument(format!(
                        "line {number}: cannot read: {e}"
                    )));
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let request = match parse_import_line(&line) {
                Ok(request) => request,
                Err(e) => {
                    local_error = Some(Status::invalid_argument(format!("line {number}: {e}")));
                    break;
                }
            };
            sent_lines.push(number);
            if sink
                .send((request, WriteFlags::default().buffer_hint(true)))
                .await
                .is_err()
            {
                break; // the server ended the call; its status follows
            }
        }
        let _ = sink.close().await;
    });
    let response = match futures_executor::block_on(receiver) {
        Ok(response) => response,
        Err(error) => {
            let status = Status::from(error);
            return Err(name_failed_line(status, &sent_lines));
        }
    };
    match local_error {
        None => {
            printer.imported(response.created, &response.ids);
            Ok(())
        }
        Some(status) => {
            eprintln!("created {} entities before the bad line", response.created);
            Err(status)
        }
    }
}

/// Rewrites "entity at index K: …" into "line N: …" for the file's line.
fn name_failed_line(status: Status, sent_lines: &[usize]) -> Status {
    if status.code != RpcStatusCode::INVALID_ARGUMENT {
        return status;
    }
    let parsed = status
        .message
        .strip_prefix("entity at index ")
        .and_then(|rest| rest.split_once(": "))
        .and_then(|(index, reason)| Some((index.parse::<usize>().ok()?, reason)));
    match parsed.and_then(|(index, reason)| Some((sent_lines.get(index)?, index, reason))) {
        Some((line, index, reason)) => Status::invalid_argument(format!(
            "line {line}: {reason} ({index} entities before it were created)"
        )),
        None => status,
    }
}

fn lookup(
    client: &EntityServiceClient,
    ids: &[i64],
    options: CallOption,
    printer: Printer,
) -> Result<(), Status> {
    let (mut sink, mut answers) = client.lookup_entities_opt(options)?;
    futures_executor::block_on(async {
        for &id in ids {
            let mut request = GetEntityRequest::new();
            request.id = id;
            sink.send((request, WriteFlags::default())).await?;
            match answers.try_next().await? {
                Some(answer) => printer.lookup(&answer),
                None => return Err(Status::internal("the server ended the stream early")),
            }
        }
        super::close_stream(&mut sink).await?;
        while answers.try_next().await?.is_some() {}
        Ok(())
    })
}

/// Health.Check: prints the status; exit 0 only when SERVING.
fn health(channel: grpcio::Channel, service: &str, options: CallOption, printer: Printer) -> i32 {
    use crate::proto::health::health_check_response::ServingStatus;
    let client = crate::proto::health_grpc::HealthClient::new(channel);
    let mut request = crate::proto::health::HealthCheckRequest::new();
    request.service = service.to_string();
    match client.check_opt(&request, options) {
        Ok(reply) => {
            let status = match reply.status.enum_value() {
                Ok(status) => format!("{status:?}"),
                Err(number) => format!("UNKNOWN({number})"),
            };
            printer.health(&status);
            i32::from(reply.status.enum_value() != Ok(ServingStatus::SERVING))
        }
        Err(error) => report(&Status::from(error)),
    }
}
