//! The nginx front (`deploy/front.sh` with `deploy/nginx.conf`) in front of
//! the binary, run as children on free loopback ports. It exists for what
//! tiny_http 0.12 cannot be fixed from outside: each module sends through
//! the front what reaches tiny_http's flaws when sent to the service
//! directly, and checks that the service never sees it and stays whole.
//!
//! - `nginx`: the front as a child (`Front`), and whether nginx is there.
//! - `proxying`: ordinary traffic: keep-alive both ways, headers passed
//!   through, two instances load-balanced, one of them down.
//! - `framing`: message boundaries and what RFC 9112 refuses (Content-Length
//!   forms, chunked bodies never read, `Expect`, control bytes in the method).
//! - `exhaustion`: one request or connection must not take the service down:
//!   a huge Content-Length, HTTP/2.0 request lines, upgrade requests, bodies
//!   that stall or trickle, a stop while one trickles.
//! - `script`: `deploy/front.sh` itself: its errors.
//!
//! Without nginx each test says `*** not run: nginx missing … ***` and
//! passes, unless `CI` is set (`.ci/run` installs Debian's nginx).

mod exhaustion;
mod framing;
mod nginx;
mod proxying;
mod script;

use std::time::Duration;

use crate::helpers::child::{Binary, Server};
use crate::helpers::http::Response;

/// How long an instance may take to exit once stopped or killed, and other
/// waits on a child's state: hang bounds, not speed goals.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The binary as a child on free ports, with these extra flags.
#[track_caller]
fn instance(extra: &[&str]) -> Server {
    Binary::server(extra).serve()
}

/// A JSON error answer of this status in the service's shape: `{"error": …}`.
#[track_caller]
fn assert_json_error(response: &Response, status: u16) {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert!(
        body["error"].as_str().is_some_and(|text| !text.is_empty()),
        "a {status} should say why as {{\"error\": …}}: {body}"
    );
}
