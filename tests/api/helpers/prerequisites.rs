//! One convention for a test that needs more than the service: an external
//! tool (nginx, schemathesis, chromium…) or the `failpoints` feature. A test
//! starts with the check and returns when it is false: under CI (`CI` set)
//! a missing prerequisite fails the test, since `.ci/run` provides all of
//! them; elsewhere the test says loudly that it did not run, and passes, so
//! `cargo test` still works on a machine without them.

use std::io::Write;

/// Whether the test can run: `present`, or else it fails under CI and
/// otherwise prints `*** not run: {what} missing ({remedy}) ***` and
/// returns false, for the test to return.
#[track_caller]
pub fn requires(what: &str, present: bool, remedy: &str) -> bool {
    if present {
        return true;
    }
    let under_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty());
    assert!(!under_ci, "{what} missing under CI: {remedy}");
    announce(&format!("not run: {what} missing ({remedy})"));
    false
}

/// Whether the fail points are compiled in, for tests that set them in
/// this process (`fail::cfg`) or in a child (`FAILPOINTS`).
#[track_caller]
pub fn failpoints() -> bool {
    requires(
        "the failpoints feature",
        cfg!(feature = "failpoints"),
        "cargo test --all-features turns it on",
    )
}

/// A line on the real stderr, which the test harness does not capture, so
/// a passing run shows it too.
pub fn announce(line: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** {line} ***");
}
