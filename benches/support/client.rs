//! The load generator: TLS clients on loopback that post one body in a closed
//! loop and record each request's latency (send to last body byte) in an HDR
//! histogram.
//!
//! Shapes follow the callers a webhook has: kube-apiserver keeps HTTP/1.1
//! connections alive and offers only `http/1.1` in ALPN; an HTTP/2 client
//! multiplexes streams on one connection; after a restart or a certificate
//! rotation every request may pay a full handshake.

use super::bodies::{self, Body};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::client::Resumption;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How the client reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// HTTP/1.1 keep-alive (ALPN `http/1.1` only) on this many connections,
    /// each sending its next request as soon as the last is answered: the
    /// server is saturated, throughput is the measure.
    Http1 { connections: usize },
    /// The same connections, paced to a fixed total rate well below
    /// saturation (a burst of creations from a pipeline): latency is the
    /// measure, since neither server is the bottleneck.
    Paced { connections: usize, per_second: u32 },
    /// HTTP/2, this many concurrent streams on one connection.
    Http2 { streams: usize },
    /// A new TCP connection and full TLS handshake for every request (no
    /// session resumption), from this many concurrent clients.
    Handshake { clients: usize },
}

impl Shape {
    /// The shapes `make bench` runs.
    pub const ALL: [Shape; 6] = [
        Shape::Http1 { connections: 1 },
        Shape::Http1 { connections: 8 },
        Shape::Paced {
            connections: 8,
            per_second: 2000,
        },
        Shape::Http1 { connections: 64 },
        Shape::Http2 { streams: 8 },
        Shape::Handshake { clients: 8 },
    ];

    pub fn name(self) -> String {
        match self {
            Shape::Http1 { connections } => format!("h1 x{connections}"),
            Shape::Paced {
                connections,
                per_second,
            } => format!("h1 x{connections} {per_second}/s"),
            Shape::Http2 { streams } => format!("h2 {streams} streams"),
            Shape::Handshake { clients } => format!("handshake x{clients}"),
        }
    }

    fn concurrency(self) -> usize {
        match self {
            Shape::Http1 { connections } | Shape::Paced { connections, .. } => connections,
            Shape::Http2 { streams } => streams,
            Shape::Handshake { clients } => clients,
        }
    }
}

/// Bounds of one run: it stops at whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub duration: Duration,
    pub max_requests: u64,
    /// Parse every answer as an AdmissionReview (the smoke test); otherwise
    /// only the first answer on each connection is parsed, the rest must be
    /// a 200 of the same length.
    pub check_every_answer: bool,
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Latency of each successful request, in nanoseconds.
    pub latency: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    /// The first error seen, to make a failing run explain itself.
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl RunResult {
    pub fn empty() -> Self {
        Self {
            latency: new_histogram(),
            ok: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Adds another task's share of this run, or another run (the caller
    /// then adds `elapsed`: tasks of one run share it).
    pub fn merge(&mut self, other: &RunResult) {
        // Both histograms have the same bounds; adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    fn fail(&mut self, why: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why);
        }
    }

    pub fn requests_per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1e3
    }
}

/// 1 ns to 60 s at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant, valid bounds")
}

/// Client TLS configurations trusting the benchmark's CA.
#[derive(Clone)]
pub struct Tls {
    /// ALPN `http/1.1` only, as kube-apiserver offers.
    pub http1: Arc<ClientConfig>,
    /// ALPN `h2` only.
    pub http2: Arc<ClientConfig>,
    /// ALPN `http/1.1`, session resumption off: every handshake is a full one.
    pub fresh: Arc<ClientConfig>,
}

impl Tls {
    pub fn from_ca_file(ca: &Path) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))?
        {
            let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = |alpn: &[u8], resume: bool| -> Result<Arc<ClientConfig>, String> {
            let mut config = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            config.alpn_protocols = vec![alpn.to_vec()];
            if !resume {
                config.resumption = Resumption::disabled();
            }
            Ok(Arc::new(config))
        };
        Ok(Self {
            http1: config(b"http/1.1", true)?,
            http2: config(b"h2", true)?,
            fresh: config(b"http/1.1", false)?,
        })
    }
}

