//! The one way to run the `entity-service` binary as a child process: as a
//! server on free ports ([`Binary::serve`]), as a short command whose output
//! is captured ([`Binary::run`]), or started and finished later
//! ([`Binary::spawn`]). Every wait is bounded, and a child still running
//! when its handle drops is killed. [`file_with`] writes a file for it to
//! read, and [`path_arg`] turns a temporary path into an argument.

mod process;
mod run;

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::NamedTempFile;

pub use process::{read_in_background, ChildProcess, Server};
pub use run::Run;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_entity-service");

/// How long a child may run before [`ChildProcess::finish`] kills it and
/// fails the test: a hang bound, not a speed goal.
pub const RUN_LIMIT: Duration = Duration::from_secs(15);

/// A command line for the binary, with its environment and limits.
#[derive(Clone, Debug)]
pub struct Binary {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    /// RLIMIT_NOFILE (soft and hard) set in the child before exec.
    nofile: Option<u64>,
    /// RLIMIT_FSIZE (soft and hard) set in the child before exec.
    fsize: Option<u64>,
    limit: Duration,
}

impl Binary {
    /// The binary with these arguments. The child does not inherit any
    /// `ENTITY_*` variable, and logs at `RUST_LOG=warn` without backtraces
    /// unless [`Binary::env`] says otherwise.
    pub fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            envs: vec![
                ("RUST_LOG".into(), "warn".into()),
                ("RUST_BACKTRACE".into(), "0".into()),
            ],
            stdin: None,
            nofile: None,
            fsize: None,
            limit: RUN_LIMIT,
        }
    }

    /// The service on two free loopback ports, with these extra flags.
    pub fn server(extra: &[&str]) -> Self {
        let mut args = vec!["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::new(&args)
    }

    /// `entity-service client --addr <addr> <args…>`.
    pub fn client(addr: SocketAddr, args: &[&str]) -> Self {
        let addr = addr.to_string();
        let mut all = vec!["client", "--addr", &addr];
        all.extend_from_slice(args);
        Self::new(&all)
    }

    /// Keeps the service's entities in `dir` (`--data-dir`).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.args
            .extend(["--data-dir".into(), path_arg(dir).into()]);
        self
    }

    /// Sets an environment variable in the child (e.g. `FAILPOINTS`, `RUST_LOG`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Feeds these bytes to the child's stdin, then closes it (default: no stdin).
    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Some(bytes.to_vec());
        self
    }

    /// Runs the child with this RLIMIT_NOFILE, soft and hard.
    pub fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    /// Runs the child with this RLIMIT_FSIZE (largest file it may write), soft
    /// and hard: a write past it fails with EFBIG.
    pub fn fsize(mut self, bytes: u64) -> Self {
        self.fsize = Some(bytes);
        self
    }

    /// Runs the command to its end and returns what it printed; a child
    /// still running after the limit is killed and fails the test.
    #[track_caller]
    pub fn run(self) -> Run {
        self.spawn().finish()
    }

    /// Starts the service and reads the two addresses it announces.
    #[track_caller]
    pub fn serve(self) -> Server {
        Server::announced(self.spawn())
    }

    /// Starts the child; its stdout and stderr are captured as they come.
    #[track_caller]
    pub fn spawn(self) -> ChildProcess {
        let mut command = Command::new(BINARY);
        command.args(&self.args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ENTITY_") {
                command.env_remove(key);
            }
        }
        command
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(nofile) = self.nofile {
            set_limit(&mut command, libc::RLIMIT_NOFILE, nofile);
        }
        if let Some(fsize) = self.fsize {
            set_limit(&mut command, libc::RLIMIT_FSIZE, fsize);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("{BINARY} {:?} starts: {error}", self.args));
        ChildProcess::capture(child, self.args, self.stdin, self.limit)
    }
}

/// Sets a resource limit (soft and hard) in the child between fork and exec.
fn set_limit(command: &mut Command, resource: libc::__rlimit_resource_t, value: u64) {
    let limit = value as libc::rlim_t;
    // SAFETY: only setrlimit (async-signal-safe) runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(resource, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// A path as a command-line argument: temp paths are UTF-8.
pub fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A file holding `contents` for a command to read (`client import FILE`),
/// removed when dropped.
pub fn file_with(contents: &str) -> NamedTempFile {
    let mut file = NamedTempFile::new().expect("create a temp file");
    file.write_all(contents.as_bytes())
        .expect("write a temp file");
    file
}
