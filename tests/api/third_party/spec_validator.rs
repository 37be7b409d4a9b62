//! openapi-spec-validator on the document the service serves, with and
//! without a token (the two differ in their security requirements).

use std::process::Command;
use std::time::Duration;

use super::tools;
use crate::helpers::child::file_with;
use crate::helpers::{http, TestService};

#[test]
fn openapi_spec_validator_accepts_the_document() {
    let Some(validator) = tools::python_tool("openapi-spec-validator") else {
        return;
    };
    for token in [None, Some("s3cret")] {
        let service = TestService::start_with(|c| c.auth_token = token.map(String::from));
        let document = http::get(service.http_addr, "/openapi.json");
        assert_eq!(document.status, 200);
        let file = file_with(&document.text());
        let output = tools::run(
            Command::new(&validator).arg(file.path()),
            Duration::from_secs(60),
        );
        assert!(
            output.status.success(),
            "token {token:?}:\n{}",
            output.both()
        );
        assert!(output.stdout.contains(": OK"), "{}", output.both());
    }
}
