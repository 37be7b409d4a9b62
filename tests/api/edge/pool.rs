//! tiny_http starts a thread per open connection and lets an idle one end
//! after 5 s without work; the listener's heartbeat (a short connection the
//! service makes to itself) is such work. After a burst of connections the
//! threads must go back to about what they were, not be kept alive.

use std::time::Duration;

use crate::helpers::child::Binary;
use crate::helpers::http::Connection;
use crate::helpers::wait::wait_until;

/// Connections held open together in the burst.
const BURST: usize = 100;
/// Threads above the baseline still allowed once the burst is over.
const SLACK: usize = 12;
/// How long the threads may take to go back: a hang bound (idle pool
/// threads end 5 s after their last task).
const SETTLE_LIMIT: Duration = Duration::from_secs(25);

#[test]
fn threads_return_to_their_baseline_after_a_burst_of_connections() {
    let server = Binary::server(&[]).serve();
    let threads = || server.threads().expect("the child's thread count");
    let baseline = threads();
    let burst: Vec<Connection> = (0..BURST)
        .map(|i| {
            let mut connection = Connection::open(server.http_addr).named(format!("burst {i}"));
            assert_eq!(connection.request("GET", "/healthz", &[], b"").status, 200);
            connection
        })
        .collect();
    let peak = threads();
    assert!(
        peak >= baseline + BURST / 2,
        "the burst should grow the pool: {baseline} -> {peak}"
    );
    drop(burst);
    let settled = wait_until(SETTLE_LIMIT, || threads() <= baseline + SLACK);
    assert!(
        settled,
        "threads stay at {} after the burst (baseline {baseline}, peak {peak})",
        threads()
    );
}
