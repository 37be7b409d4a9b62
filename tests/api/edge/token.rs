//! An empty bearer token would mean "every token matches nothing" or
//! "auth off", depending on who reads it: it is refused at start-up.

use crate::helpers::child::Binary;
use crate::helpers::TestService;

#[track_caller]
fn assert_refused(run: &crate::helpers::child::Run, what: &str) {
    run.assert_code(2);
    assert!(
        run.stderr.contains("token") && run.stderr.contains("empty"),
        "{what}: stderr should say the token is empty: {}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("listening"),
        "{what}: it started: {}",
        run.stdout
    );
}

#[test]
fn an_empty_auth_token_flag_is_a_start_up_error() {
    let run = Binary::server(&["--auth-token", ""]).run();
    assert_refused(&run, "--auth-token ''");
}

#[test]
fn an_empty_auth_token_variable_is_a_start_up_error() {
    let run = Binary::server(&[]).env("ENTITY_AUTH_TOKEN", "").run();
    assert_refused(&run, "ENTITY_AUTH_TOKEN=");
}

#[test]
fn an_empty_token_in_the_config_does_not_start_the_service() {
    let started = TestService::try_start_with(|c| c.auth_token = Some(String::new()));
    let error = started
        .err()
        .expect("an empty token must not start the service");
    assert!(error.to_string().contains("empty"), "{error}");
}
