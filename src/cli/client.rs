//! `entity-service client …`: every EntityService RPC from the terminal.

use std::io::BufRead;
use std::time::Duration;

use base64::Engine as _;
use grpcio::RpcStatusCode;

use super::output::{report, Printer};
use crate::call_metadata::CallMetadata;
use crate::grpc::client::{bearer, create_request, ClientMetadata, EntityStream, MetadataValue};
use crate::grpc::BlockingClient;
use crate::proto::entities::CreateEntityRequest;
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
    let client = match connect(&args) {
        Ok(client) => client,
        Err(message) => {
            eprintln!("error: {message}");
            return 2;
        }
    };
    let call = CallMetadata::default();
    let result = match args.command {
        ClientCommand::Get { id } => client.get(id, call).map(|e| printer.entity(&e)),
        ClientCommand::Create { name, description } => client
            .create(name, description, call)
            .map(|e| printer.entity(&e)),
        ClientCommand::List { start_id, limit } => {
            let stream = EntityStream::List { start_id, limit };
            client.each_entity(stream, call, |e| printer.entity(&e))
        }
        ClientCommand::Watch { after_id } => {
            let stream = EntityStream::Watch { after_id };
            client.each_entity(stream, call, |e| printer.entity(&e))
        }
        ClientCommand::Import { file } => import(&client, &file, printer),
        ClientCommand::Lookup { ids } => {
            client.lookup(ids, call, |_, answer| printer.lookup(answer))
        }
        ClientCommand::Health { service } => return health(&client, &service, printer),
    };
    match result {
        Ok(()) => 0,
        Err(status) => report(&status),
    }
}

/// The client for this run: its deadline and metadata; Err is a usage error.
fn connect(args: &ClientArgs) -> Result<BlockingClient, String> {
    let metadata = ClientMetadata {
        authorization: args.token.as_deref().map(bearer),
        extra: args
            .headers
            .iter()
            .map(|header| parse_header(header))
            .collect::<Result<_, _>>()?,
    };
    let deadline = match (&args.command, args.deadline_ms) {
        (_, Some(ms)) => Some(Duration::from_millis(ms)),
        (ClientCommand::Watch { .. }, None) => None,
        (_, None) => Some(DEFAULT_DEADLINE),
    };
    super::blocking_client(&args.addr, "grpc-cli", DEFAULT_DEADLINE)
        .with_deadline(deadline)
        .with_metadata(metadata)
        .map_err(super::usage_error)
}

/// One `--header KEY=VALUE`; the value of a `-bin` key is base64.
fn parse_header(header: &str) -> Result<(String, MetadataValue), String> {
    let (key, value) = header
        .split_once('=')
        .ok_or_else(|| format!("--header {header:?}: expected KEY=VALUE"))?;
    let value = if key.to_ascii_lowercase().ends_with("-bin") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|e| format!("--header {key}: value is not base64: {e}"))?;
        MetadataValue::Binary(bytes)
    } else {
        MetadataValue::Text(value.to_string())
    };
    Ok((key.to_string(), value))
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
    Ok(create_request(parsed.name, parsed.description))
}

fn import(client: &BlockingClient, file: &str, printer: Printer) -> Result<(), Status> {
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let opened = std::fs::File::open(file)
            .map_err(|e| Status::invalid_argument(format!("cannot open {file}: {e}")))?;
        Box::new(std::io::BufReader::new(opened))
    };
    // Line number (1-based) of each message sent, to name the line of a server-side error.
    let mut sent_lines: Vec<usize> = Vec::new();
    let mut local_error: Option<Status> = None;
    let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
    let requests = std::iter::from_fn(|| loop {
        let (number, line) = lines.next()?;
        let parsed = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => parse_import_line(&line),
            Err(e) => Err(format!("cannot read: {e}")),
        };
        match parsed {
            Ok(request) => {
                sent_lines.push(number);
                return Some(request);
            }
            Err(e) => {
                local_error = Some(Status::invalid_argument(format!("line {number}: {e}")));
                return None;
            }
        }
    });
    let response = client
        .create_many(requests, CallMetadata::default())
        .map_err(|status| name_failed_line(status, &sent_lines))?;
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

/// Health.Check: prints the status; exit 0 only when SERVING.
fn health(client: &BlockingClient, service: &str, printer: Printer) -> i32 {
    use crate::proto::health::health_check_response::ServingStatus;
    match client.health_status(service, CallMetadata::default()) {
        Ok(reply) => {
            let status = match reply.enum_value() {
                Ok(status) => format!("{status:?}"),
                Err(number) => format!("UNKNOWN({number})"),
            };
            printer.health(&status);
            i32::from(reply.enum_value() != Ok(ServingStatus::SERVING))
        }
        Err(status) => report(&status),
    }
}
