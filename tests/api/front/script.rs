//! `deploy/front.sh` itself: it refuses a wrong command line before
//! anything starts, and says plainly when nginx is not installed.

use std::process::Command;
use std::time::Duration;

use super::nginx::script;
use crate::third_party::tools::run;

/// How long the script may take to refuse.
const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn a_missing_nginx_is_named_with_how_to_install_it() {
    let output = run(
        Command::new(script())
            .env("NGINX", "/nonexistent/nginx")
            .args(["--listen", "127.0.0.1:8080", "--upstream", "127.0.0.1:8000"]),
        LIMIT,
    );
    assert_eq!(output.status.code(), Some(127), "{}", output.both());
    assert!(
        output.stderr.contains("nginx not found")
            && output.stderr.contains("apt-get install nginx"),
        "{}",
        output.both()
    );
}

#[test]
fn a_wrong_command_line_is_refused_before_nginx_starts() {
    let cases: [(&[&str], &str); 5] = [
        (&["--upstream", "127.0.0.1:8000"], "--listen"),
        (&["--listen", "127.0.0.1:8080"], "--upstream"),
        (
            &["--listen", "8080", "--upstream", "127.0.0.1:8000"],
            "HOST:PORT",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:8080",
                "--upstream",
                "127.0.0.1:8000,;evil",
            ],
            "--upstream",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:8080",
                "--upstream",
                "127.0.0.1:8000",
                "--body-timeout",
                "0",
            ],
            "timeouts",
        ),
    ];
    for (args, named) in cases {
        // A nginx that does not exist: the refusal must come first.
        let output = run(
            Command::new(script())
                .env("NGINX", "/nonexistent/nginx")
                .args(args),
            LIMIT,
        );
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", output.both());
        assert!(
            output.stderr.contains(named),
            "{args:?} should name {named}: {}",
            output.both()
        );
    }
}
