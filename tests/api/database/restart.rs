//! The database server itself restarts under load (`pg_ctlcluster …
//! restart`, which ends every connection): both instances refuse creates
//! while it is down (503, UNAVAILABLE, nothing else), then create and watch
//! again without a restart of their own, nothing acknowledged lost and no
//! id skipped. It holds the server alone, since every other test uses it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::load::{grpc_loader, rest_loader, verify_table, Ledger};
use super::{assert_serves, start_on, triple, watch_through};
use crate::helpers::metrics::total;
use crate::helpers::postgres::{self, server_answers, TestDatabase};
use crate::helpers::prerequisites::requires;
use crate::helpers::wait::assert_eventually;

/// Where Debian keeps its clusters' configuration, one directory per version.
const CLUSTERS: &str = "/etc/postgresql";
/// The cluster `.ci/run` starts, which the default test URL points at.
const CLUSTER: &str = "main";
/// How long the server may take to stop and start (passed to pg_ctl).
const RESTART_SECONDS: u32 = 30;
/// How soon both instances must create again once the server is back.
const RECOVERY_LIMIT: Duration = Duration::from_secs(15);
/// How long the loaders get for their creates before the restart.
const LOAD_LIMIT: Duration = Duration::from_secs(20);

/// The newest cluster version under [`CLUSTERS`] with a [`CLUSTER`]
/// cluster that this process may restart (as root or as its owner).
fn restartable_cluster() -> Option<String> {
    let mut versions: Vec<(u32, String)> = std::fs::read_dir(CLUSTERS)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|version| Some((version.parse().ok()?, version)))
        .collect();
    versions.sort();
    let (_, version) = versions.pop()?;
    let owner = std::fs::metadata(Path::new(CLUSTERS).join(&version).join(CLUSTER))
        .ok()?
        .uid();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let tool = Command::new("pg_ctlcluster").arg("--help").output().is_ok();
    (tool && (me == 0 || me == owner)).then_some(version)
}

/// Restarts the cluster, failing the test if pg_ctlcluster does.
#[track_caller]
fn restart(version: &str) {
    let timeout = RESTART_SECONDS.to_string();
    let output = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, CLUSTER, "restart"])
        .args(["--", "-t", &timeout])
        .output()
        .expect("pg_ctlcluster runs");
    assert!(
        output.status.success(),
        "pg_ctlcluster restart: {:?}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_restart_of_the_server_under_load_loses_nothing_acknowledged() {
    let Some(_server) = postgres::server_alone() else {
        return;
    };
    let cluster = restartable_cluster();
    if !requires(
        "pg_ctlcluster and a cluster this process may restart",
        cluster.is_some(),
        "Debian's postgresql, run as root or the cluster's owner",
    ) {
        return;
    }
    let version = cluster.expect("checked");
    let db = TestDatabase::create();
    let instances = [start_on(&db.url()), start_on(&db.url())];
    let ledger = Ledger::new();
    let loaders = [
        rest_loader(instances[0].http_addr, "rest-0", &ledger),
        grpc_loader(instances[0].grpc_addr, "grpc-0", &ledger),
        rest_loader(instances[1].http_addr, "rest-1", &ledger),
        grpc_loader(instances[1].grpc_addr, "grpc-1", &ledger),
    ];
    ledger.wait_for_more(100, LOAD_LIMIT, "before the restart");

    restart(&version);
    assert_eventually(
        Duration::from_secs(RESTART_SECONDS.into()),
        server_answers,
        || "the server answers after its restart".into(),
    );
    ledger.wait_for_more(100, RECOVERY_LIMIT, "after the restart");
    drop(loaders);

    assert!(
        ledger.refusals() > 0,
        "no create was refused while the server was down"
    );
    let unexpected = ledger.unexpected_answers();
    assert!(
        unexpected.is_empty(),
        "answers other than 201/503/UNAVAILABLE: {unexpected:#?}"
    );
    let rows = verify_table(&db, &ledger);
    let stored: Vec<_> = rows.iter().map(|row| row.triple()).collect();
    for instance in &instances {
        let (seen, _) = watch_through(instance.grpc_addr, 0, stored.len() as i64);
        assert!(
            seen.iter().map(triple).eq(stored.iter().cloned()),
            "{}: a watch differs from the table",
            instance.grpc_addr
        );
        assert_serves(instance.grpc_addr, &stored);
        let metrics = instance.metrics_text();
        assert!(
            total(&metrics, "database_listener_reconnects_total") > 0.0,
            "{metrics}"
        );
    }
}
