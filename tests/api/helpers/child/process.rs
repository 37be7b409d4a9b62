//! A running child: its output captured by reader threads as it comes, so
//! neither pipe can fill up and block it, and every wait on it bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::process::{self, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::run::Run;
use crate::helpers::lock::lock;
use crate::helpers::wait::wait_until;

/// How long the service may take to announce its listeners.
const ANNOUNCE_LIMIT: Duration = Duration::from_secs(10);
/// How much of stderr [`ChildProcess::stderr_tail`] shows.
const TAIL_BYTES: usize = 3000;

/// A child process of the binary, killed when dropped.
pub struct ChildProcess {
    child: process::Child,
    /// The command line, for failure messages.
    args: Vec<String>,
    /// Stdout lines (with their line end) as the reader thread reads them.
    lines: Receiver<Vec<u8>>,
    /// The stdout lines already taken by [`ChildProcess::next_line`].
    stdout_taken: Vec<u8>,
    /// Stderr so far, appended by its reader thread.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<JoinHandle<()>>,
    started: Instant,
    /// How long [`ChildProcess::finish`] waits for the exit.
    limit: Duration,
}

impl ChildProcess {
    /// Starts the reader threads (and the stdin writer) of a spawned child.
    pub(super) fn capture(
        mut child: process::Child,
        args: Vec<String>,
        stdin: Option<Vec<u8>>,
        limit: Duration,
    ) -> Self {
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Dropping the pipe after the write is the end of input.
            std::thread::spawn(move || pipe.write_all(&bytes));
        }
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                let read = reader.read_until(b'\n', &mut line);
                if !matches!(read, Ok(1..)) || sender.send(line).is_err() {
                    break;
                }
            }
        });
        let (stderr, stderr_reader) =
            read_in_background(child.stderr.take().expect("stderr is piped"));
        Self {
            child,
            args,
            lines,
            stdout_taken: Vec::new(),
            stderr,
            stderr_reader: Some(stderr_reader),
            started: Instant::now(),
            limit,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line (without its line end), or None when none came
    /// within `limit` or stdout ended.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(limit).ok()?;
        self.stdout_taken.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line);
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the child.
    #[track_caller]
    pub fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits pid_t");
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Whether the child is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// The exit status if the child exits within `limit`; otherwise it is
    /// killed and the answer is None.
    pub fn wait_with_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        status
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// The last few kilobytes of stderr, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let text = self.stderr_text();
        let start = text.len().saturating_sub(TAIL_BYTES);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// The child's thread count, from /proc.
    pub fn threads(&self) -> Option<usize> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// User + system CPU time of the child so far, from /proc.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("/proc/PID/stat");
        // Fields after the parenthesised command name; utime and stime are 14 and 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Duration::from_millis(ticks * 1000 / per_second)
    }

    /// Waits for the exit (within the limit counted from the start; past
    /// it the child is killed and the test fails) and returns everything it
    /// printed, including lines already taken with [`ChildProcess::next_line`].
    #[track_caller]
    pub fn finish(mut self) -> Run {
        let remaining = self.limit.saturating_sub(self.started.elapsed());
        let Some(status) = self.wait_with_timeout(remaining) else {
            let stdout = self.drain_stdout();
            panic!(
                "{:?} still running after {:?}; stdout so far: {stdout:?}, stderr: {:?}",
                self.args,
                self.limit,
                self.stderr_text()
            );
        };
        let elapsed = self.started.elapsed();
        let stdout = self.drain_stdout();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        Run {
            args: std::mem::take(&mut self.args),
            code: status.code(),
            stdout,
            stderr: self.stderr_text(),
            elapsed,
        }
    }

    /// All of stdout once the child has exited: the lines taken, then the rest.
    fn drain_stdout(&mut self) -> String {
        let mut all = std::mem::take(&mut self.stdout_taken);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            all.extend_from_slice(&line);
        }
        String::from_utf8_lossy(&all).into_owned()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The service as a child process, with the addresses it announced.
/// Derefs to its [`ChildProcess`].
pub struct Server {
    /// The REST listener's address.
    pub http_addr: SocketAddr,
    /// The gRPC listener's address.
    pub grpc_addr: SocketAddr,
    process: ChildProcess,
}

impl Server {
    /// Reads the two start-up lines (`REST listening on http://ADDR`,
    /// `gRPC listening on ADDR`), failing the test if they do not come.
    #[track_caller]
    pub(super) fn announced(mut process: ChildProcess) -> Self {
        let http_addr = announced_addr(&mut process, "REST listening on http://");
        let grpc_addr = announced_addr(&mut process, "gRPC listening on ");
        Self {
            http_addr,
            grpc_addr,
            process,
        }
    }
}

#[track_caller]
fn announced_addr(process: &mut ChildProcess, prefix: &str) -> SocketAddr {
    let line = process.next_line(ANNOUNCE_LIMIT).unwrap_or_else(|| {
        panic!(
            "the binary did not announce `{prefix}…` within {ANNOUNCE_LIMIT:?}; stderr: {}",
            process.stderr_tail()
        )
    });
    line.strip_prefix(prefix)
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("expected `{prefix}ADDR`, got {line:?}"))
}

impl Deref for Server {
    type Target = ChildProcess;

    fn deref(&self) -> &ChildProcess {
        &self.process
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut ChildProcess {
        &mut self.process
    }
}

/// Everything `pipe` delivers until it closes, collected by a thread of its
/// own so the pipe never fills up and blocks the writer; the thread ends
/// with the pipe.
pub fn read_in_background(
    mut pipe: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&bytes);
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buffer) {
            lock(&sink).extend_from_slice(&buffer[..n]);
        }
    });
    (bytes, reader)
}
