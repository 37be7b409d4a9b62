//! The `entity-service` binary: `serve` (the default) runs the service.

use std::io::Write;

use clap::{Parser, Subcommand};
use entity_service::{cli, Config, Service};
use signal_hook::consts::{SIGINT, SIGTERM};

/// See Cargo.toml: requests are allocated on one thread and freed on another.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One entity store served over gRPC and a REST gateway.
#[derive(Parser)]
#[command(
    name = "entity-service",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve(Config),
    /// Call the service over gRPC: get, create, list, watch, import, lookup.
    Client(cli::ClientArgs),
    /// Show every RPC kind against a running server.
    Demo(cli::DemoArgs),
    /// gRPC load: threads of blocking GetEntity calls (for bench.sh).
    Load(cli::LoadArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(config)) => serve(&config),
        Some(Command::Client(args)) => {
            quiet_on_closed_stdout();
            cli::run_client(args)
        }
        Some(Command::Demo(args)) => {
            quiet_on_closed_stdout();
            cli::run_demo(args)
        }
        Some(Command::Load(args)) => cli::run_load(args),
    };
    std::process::exit(code);
}

/// Lets `client … | head` end quietly, as other command-line tools do,
/// instead of panicking on a write to a closed pipe.
fn quiet_on_closed_stdout() {
    // SAFETY: restores the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn serve(config: &Config) -> i32 {
    entity_service::logging::init();
    // Fail points named in FAILPOINTS (e.g. `entities::create=1*panic`), for
    // tests; compiled in only with the `failpoints` feature.
    #[cfg(feature = "failpoints")]
    let _fail_points = fail::FailScenario::setup();
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("error: cannot install signal handlers: {error}");
            return 1;
        }
    };
    let running = match Service::start(config) {
        Ok(running) => running,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "REST listening on http://{}", running.http_addr);
    let _ = writeln!(stdout, "gRPC listening on {}", running.grpc_addr);
    let _ = stdout.flush();
    drop(stdout);
    log::info!(
        "started: backend={:?} http_threads={} auth={}",
        config.backend,
        config.http_threads(),
        config.auth_token.is_some()
    );
    if let Some(signal) = signals.forever().next() {
        log::info!("signal {signal} received; stopping gracefully");
    }
    running.stop();
    0
}
