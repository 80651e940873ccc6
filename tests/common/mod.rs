//! Shared helpers for the integration tests: certificates in a temporary
//! directory, the real `kueue-ray-webhook serve` binary on ephemeral loopback
//! ports, and TLS clients (tokio-rustls + hyper) that speak HTTP/1.1 or HTTP/2.
#![allow(dead_code)] // each test binary uses a different subset

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Upper bound for anything a test waits for (never asserted as a timing).
pub const PATIENCE: Duration = Duration::from_secs(30);

pub const BIN: &str = env!("CARGO_BIN_EXE_kueue-ray-webhook");

pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

// ---------------------------------------------------------------- certificates

/// A CA that issues serving (and client) certificates for the tests.
pub struct TestCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A serving or client certificate and its key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let (key, params) = ca_params(name);
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Self {
        let (key, params) = ca_params(name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// Signs a leaf certificate for `key` with this CA.
    fn issue(&self, mut params: CertificateParams, key: KeyPair) -> Issued {
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A serving certificate for `localhost` and 127.0.0.1 with `serial`, ECDSA P-256 key.
    pub fn serving(&self, serial: u64) -> Issued {
        self.serving_with_key(serial, KeyPair::generate().unwrap())
    }

    pub fn serving_with_key(&self, serial: u64, key: KeyPair) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, key)
    }

    /// A client certificate (for `--client-ca-file` tests).
    pub fn client(&self, name: &str) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, key)
    }
}

/// A fresh key and the parameters of a CA certificate named `name`.
fn ca_params(name: &str) -> (KeyPair, CertificateParams) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (key, params)
}

/// Serial number of a DER certificate, as rcgen wrote it.
pub fn serial_of(der: &[u8]) -> u64 {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let bytes = cert.raw_serial();
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// A temporary directory holding `tls.crt`/`tls.key` for one server.
pub struct CertDir {
    pub dir: tempfile::TempDir,
    pub ca: TestCa,
}

impl CertDir {
    /// A fresh CA and a serving pair with serial 1 written as plain files.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("test CA");
        let issued = ca.serving(1);
        std::fs::write(dir.path().join("tls.crt"), &issued.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), &issued.key_pem).unwrap();
        Self { dir, ca }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cert(&self) -> PathBuf {
        self.path().join("tls.crt")
    }

    pub fn key(&self) -> PathBuf {
        self.path().join("tls.key")
    }
}

// ---------------------------------------------------------------- the server

