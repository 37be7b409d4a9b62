//! [`Run`]: what a finished child printed and how it exited.

use std::time::Duration;

/// What one child run produced.
#[derive(Debug)]
pub struct Run {
    /// The command line, for failure messages.
    pub args: Vec<String>,
    /// The exit code (None when a signal ended the child).
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
    /// From spawn to exit, for hang bounds in failure messages.
    pub elapsed: Duration,
}

impl Run {
    /// The stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Exit code `code`, and never a panic on stderr.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{:?}: unexpected exit code: {self:#?}",
            self.args.join(" ")
        );
        self.assert_no_panic();
        self
    }

    /// No panic message or backtrace hint on stderr.
    #[track_caller]
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "stderr shows a panic: {self:#?}"
        );
    }

    /// A failed call: exit `code` and a stderr line `error: <NAME>: …`.
    #[track_caller]
    pub fn assert_call_error(&self, code: i32, name: &str) -> &Self {
        self.assert_code(code);
        let prefix = format!("error: {name}: ");
        assert!(
            self.stderr.lines().any(|l| l.starts_with(&prefix)),
            "stderr should have a line starting {prefix:?}: {self:#?}"
        );
        self
    }

    /// The stdout lines parsed as JSON values.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?} in {self:#?}"))
            })
            .collect()
    }
}
