//! `entity-service load`: a small gRPC load generator for the benchmark:
//! N threads making blocking unary GetEntity calls for D seconds, reporting
//! calls per second and latency percentiles. Works against any server of
//! `entities.v1.EntityService`, ours or the Python original.

use std::time::{Duration, Instant};

use crate::call_metadata::CallMetadata;
use crate::grpc::BlockingClient;

/// Deadline of each call.
const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// Options of the load generator.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Server address.
    #[arg(long, default_value = super::DEFAULT_ADDR)]
    addr: String,
    /// Concurrent calling threads.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The id every call asks for (it should exist).
    #[arg(long, default_value_t = 1)]
    id: i64,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the load; returns the exit code (1 when any call failed).
pub fn run_load(args: LoadArgs) -> i32 {
    let client = super::blocking_client(&args.addr, "grpc-load", CALL_DEADLINE);
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.threads)
        .map(|_| {
            let client = client.clone();
            let id = args.id;
            std::thread::spawn(move || call_until(&client, id, started + duration))
        })
        .collect();
    let mut latencies_us: Vec<u32> = Vec::new();
    let mut errors = 0u64;
    for worker in workers {
        let (latencies, failed) = worker.join().unwrap_or_default();
        latencies_us.extend(latencies);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies_us.len() as f64).ceil() as usize;
        f64::from(latencies_us[rank.clamp(1, latencies_us.len()) - 1]) / 1000.0
    };
    let calls = latencies_us.len() as u64;
    let rate = calls as f64 / elapsed;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "calls": calls,
                "errors": errors,
                "seconds": elapsed,
                "calls_per_sec": rate,
                "p50_ms": percentile(50.0),
                "p99_ms": percentile(99.0),
            })
        );
    } else {
        println!(
            "{calls} calls in {elapsed:.1} s: {rate:.0} calls/s, p50 {:.3} ms, p99 {:.3} ms, {errors} errors",
            percentile(50.0),
            percentile(99.0)
        );
    }
    i32::from(errors > 0)
}

/// One thread's loop: latencies of successful calls (µs) and the error count.
fn call_until(client: &BlockingClient, id: i64, until: Instant) -> (Vec<u32>, u64) {
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut errors = 0;
    while Instant::now() < until {
        let call_started = Instant::now();
        match client.get(id, CallMetadata::default()) {
            Ok(_) => {
                latencies.push(call_started.elapsed().as_micros().min(u32::MAX as u128) as u32)
            }
            Err(_) => errors += 1,
        }
    }
    (latencies, errors)
}
