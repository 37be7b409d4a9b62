//! `GET /docs`: Swagger UI over the service's own `/openapi.json`, where a
//! person reads each operation and tries it against this same server. Its
//! scripts and styles are compiled into the binary (utoipa-swagger-ui's
//! vendored copy), so the page works offline and fetches nothing from
//! another host.

use std::sync::{Arc, OnceLock};

use utoipa_swagger_ui::Config;

use super::reply::Reply;

/// The page at `/docs`. Its own HTML rather than the bundled `index.html`,
/// whose relative links only work from a path ending in `/`; every link here
/// points into `/docs/`.
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>entity-service REST API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"#;

/// The media types of the files under `/docs/`, by file extension; what
/// the OpenAPI document lists for `GET /docs/{file}`.
pub const FILE_MEDIA_TYPES: [(&str, &str); 5] = [
    ("js", "text/javascript"),
    ("css", "text/css"),
    ("png", "image/png"),
    ("html", "text/html; charset=utf-8"),
    ("map", "application/json"),
];

/// The media type of a file whose extension is not in [`FILE_MEDIA_TYPES`].
pub const OTHER_MEDIA_TYPE: &str = "application/octet-stream";

/// The page's settings: this server's document, the base layout (no bar
/// for loading other documents), and no validator badge (which Swagger UI
/// would otherwise fetch from swagger.io).
fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        Arc::new(
            Config::new(["/openapi.json"])
                .use_base_layout()
                .validator_url("none")
                .display_request_duration(true),
        )
    }))
}

/// `GET /docs`.
pub fn page() -> Reply {
    Reply::bytes(200, PAGE.as_bytes().to_vec(), "text/html; charset=utf-8")
}

/// `GET /docs/{file}`: a Swagger UI file, or 404.
pub fn file(name: &str) -> Reply {
    match utoipa_swagger_ui::serve(name, config()) {
        Ok(Some(file)) => Reply::bytes(200, file.bytes.into_owned(), media_type(name)),
        Ok(None) => Reply::error(404, format!("no file {name:?} under /docs/")),
        Err(error) => Reply::error(500, format!("cannot serve {name:?}: {error}")),
    }
}

fn media_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    FILE_MEDIA_TYPES
        .iter()
        .find(|(ext, _)| *ext == extension)
        .map_or(OTHER_MEDIA_TYPE, |&(_, media_type)| media_type)
}