/// Calls `probe` every 20 ms until it returns `Some`; panics with
/// `failure()` once [`PATIENCE`] has passed.
pub fn poll<T>(mut probe: impl FnMut() -> Option<T>, failure: impl FnOnce() -> String) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        if Instant::now() >= deadline {
            panic!("{}", failure());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The real binary, serving on ephemeral loopback ports, killed on drop.
pub struct Server {
    pub child: Child,
    /// The HTTPS admission listener.
    pub addr: SocketAddr,
    /// The plain-HTTP admin listener.
    pub admin: SocketAddr,
    logs: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    /// `serve` with `cert`/`key`, no shutdown delay, JSON logs, plus `extra` flags.
    pub fn start(cert: &Path, key: &Path, extra: &[&str]) -> Self {
        let mut command = Self::command(cert, key);
        if !extra.contains(&"--shutdown-delay") {
            command.args(["--shutdown-delay", "0s"]);
        }
        command.args(extra);
        Self::spawn(command)
    }

    /// Runs `command` (a `serve` with `127.0.0.1:0` listeners and JSON logs)
    /// and waits for both addresses and `/readyz` 200.
    pub fn spawn(command: Command) -> Self {
        let mut server = Self::spawn_unready(command);
        server.addr = server.wait_for_listener("admission");
        server.wait_ready();
        server
    }

    /// Runs `command` and returns once the admin listener is up (the
    /// admission listener may still wait for a certificate).
    pub fn spawn_unready(mut command: Command) -> Self {
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env_remove("RUST_LOG");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .expect("cannot start kueue-ray-webhook serve");
        let stdout = child.stdout.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "message": "<not JSON>", "raw": line }));
                sink.lock().unwrap().push(value);
            }
        });
        let mut server = Self {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin: SocketAddr::from(([0, 0, 0, 0], 0)),
            logs,
        };
        server.admin = server.wait_for_listener("admin");
        server
    }

    /// Waits until `listener` logs its address (failing early if the server exits).
    fn wait_for_listener(&mut self, listener: &str) -> SocketAddr {
        let logs = self.logs.clone();
        poll(
            || {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("server exited with {status}: {:#?}", logs.lock().unwrap());
                }
                self.logged_addr(listener)
            },
            || format!("{listener} never listened: {:#?}", logs.lock().unwrap()),
        )
    }

    /// The usual `serve` command line for tests, before `extra` flags.
    pub fn command(cert: &Path, key: &Path) -> Command {
        let mut command = Command::new(BIN);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .args(["--log-format", "json"])
            .arg("--tls-cert-file")
            .arg(cert)
            .arg("--tls-key-file")
            .arg(key);
        command
    }

    fn logged_addr(&self, listener: &str) -> Option<SocketAddr> {
        self.logs()
            .iter()
            .find(|line| line["listener"] == listener && line["addr"].is_string())
            .and_then(|line| line["addr"].as_str()?.parse().ok())
    }

    /// Every log line so far, parsed.
    pub fn logs(&self) -> Vec<Value> {
        self.logs.lock().unwrap().clone()
    }

    /// Log lines whose `message` contains `text`.
    pub fn logs_with(&self, text: &str) -> Vec<Value> {
        self.logs()
            .into_iter()
            .filter(|line| line["message"].as_str().is_some_and(|m| m.contains(text)))
            .collect()
    }

    /// Waits until a log line with `text` appears, and returns the latest.
    pub fn wait_for_log(&self, text: &str) -> Value {
        let mut lines = self.wait_for_logs(text, 1);
        lines.pop().unwrap_or_default()
    }

    /// Waits until `count` log lines contain `text`, and returns them.
    pub fn wait_for_logs(&self, text: &str, count: usize) -> Vec<Value> {
        poll(
            || Some(self.logs_with(text)).filter(|lines| lines.len() >= count),
            || format!("fewer than {count} logs {text:?}: {:#?}", self.logs()),
        )
    }

    pub fn wait_ready(&self) {
        poll(
            || (admin_get_blocking(self.admin, "/readyz").0 == 200).then_some(()),
            || format!("never ready: {:#?}", self.logs()),
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let logs = self.logs.clone();
        poll(
            || self.child.try_wait().unwrap(),
            || format!("server did not exit: {:#?}", logs.lock().unwrap()),
        )
    }

    pub fn metrics(&self) -> String {
        let (status, body) = admin_get_blocking(self.admin, "/metrics");
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on the admin listener over plain HTTP/1.1: (status, body).
pub fn admin_get_blocking(admin: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(admin) else {
        return (0, String::new());
    };
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    if stream.read_to_string(&mut response).is_err() {
        return (0, String::new());
    }
    status_and_body(&response)
}

/// A plain HTTP/1.1 response's status (0 when unreadable) and body.
pub fn status_and_body(response: &str) -> (u16, String) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of the sample `name` (a full series, labels included) in a
/// Prometheus text exposition, 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------- TLS clients

/// A client configuration trusting `ca_pem`, offering `alpn`, with an
/// optional client certificate.
pub fn client_config(
    ca_pem: &str,
    alpn: &[&[u8]],
    client_cert: Option<&Issued>,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match client_cert {
        Some(issued) => builder
            .with_client_auth_cert(
                vec![issued.der.clone()],
                PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Only `http/1.1`, as kube-apiserver offers.
pub fn http11_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    client_config(ca_pem, &[b"http/1.1"], None)
}

pub fn h2_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    client_config(ca_pem, &[b"h2"], None)
}

/// A TLS connection to `addr` for the name `localhost`.
pub async fn connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    connect_as(addr, config, "localhost").await
}

/// A TLS connection to `addr` that checks the certificate for `name` (a DNS
/// name or an IP address).
pub async fn connect_as(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

/// One HTTP/1.1 or HTTP/2 client connection.
pub enum Client {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

/// What the server answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    /// Connects and speaks whatever ALPN chose (`h2`, else HTTP/1.1).
    pub async fn connect(
        addr: SocketAddr,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Self> {
        let stream = connect(addr, config).await?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        if h2 {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(connection);
            Ok(Client::Http2(sender))
        } else {
            let (sender, connection) = http1::handshake(io).await.map_err(std::io::Error::other)?;
            tokio::spawn(connection);
            Ok(Client::Http1(sender))
        }
    }

    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> hyper::Result<Reply> {
        let response = match self {
            Client::Http1(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Client::Http2(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> hyper::Result<Reply> {
        self.send(post_request(path, body)).await
    }
}

pub fn post_request(path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap()
}

// ---------------------------------------------------------------- reviews

/// A small RayCluster; `queue` becomes its queue label.
pub fn raycluster(name: &str, queue: Option<&str>) -> Value {
    let mut object = json!({
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": { "name": name, "namespace": "team-a" },
        "spec": {
            "headGroupSpec": { "rayStartParams": {}, "template": { "spec": { "containers": [
                { "name": "ray-head", "image": "rayproject/ray:2.46.0" } ] } } },
            "workerGroupSpecs": [ { "groupName": "small", "replicas": 1, "rayStartParams": {},
                "template": { "spec": { "containers": [
                    { "name": "ray-worker", "image": "rayproject/ray:2.46.0" } ] } } } ]
        }
    });
    if let Some(queue) = queue {
        object["metadata"]["labels"] = json!({ "kueue.x-k8s.io/queue-name": queue });
    }
    object
}

/// An AdmissionReview request for `object` (and `old_object` on UPDATE),
/// built by the library's [`ReviewRequest`](kueue_ray_webhook::admission::ReviewRequest).
pub fn review(
    uid: &str,
    operation: &str,
    object: Option<Value>,
    old_object: Option<Value>,
) -> Value {
    use kueue_ray_webhook::policy::RayKind;
    let kind = object
        .as_ref()
        .or(old_object.as_ref())
        .and_then(|o| o["kind"].as_str())
        .map_or(RayKind::RayCluster, |kind| {
            RayKind::named(kind)
                .unwrap_or_else(|| panic!("{kind} is not a kind the webhook handles"))
        });
    let operation = serde_json::from_value(json!(operation)).unwrap();
    kueue_ray_webhook::admission::ReviewRequest {
        uid,
        namespace: "team-a",
        old_object: old_object.as_ref(),
        username: "alice",
        ..kueue_ray_webhook::admission::ReviewRequest::new(kind, operation, object.as_ref())
    }
    .to_json()
}

/// A CREATE review of a labelled RayCluster, as bytes.
pub fn create_review(uid: &str) -> Vec<u8> {
    serde_json::to_vec(&review(
        uid,
        "CREATE",
        Some(raycluster("rc", Some("user-queue"))),
        None,
    ))
    .unwrap()
}

/// A fresh connection still gets a decided review: the server survived.
pub async fn assert_still_serves(server: &Server, ca_pem: &str) {
    let mut client = Client::connect(server.addr, http11_config(ca_pem))
        .await
        .unwrap();
    let reply = client.post("/validate", create_review("ok")).await.unwrap();
    assert_review_answer(&reply, "ok", false);
}

/// Checks the invariants of every AdmissionReview answer and returns `response`.
pub fn assert_review_answer(reply: &Reply, uid: &str, mutating: bool) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
    );
    let answer = reply.json();
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1", "{answer}");
    assert_eq!(answer["kind"], "AdmissionReview", "{answer}");
    let response = answer["response"].clone();
    assert_eq!(response["uid"], uid, "{answer}");
    if !mutating {
        assert!(
            response.get("patch").is_none() && response.get("patchType").is_none(),
            "{answer}"
        );
    }
    if let Some(patch) = response.get("patch") {
        assert_eq!(response["patchType"], "JSONPatch", "{answer}");
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(patch.as_str().expect("patch is a base64 string"))
            .expect("patch is base64");
        let _: json_patch::Patch = serde_json::from_slice(&decoded).expect("patch is a JSON Patch");
    }
    response
}

/// Runs `curl` (the client the README uses) and returns (HTTP code, body, exit status).
pub fn curl(args: &[&str]) -> (String, String, ExitStatus) {
    let output = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl is needed by the integration tests (apt-get install curl)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (code.to_owned(), body.to_owned(), output.status)
}

/// The resident set size of process `pid` in bytes (`VmRSS`).
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap();
    kib * 1024
}
