//! Shared test helpers: start the whole service in-process on port 0, and
//! talk to it with the grpcio client and a small raw HTTP/1.1 client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use entity_service::proto::entities_grpc::EntityServiceClient;
use entity_service::{Config, Running, Service};
use grpcio::{ChannelBuilder, EnvBuilder};

/// Starts a service with `Config::ephemeral()` adjusted by `tweak`.
pub fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Running {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut config = Config::ephemeral();
    config.http_threads = Some(8);
    tweak(&mut config);
    Service::start(&config).expect("service starts")
}

/// Starts a service with the test defaults (gRPC backend).
pub fn spawn() -> Running {
    spawn_with(|_| {})
}

/// A grpcio client to this address.
pub fn grpc_client(addr: SocketAddr) -> EntityServiceClient {
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    let channel = ChannelBuilder::new(env).connect(&addr.to_string());
    EntityServiceClient::new(channel)
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct HttpConnection {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl HttpConnection {
    pub fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
            addr,
        }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Sends a request with these extra headers and body.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.send_raw(&bytes);
    }

    /// Reads one response (Content-Length or chunked body).
    pub fn read_response(&mut self) -> HttpResponse {
        self.try_read_response().expect("a complete HTTP response")
    }

    /// Reads one response, or None if the connection closed first.
    pub fn try_read_response(&mut self) -> Option<HttpResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':')?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let mut response = HttpResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(length) = response.header("Content-Length") {
            let mut body = vec![0; length.parse().ok()?];
            self.reader.read_exact(&mut body).ok()?;
            response.body = body;
        } else if response
            .header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).ok()?;
                let size = usize::from_str_radix(size.trim(), 16).ok()?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).ok()?;
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&chunk[..size]);
            }
        }
        Some(response)
    }

    /// Sends a request and reads its response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        self.send(method, path, headers, body);
        self.read_response()
    }
}

/// One request on a fresh connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    HttpConnection::open(addr).request(method, path, headers, body)
}

/// GET on a fresh connection.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    http(addr, "GET", path, &[], b"")
}

/// POST a JSON body on a fresh connection.
pub fn post(addr: SocketAddr, path: &str, body: &str) -> HttpResponse {
    http(addr, "POST", path, &[], body.as_bytes())
}

/// A gRPC create request.
pub fn create_request(
    name: &str,
    description: &str,
) -> entity_service::proto::entities::CreateEntityRequest {
    let mut request = entity_service::proto::entities::CreateEntityRequest::new();
    request.name = name.to_string();
    request.description = description.to_string();
    request
}

/// Polls `condition` every 10 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads the binary's two start-up lines (`REST listening on http://ADDR`,
/// `gRPC listening on ADDR`) and returns (REST, gRPC) addresses.
pub fn read_announced_addrs(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> (SocketAddr, SocketAddr) {
    let mut next_line = || match lines.next() {
        Some(Ok(line)) => line,
        _ => panic!("the binary did not announce its ports"),
    };
    let rest_line = next_line();
    let grpc_line = next_line();
    let http = rest_line
        .strip_prefix("REST listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {rest_line:?}"))
        .parse()
        .unwrap();
    let grpc = grpc_line
        .strip_prefix("gRPC listening on ")
        .unwrap_or_else(|| panic!("unexpected second line {grpc_line:?}"))
        .parse()
        .unwrap();
    (http, grpc)
}
