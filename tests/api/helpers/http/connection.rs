//! [`Connection`]: one keep-alive HTTP/1.1 connection with a read timeout
//! that tells a response from a close from silence.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use super::{request_bytes, Answer, Response, READ_TIMEOUT};

/// How long a connect may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write may block on a server that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// More answers than this on one connection means the server is looping.
const MAX_RESPONSES: usize = 64;

/// Why no line could be read.
enum NoLine {
    Closed,
    Silent,
}

/// A keep-alive HTTP/1.1 connection with a read timeout.
pub struct Connection {
    reader: BufReader<TcpStream>,
    /// Names the connection in failure messages.
    what: String,
    /// How long silence may last before a read reports it.
    timeout: Duration,
}

impl Connection {
    /// Connects to `addr`; a failure to connect fails the test.
    #[track_caller]
    pub fn open(addr: SocketAddr) -> Self {
        Self::try_open(addr, CONNECT_TIMEOUT)
            .unwrap_or_else(|error| panic!("connect to {addr}: {error}"))
    }

    /// Connects to `addr` within `connect_timeout`, or the connect error.
    pub fn try_open(addr: SocketAddr, connect_timeout: Duration) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, connect_timeout)?;
        Ok(Self::from_stream(stream, format!("connection to {addr}")))
    }

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream, what: impl Into<String>) -> Self {
        stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .expect("set the write timeout");
        Self {
            reader: BufReader::new(stream),
            what: what.into(),
            timeout: READ_TIMEOUT,
        }
        .with_timeout(READ_TIMEOUT)
    }

    /// Names the connection in failure messages.
    pub fn named(mut self, what: impl Into<String>) -> Self {
        self.what = what.into();
        self
    }

    /// Reads wait at most `timeout` for the server.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .expect("set the read timeout");
        self.timeout = timeout;
        self
    }

    /// Sends a request built by [`request_bytes`]; a write error fails the test.
    #[track_caller]
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        self.send_raw(&request_bytes(method, path, headers, body));
    }

    /// Sends these bytes; a write error fails the test.
    #[track_caller]
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(error) = self.try_send_raw(bytes) {
            panic!("{}: write failed: {error}", self.what);
        }
    }

    /// Sends these bytes; the error when the server closed first.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Ends our sending side: the server reads EOF, we can still read.
    pub fn half_close(&mut self) {
        let _ = self.reader.get_ref().shutdown(Shutdown::Write);
    }

    /// Sends a request and reads its response.
    #[track_caller]
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(method, path, headers, body);
        self.read_response()
    }

    /// The next response (Content-Length or chunked body), or why there is none.
    #[track_caller]
    pub fn answer(&mut self) -> Answer {
        match self.head() {
            Ok(mut response) => {
                self.read_body(&mut response);
                Answer::Response(response)
            }
            Err(NoLine::Closed) => Answer::Closed,
            Err(NoLine::Silent) => Answer::Silent,
        }
    }

    /// The next response; None when the server closed the connection
    /// instead. Silence for the read timeout fails the test.
    #[track_caller]
    pub fn try_read_response(&mut self) -> Option<Response> {
        match self.answer() {
            Answer::Response(response) => Some(response),
            Answer::Closed => None,
            Answer::Silent => self.silent(),
        }
    }

    /// The next response; a close or silence fails the test.
    #[track_caller]
    pub fn read_response(&mut self) -> Response {
        self.try_read_response()
            .unwrap_or_else(|| panic!("{}: closed instead of answering", self.what))
    }

    /// The next response's head alone, its body left unread (HEAD answers,
    /// interim `100 Continue`); None on a close, silence fails the test.
    #[track_caller]
    pub fn read_head(&mut self) -> Option<Response> {
        match self.head() {
            Ok(response) => Some(response),
            Err(NoLine::Closed) => None,
            Err(NoLine::Silent) => self.silent(),
        }
    }

    /// Every response until the server closes; silence fails the test.
    #[track_caller]
    pub fn responses_until_close(&mut self) -> Vec<Response> {
        let mut responses = Vec::new();
        while let Some(response) = self.try_read_response() {
            responses.push(response);
            assert!(
                responses.len() <= MAX_RESPONSES,
                "{}: more than {MAX_RESPONSES} responses",
                self.what
            );
        }
        responses
    }

    /// Whether the server has closed the connection (EOF or reset is
    /// waiting), without blocking. Any data before the EOF is skipped.
    pub fn closed_by_server(&mut self) -> bool {
        let stream = self.reader.get_ref();
        stream.set_nonblocking(true).expect("non-blocking read");
        let mut buffer = [0u8; 4096];
        let closed = loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
                Err(_) => break true,
            }
        };
        self.reader
            .get_ref()
            .set_nonblocking(false)
            .expect("blocking read");
        closed
    }

    #[track_caller]
    fn silent<T>(&self) -> T {
        panic!(
            "{}: the server neither answered nor closed the connection within {:?}",
            self.what, self.timeout
        )
    }

    /// One line with its line end.
    fn line(&mut self) -> Result<Vec<u8>, NoLine> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => Err(NoLine::Closed),
            Ok(_) => Ok(line),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(NoLine::Silent)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                Err(NoLine::Closed)
            }
            Err(e) => panic!("{}: read failed: {e}", self.what),
        }
    }

    /// A line inside a response: a close or silence there fails the test.
    #[track_caller]
    fn line_within(&mut self, part: &str) -> Vec<u8> {
        self.line().unwrap_or_else(|why| {
            let how = match why {
                NoLine::Closed => "closed",
                NoLine::Silent => "timed out",
            };
            panic!("{}: {part} cut off ({how})", self.what)
        })
    }

    /// Status line and headers; Err when nothing of a response came.
    #[track_caller]
    fn head(&mut self) -> Result<Response, NoLine> {
        let status_line = self.line()?;
        let text = String::from_utf8_lossy(&status_line).into_owned();
        let mut parts = text.split_whitespace();
        let status = match (parts.next(), parts.next().and_then(|s| s.parse().ok())) {
            (Some(version), Some(status)) if version.starts_with("HTTP/1.") => status,
            _ => panic!("{}: malformed status line {text:?}", self.what),
        };
        let mut response = Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            raw_head: status_line,
        };
        loop {
            let line = self.line_within("response head");
            response.raw_head.extend_from_slice(&line);
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if line.is_empty() {
                return Ok(response);
            }
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: malformed header line {line:?}", self.what));
            response
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
    }

    /// The body announced by the head: Content-Length, chunked, or none.
    #[track_caller]
    fn read_body(&mut self, response: &mut Response) {
        if (100..200).contains(&response.status) || matches!(response.status, 204 | 304) {
            return;
        }
        if let Some(length) = response.header("Content-Length") {
            let length: usize = length
                .parse()
                .unwrap_or_else(|_| panic!("{}: Content-Length {length:?}", self.what));
            response.body = self.exact(length, "body");
        } else if response
            .header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size = self.line_within("chunk size");
                let size = String::from_utf8_lossy(&size).trim().to_string();
                let size = usize::from_str_radix(&size, 16)
                    .unwrap_or_else(|_| panic!("{}: chunk size {size:?}", self.what));
                let chunk = self.exact(size + 2, "chunk");
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&chunk[..size]);
            }
        }
    }

    #[track_caller]
    fn exact(&mut self, length: usize, part: &str) -> Vec<u8> {
        let mut bytes = vec![0; length];
        if let Err(error) = self.reader.read_exact(&mut bytes) {
            panic!("{}: {part} cut off: {error}", self.what);
        }
        bytes
    }
}