/// Everything a client task needs to send `body`.
struct Target {
    addr: SocketAddr,
    body: Body,
    payload: Bytes,
    deadline: Instant,
    issued: AtomicU64,
    limits: Limits,
}

impl Target {
    /// Claims the next request, or `false` once the run is over.
    fn next(&self) -> bool {
        Instant::now() < self.deadline
            && self.issued.fetch_add(1, Ordering::Relaxed) < self.limits.max_requests
    }

    fn request(&self, uri: String) -> Result<Request<Full<Bytes>>, String> {
        Request::post(uri)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::ACCEPT, "application/json")
            .header("x-bench-body", self.body.name)
            .body(Full::new(self.payload.clone()))
            .map_err(|e| e.to_string())
    }

    /// Validates one answer; `expected_len` remembers the first good one's length.
    fn check(
        &self,
        status: u16,
        answer: &[u8],
        expected_len: &mut Option<usize>,
    ) -> Result<(), String> {
        if status != 200 {
            let shown: String = String::from_utf8_lossy(answer).chars().take(200).collect();
            return Err(format!("{}: HTTP {status}: {shown}", self.body.name));
        }
        match *expected_len {
            Some(len) if !self.limits.check_every_answer && len == answer.len() => Ok(()),
            _ => {
                bodies::check_answer(&self.body, answer)?;
                *expected_len = Some(answer.len());
                Ok(())
            }
        }
    }
}

async fn connect(
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
) -> Result<TokioIo<TlsStream<TcpStream>>, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    Ok(TokioIo::new(stream))
}

async fn answer(response: hyper::Response<hyper::body::Incoming>) -> Result<(u16, Bytes), String> {
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes))
}

/// The `send_request` of hyper's HTTP/1.1 and HTTP/2 clients, so that one
/// timed loop drives both.
trait Sender {
    fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> impl Future<Output = hyper::Result<hyper::Response<hyper::body::Incoming>>>;
}

impl Sender for http1::SendRequest<Full<Bytes>> {
    fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> impl Future<Output = hyper::Result<hyper::Response<hyper::body::Incoming>>> {
        self.send_request(request)
    }
}

impl Sender for http2::SendRequest<Full<Bytes>> {
    fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> impl Future<Output = hyper::Result<hyper::Response<hyper::body::Incoming>>> {
        self.send_request(request)
    }
}

/// Requests to `uri` on one connection (HTTP/1.1) or stream slot (HTTP/2)
/// until the run is over: back to back, or one per `pace.1` starting at
/// `pace.0` (the latency is still measured from the actual send, so a late
/// timer does not count against the server). The first failure ends the
/// loop (the connection may be unusable).
async fn timed_loop(
    target: &Target,
    sender: &mut impl Sender,
    uri: &str,
    pace: Option<(Instant, Duration)>,
) -> RunResult {
    let mut result = RunResult::empty();
    let mut expected_len = None;
    let mut next_send = pace.map(|(first, _)| first);
    while target.next() {
        if let (Some(at), Some((_, interval))) = (next_send.as_mut(), pace) {
            tokio::time::sleep_until(tokio::time::Instant::from_std(*at)).await;
            *at += interval;
        }
        let outcome = async {
            let request = target.request(uri.to_owned())?;
            let started = Instant::now();
            let response = sender.send(request).await.map_err(|e| e.to_string())?;
            let (status, bytes) = answer(response).await?;
            let took = started.elapsed();
            target.check(status, &bytes, &mut expected_len)?;
            Ok::<_, String>(took)
        }
        .await;
        match outcome {
            Ok(took) => result.record(took),
            Err(why) => {
                result.fail(why);
                break;
            }
        }
    }
    result
}

