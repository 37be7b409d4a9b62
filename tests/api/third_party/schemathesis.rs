//! schemathesis against the release binary, from the service's own
//! `/openapi.json`: every check, and the examples, coverage, fuzzing and
//! stateful phases (the latter following the document's links from a create
//! to reading it), for both backends, with and without a token. It must find
//! nothing. Then the service's own metrics must agree: every status it
//! answered is documented for its operation (405 for other methods), none is
//! a 5xx, and the store holds exactly one entity per 201: no other request
//! changed it.
//!
//! `hooks.py` beside this file makes the negative runs send, for the create
//! body, arrays of the schema example's values in order: the shape serde
//! reads into a struct, which schemathesis's own type mutation (arrays of
//! arbitrary items) almost never produces.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tools;
use crate::helpers::child::Binary;
use crate::helpers::http;
use crate::helpers::lock::serial;
use crate::helpers::metrics::{sample, samples, scrape};
use crate::helpers::prerequisites::announce;

/// Test cases per operation and phase: enough to reach every check, bounded
/// so that the four runs take a few minutes on two cores.
const MAX_EXAMPLES: &str = "75";
/// A fixed seed keeps runs reproducible; `SCHEMATHESIS_SEED` picks another.
const DEFAULT_SEED: &str = "20261203";
/// A hang bound for one run, not a speed goal.
const RUN_LIMIT: Duration = Duration::from_secs(600);
const TOKEN: &str = "schemathesis-token";

#[test]
fn schemathesis_finds_nothing_grpc_backend_without_token() {
    fuzz("grpc", false);
}

#[test]
fn schemathesis_finds_nothing_grpc_backend_with_token() {
    fuzz("grpc", true);
}

#[test]
fn schemathesis_finds_nothing_direct_backend_without_token() {
    fuzz("direct", false);
}

#[test]
fn schemathesis_finds_nothing_direct_backend_with_token() {
    fuzz("direct", true);
}

fn fuzz(backend: &str, with_token: bool) {
    let Some(st) = tools::python_tool("st") else {
        return;
    };
    let _serial = serial();
    let mut flags = vec!["--backend", backend];
    if with_token {
        flags.extend(["--auth-token", TOKEN]);
    }
    let server = Binary::server(&flags).serve();
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let hooks = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/third_party/hooks.py"
    );
    let mut command = Command::new(st);
    command
        .current_dir(tools::dir())
        .env("SCHEMATHESIS_HOOKS", hooks)
        .arg("run")
        .arg(format!("http://{}/openapi.json", server.http_addr))
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
        // One worker: Hypothesis's caches are not safe across threads.
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"]);
    if with_token {
        command.args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
    }
    let started = Instant::now();
    let output = tools::run(&mut command, RUN_LIMIT);
    let what = format!(
        "schemathesis ({backend} backend, {})",
        if with_token {
            "with a token"
        } else {
            "no token"
        }
    );
    assert!(output.status.success(), "{what} failed:\n{}", output.both());
    let (operations, cases) = summary(&output.stdout);
    assert_eq!(
        operations, 9,
        "every operation but /openapi.json itself is tested"
    );
    announce(&format!(
        "{what}: {operations} operations, {cases} test cases, 0 failures, seed {seed}, {:.0?}",
        started.elapsed()
    ));

    let document = http::get(server.http_addr, "/openapi.json").json();
    let metrics = scrape(server.http_addr);
    let mut created = 0.0;
    for (labels, count) in http_requests(&metrics) {
        let (method, route, code) = (&labels["method"], &labels["route"], &labels["code"]);
        assert!(
            allowed(&document, method, route, code, with_token),
            "{what}: {count} × {method} {route} answered {code}, which is not documented"
        );
        if code == "201" {
            created += count;
        }
    }
    let stored = sample(&metrics, "entities", &[]).expect("the entities gauge");
    assert_eq!(
        stored, created,
        "{what}: one entity per 201, no other change"
    );
    assert!(created > 0.0, "{what}: the valid creates succeeded");
}

/// (operations tested, test cases generated) from schemathesis's summary.
fn summary(stdout: &str) -> (usize, usize) {
    let number_after = |label: &str| {
        stdout
            .lines()
            .skip_while(|line| !line.trim_start().starts_with(label))
            .find_map(|line| {
                let rest = line.trim_start().strip_prefix(label).unwrap_or(line).trim();
                rest.split_whitespace().next()?.parse().ok()
            })
    };
    let operations = number_after("Tested:").expect("the summary names the operations tested");
    let cases = number_after("Test cases:").expect("the summary counts the test cases");
    (operations, cases)
}

/// Every `http_requests_total` series: its labels and count.
fn http_requests(metrics: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    samples(metrics)
        .into_iter()
        .filter_map(|(series, count)| {
            let labels = series
                .strip_prefix("http_requests_total{")?
                .strip_suffix('}')?;
            let labels = labels
                .split("\",")
                .filter_map(|pair| {
                    let (key, value) = pair.split_once("=\"")?;
                    Some((key.to_string(), value.trim_end_matches('"').to_string()))
                })
                .collect();
            Some((labels, count))
        })
        .collect()
}

/// Whether the document allows this answer: a documented status of the
/// operation; 405 for a method the path does not serve; 404 for no route;
/// and 401 before anything else when a token is required.
fn allowed(document: &Value, method: &str, route: &str, code: &str, with_token: bool) -> bool {
    let method = if method == "HEAD" { "get" } else { method };
    let item = &document["paths"][route];
    let operation = &item[method.to_lowercase()];
    let protected = route == "unknown"
        || item
            .as_object()
            .is_some_and(|ops| ops.values().any(|op| op.get("security").is_some()));
    if code == "401" && with_token && protected {
        return true;
    }
    match (item.is_object(), operation.is_object()) {
        (_, true) => operation["responses"][code].is_object(),
        (true, false) => code == "405",
        (false, _) => route == "unknown" && code == "404",
    }
}
