//! The REST edge against hostile clients: message framing that could let a
//! body run as a request, protocol upgrades, bodies that stop or trickle,
//! graceful stops with requests already sent, forged log lines, an empty
//! token, and a declared body length no buffer can hold. Each case talks to
//! the real service (in-process, or the binary where a signal or a crash
//! matters) over a raw socket.
//!
//! - `framing`: invalid or conflicting lengths, unread bodies, `Expect`.
//! - `upgrade`: `Connection: upgrade` and `Upgrade` refused at once.
//! - `slow_bodies`: the body timeout for stalled, trickled and oversized bodies.
//! - `stop`: a graceful stop answers what was sent before it.
//! - `pool`: tiny_http's connection threads return after a burst.
//! - `logs`: access lines cannot be forged.
//! - `token`: an empty token is a start-up error.
//! - `huge_length`: a declared length beyond any buffer.

mod framing;
mod huge_length;
mod logs;
mod pool;
mod slow_bodies;
mod stop;
mod token;
mod upgrade;

use crate::helpers::http::Response;

/// An answer of ours that ends its connection: the status, a JSON
/// `{"error": …}`, an `X-Request-Id`, and `Connection: close`.
#[track_caller]
fn assert_closing_error(response: &Response, status: u16, what: &str) {
    assert_eq!(response.status, status, "{what}: {}", response.text());
    assert!(
        response.json()["error"].is_string(),
        "{what}: JSON error body expected, got {:?}",
        response.text()
    );
    assert!(
        response.header("X-Request-Id").is_some(),
        "{what}: X-Request-Id missing"
    );
    assert_eq!(
        response.header("Connection").map(str::to_ascii_lowercase),
        Some("close".to_string()),
        "{what}: Connection: close expected; head {:?}",
        String::from_utf8_lossy(&response.raw_head)
    );
}

/// The raw bytes of a create of `name` with this token.
fn create_bytes(name: &str, token: Option<&str>) -> Vec<u8> {
    let body = format!(r#"{{"name":"{name}"}}"#);
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    crate::helpers::http::request_bytes("POST", "/entities", &headers, body.as_bytes())
}