/// One HTTP/1.1 keep-alive connection.
async fn http1_loop(
    target: Arc<Target>,
    tls: Arc<ClientConfig>,
    pace: Option<(Instant, Duration)>,
) -> RunResult {
    let mut result = RunResult::empty();
    let io = match connect(target.addr, tls).await {
        Ok(io) => io,
        Err(why) => {
            result.fail(why);
            return result;
        }
    };
    let (mut sender, connection) = match http1::handshake(io).await {
        Ok(pair) => pair,
        Err(why) => {
            result.fail(why.to_string());
            return result;
        }
    };
    let driver = tokio::spawn(connection);
    let result = timed_loop(&target, &mut sender, target.body.path(), pace).await;
    drop(sender);
    let _ = driver.await;
    result
}

/// One HTTP/2 stream's loop on a shared connection.
async fn http2_loop(target: Arc<Target>, mut sender: http2::SendRequest<Full<Bytes>>) -> RunResult {
    let uri = format!(
        "https://localhost:{}{}",
        target.addr.port(),
        target.body.path()
    );
    timed_loop(&target, &mut sender, &uri, None).await
}

/// A new connection and full handshake per request; the latency includes both.
async fn handshake_loop(target: Arc<Target>, tls: Arc<ClientConfig>) -> RunResult {
    let mut result = RunResult::empty();
    while target.next() {
        let outcome = async {
            let started = Instant::now();
            let io = connect(target.addr, tls.clone()).await?;
            let (mut sender, connection) = http1::handshake(io).await.map_err(|e| e.to_string())?;
            let driver = tokio::spawn(connection);
            let request = target.request(target.body.path().to_owned())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let (status, bytes) = answer(response).await?;
            let took = started.elapsed();
            drop(sender);
            let _ = driver.await;
            // Each connection is new: check every answer's shape.
            target.check(status, &bytes, &mut None)?;
            Ok::<_, String>(took)
        }
        .await;
        match outcome {
            Ok(took) => result.record(took),
            Err(why) => result.fail(why),
        }
    }
    result
}

impl RunResult {
    fn record(&mut self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.latency.saturating_record(nanos.max(1));
        self.ok += 1;
    }
}

/// Sends `body` to `addr` in `shape` until `limits` end the run.
pub async fn run(
    addr: SocketAddr,
    tls: &Tls,
    body: &Body,
    shape: Shape,
    limits: Limits,
) -> RunResult {
    let target = Arc::new(Target {
        addr,
        body: body.clone(),
        payload: Bytes::from(body.bytes.clone()),
        deadline: Instant::now() + limits.duration,
        issued: AtomicU64::new(0),
        limits,
    });
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(shape.concurrency());
    let mut total = RunResult::empty();
    match shape {
        Shape::Http1 { connections } => {
            for _ in 0..connections {
                tasks.push(tokio::spawn(http1_loop(
                    target.clone(),
                    tls.http1.clone(),
                    None,
                )));
            }
        }
        Shape::Paced {
            connections,
            per_second,
        } => {
            // Each connection sends every `interval`; starts are staggered.
            let interval =
                Duration::from_secs_f64(connections as f64 / f64::from(per_second.max(1)));
            let stagger = interval / u32::try_from(connections.max(1)).unwrap_or(u32::MAX);
            for i in 0..connections {
                let first = started + stagger * u32::try_from(i).unwrap_or(u32::MAX);
                let pace = Some((first, interval));
                tasks.push(tokio::spawn(http1_loop(
                    target.clone(),
                    tls.http1.clone(),
                    pace,
                )));
            }
        }
        Shape::Http2 { streams } => {
            let sender = match connect(addr, tls.http2.clone()).await {
                Ok(io) => http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| e.to_string()),
                Err(why) => Err(why),
            };
            match sender {
                Ok((sender, connection)) => {
                    tokio::spawn(connection);
                    for _ in 0..streams {
                        tasks.push(tokio::spawn(http2_loop(target.clone(), sender.clone())));
                    }
                }
                Err(why) => total.fail(why),
            }
        }
        Shape::Handshake { clients } => {
            for _ in 0..clients {
                tasks.push(tokio::spawn(handshake_loop(
                    target.clone(),
                    tls.fresh.clone(),
                )));
            }
        }
    }
    for task in tasks {
        match task.await {
            Ok(part) => total.merge(&part),
            Err(why) => total.fail(format!("client task failed: {why}")),
        }
    }
    total.elapsed = started.elapsed();
    total
}
