//! Where the third-party tools are and how they run. `.ci/run` installs the
//! PyPI ones in a venv (`<target>/third-party/venv`) and the npm ones in a
//! folder (`<target>/third-party/node`), pinned by the files beside this
//! module, and Debian's chromium with apt.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::child::BINARY;
use crate::helpers::prerequisites::requires;
use crate::helpers::wait::wait_until;

/// `<target>/third-party`: the target directory is the one the binary
/// under test was built in (`<target>/release/entity-service`).
pub fn dir() -> PathBuf {
    let binary = Path::new(BINARY);
    let target = binary
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in <target>/<profile>/");
    target.join("third-party")
}

/// A command of the tools' Python venv (`st`, `openapi-spec-validator`).
#[track_caller]
pub fn python_tool(name: &str) -> Option<PathBuf> {
    found(name, Some(dir().join("venv/bin").join(name)))
}

/// A package of the tools' npm folder (its directory).
#[track_caller]
pub fn node_package(name: &str) -> Option<PathBuf> {
    found(name, Some(dir().join("node/node_modules").join(name)))
}

/// A command an npm package of the tools' folder installed (`buf`).
#[track_caller]
pub fn node_tool(name: &str) -> Option<PathBuf> {
    found(name, Some(dir().join("node/node_modules/.bin").join(name)))
}

/// A command on the PATH (`node`), or `$CHROMIUM` for `chromium`.
#[track_caller]
pub fn system_tool(name: &str) -> Option<PathBuf> {
    let from_env = (name == "chromium")
        .then(|| std::env::var_os("CHROMIUM").map(PathBuf::from))
        .flatten();
    let on_path = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    };
    found(name, from_env.or_else(on_path))
}

/// The tool if it exists; if not, see [`requires`]: None, for the test to
/// return.
#[track_caller]
pub fn found(what: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    let path = path.filter(|path| path.exists());
    if requires(what, path.is_some(), ".ci/run installs it") {
        path
    } else {
        None
    }
}

/// What a tool printed, and how it ended.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Both streams, for failure messages.
    pub fn both(&self) -> String {
        format!(
            "status {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs a tool to its end within `limit`; one still running then is killed
/// and fails the test with what it printed so far.
#[track_caller]
pub fn run(command: &mut Command, limit: Duration) -> Output {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{command:?} starts: {error}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let mut status = None;
    wait_until(limit, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = Output {
        status: status.unwrap_or_default(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "{command:?} still ran after {:?}:\n{}",
        started.elapsed(),
        output.both()
    );
    output
}
