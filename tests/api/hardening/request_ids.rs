//! Request ids that try to inject headers or are too long: each is replaced
//! by a generated id, echoed once, and nothing of it reaches the response head.

use entity_service::request_id::MAX_REQUEST_ID_BYTES;

use crate::helpers::http::{exchange_one, request_bytes};
use crate::helpers::TestService;

/// Whether `value` looks like an id the service generated: 32 lowercase hex digits.
fn is_generated_id(value: &str) -> bool {
    value.len() == 32
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn unsafe_request_ids_are_replaced_by_generated_ones_and_cannot_inject_headers() {
    let service = TestService::start();
    let addr = service.http_addr;

    // The longest id is kept; one byte more, and it is replaced (below).
    let kept = "k".repeat(MAX_REQUEST_ID_BYTES);
    let response = exchange_one(
        addr,
        "the longest id kept",
        &request_bytes("GET", "/healthz", &[("X-Request-Id", kept.as_str())], b""),
    )
    .expect("an answer");
    assert_eq!(response.header("X-Request-Id"), Some(kept.as_str()));

    let cases: [(&str, &[u8]); 15] = [
        (
            "one byte over the longest",
            &[b'a'; MAX_REQUEST_ID_BYTES + 1],
        ),
        ("200-byte id", &[b'a'; 200]),
        ("bare CR then a header", b"abc\rX-Injected: evil"),
        ("bare LF then a header", b"abc\nX-Injected: evil"),
        ("CR LF CR then a header", b"abc\r\rX-Injected: evil"),
        ("space", b"has space"),
        ("semicolon", b"semi;colon"),
        ("comma", b"a,b"),
        ("double quote", b"quo\"te"),
        ("angle brackets", b"<script>"),
        ("braces", b"{x}"),
        ("backslash", b"back\\slash"),
        ("tab", b"tab\there"),
        ("NUL", b"nul\0byte"),
        ("DEL", b"del\x7fbyte"),
    ];
    for (what, value) in cases {
        for (path, expected_status) in [("/healthz", 200), ("/entities/999", 404)] {
            let mut bytes =
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ").into_bytes();
            bytes.extend_from_slice(value);
            bytes.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            let what = format!("{what} on {path}");
            let response = exchange_one(addr, &what, &bytes)
                .unwrap_or_else(|| panic!("{what}: closed without an answer"));
            assert_eq!(response.status, expected_status, "{what}");
            let ids = response.header_values("X-Request-Id");
            assert_eq!(ids.len(), 1, "{what}: exactly one X-Request-Id: {ids:?}");
            assert!(
                is_generated_id(ids[0]),
                "{what}: X-Request-Id {:?} is not a generated 32-hex-digit id",
                ids[0]
            );
            let head = String::from_utf8_lossy(&response.raw_head).to_ascii_lowercase();
            assert!(
                !head.contains("x-injected") && !head.contains("evil"),
                "{what}: injected text in the response head: {head:?}"
            );
        }
    }
}
