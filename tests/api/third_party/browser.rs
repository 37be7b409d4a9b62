//! `/docs` in a real browser: Debian's chromium, headless, driven by
//! playwright-core through `docs_browser.cjs` beside this module. The page
//! must show every documented operation, fetch nothing from another host,
//! and one "Try it out" create, then get, must go through to the store.
//! The screenshot it takes is the one the README shows.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::tools;
use crate::helpers::lock::serial;
use crate::helpers::prerequisites::announce;
use crate::helpers::{http, TestService};

/// A hang bound for the whole browser session, not a speed goal.
const SESSION_LIMIT: Duration = Duration::from_secs(180);

#[test]
fn the_docs_page_lists_every_operation_and_try_it_out_round_trips() {
    let (Some(node), Some(playwright), Some(chromium)) = (
        tools::system_tool("node"),
        tools::node_package("playwright-core"),
        tools::system_tool("chromium"),
    ) else {
        return;
    };
    let _serial = serial();
    let service = TestService::start();
    let base = format!("http://{}", service.http_addr);
    let screenshot = tools::dir().join("docs-screenshot.png");
    let _ = std::fs::remove_file(&screenshot);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/third_party/docs_browser.cjs"
    );
    let output = tools::run(
        Command::new(node)
            .arg(script)
            .arg(&base)
            .arg(&screenshot)
            .env("PLAYWRIGHT_CORE", playwright)
            .env("CHROMIUM", chromium),
        SESSION_LIMIT,
    );
    assert!(output.status.success(), "{}", output.both());
    let session: Value = serde_json::from_str(&output.stdout).expect("the session's JSON");

    let requests: Vec<&str> = session["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(requests.len() >= 6, "{requests:?}");
    for url in &requests {
        assert!(
            url.starts_with(&format!("{base}/")),
            "{url} is not on this server"
        );
    }
    assert_eq!(session["failedRequests"], json!([]));
    assert_eq!(session["consoleErrors"], json!([]));

    let shown: BTreeSet<String> = session["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .filter_map(|op| op.as_str().map(String::from))
        .collect();
    let document = http::get(service.http_addr, "/openapi.json").json();
    let documented: BTreeSet<String> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("path item").keys();
            methods
                .filter(|key| key.as_str() != "description")
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    assert_eq!(shown, documented);

    assert_eq!(session["create"]["status"], 201, "{session}");
    let id = session["create"]["body"]["id"]
        .as_i64()
        .expect("the new id");
    let name = session["createdName"].as_str().expect("name");
    let expected = json!({"id": id, "name": name, "description": "through Try it out"});
    assert_eq!(session["get"]["status"], 200, "{session}");
    assert_eq!(session["get"]["body"], expected);
    let stored = service.store().get(id).expect("stored");
    assert_eq!((stored.name.as_str(), stored.id), (name, id));

    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    announce(&format!("docs screenshot: {}", screenshot.display()));
}
