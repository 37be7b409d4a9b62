//! `/docs`: Swagger UI from files compiled into the binary, open without a
//! token, and nothing on the page points at another host.

use super::document;
use crate::helpers::{http, TestService};

#[test]
fn the_docs_page_loads_only_from_this_server_and_is_open() {
    let service = TestService::start_with(|c| c.auth_token = Some("s3cret".into()));
    let page = http::get(service.http_addr, "/docs");
    assert_eq!(page.status, 200, "/docs is open without a token");
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(http::get(service.http_addr, "/openapi.json").status, 200);
    let html = page.text();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let links: Vec<&str> = html
        .split(['"', '\''])
        .filter(|piece| piece.starts_with('/'))
        .collect();
    assert!(links.len() >= 4, "{links:?}");
    let documented = document(service.http_addr);
    let media_types = &documented["paths"]["/docs/{file}"]["get"]["responses"]["200"]["content"];
    for link in links {
        assert!(link.starts_with("/docs/"), "{link}");
        let file = http::get(service.http_addr, link);
        assert_eq!(file.status, 200, "{link}");
        let media_type = file.header("Content-Type").expect("Content-Type");
        assert!(
            media_types.get(media_type).is_some(),
            "{link}: {media_type} is documented"
        );
    }
    let initializer = http::get(service.http_addr, "/docs/swagger-initializer.js").text();
    assert!(
        initializer.contains(r#""url": "/openapi.json""#),
        "{initializer}"
    );
    assert!(
        initializer.contains(r#""validatorUrl": "none""#),
        "{initializer}"
    );
    assert!(!initializer.contains("http"), "{initializer}");
    let missing = http::get(service.http_addr, "/docs/no-such-file.js");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].is_string());
}
