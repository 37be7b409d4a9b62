//! The front as the tests run it: `deploy/front.sh` (the shipped script and
//! template, nothing else) starting Debian's nginx as a child on a free
//! loopback port, in a prefix of its own that is removed afterwards.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;

use crate::helpers::child::read_in_background;
use crate::helpers::lock::lock;
use crate::helpers::net::free_port;
use crate::helpers::wait::wait_until;
use crate::third_party::tools;

/// How long nginx may take to listen, and to stop once told to.
const START_LIMIT: Duration = Duration::from_secs(10);
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// `deploy/front.sh` of this source tree.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/front.sh")
}

/// The nginx that `deploy/front.sh` would run (its `--which`), or None
/// when there is none: then the test says so loudly and passes, unless
/// `CI` is set (it fails).
pub fn nginx() -> Option<PathBuf> {
    let which = Command::new(script())
        .arg("--which")
        .stderr(Stdio::null())
        .output()
        .expect("deploy/front.sh runs");
    let path = which
        .status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&which.stdout).trim()));
    tools::found("nginx", path)
}

/// nginx in front of these instances' REST addresses, running until dropped.
pub struct Front {
    /// Where the front listens.
    pub addr: SocketAddr,
    /// The nginx master (front.sh execs it).
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    _prefix: TempDir,
}

impl Front {
    /// The front with the default settings of `deploy/front.sh`; None when
    /// nginx is missing (see [`nginx`]).
    #[track_caller]
    pub fn start(upstreams: &[SocketAddr]) -> Option<Self> {
        Self::start_with(upstreams, &[])
    }

    /// The front with extra `deploy/front.sh` flags (e.g. `--body-timeout 1`).
    #[track_caller]
    pub fn start_with(upstreams: &[SocketAddr], flags: &[&str]) -> Option<Self> {
        nginx()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let upstream_list: Vec<String> = upstreams.iter().map(|a| a.to_string()).collect();
        // Open to nginx's workers (another user when started as root), as
        // `mkdir -p` in front.sh would make it.
        let prefix = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir()
            .expect("a prefix directory");
        let mut child = Command::new(script())
            .args(["--listen", &addr.to_string()])
            .args(["--upstream", &upstream_list.join(",")])
            .arg("--prefix")
            .arg(prefix.path())
            .args(["--workers", "1", "--no-access-log"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deploy/front.sh starts");
        let (stderr, _reader) = read_in_background(child.stderr.take().expect("stderr is piped"));
        let mut front = Self {
            addr,
            child,
            stderr,
            _prefix: prefix,
        };
        let listening = wait_until(START_LIMIT, || {
            front.exited() || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        });
        assert!(
            listening && !front.exited(),
            "the front did not listen on {addr} within {START_LIMIT:?}; stderr: {}",
            front.stderr_text()
        );
        Some(front)
    }

    /// What nginx and front.sh wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Front {
    /// SIGTERM (nginx's fast stop: the master ends its workers), then
    /// SIGKILL if the master is still there: a killed master would leave
    /// its workers running.
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        if !wait_until(STOP_LIMIT, || self.exited()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
