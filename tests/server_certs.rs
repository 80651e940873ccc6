//! Serving certificates against the real binary over real TLS: rotation by
//! kubelet-style `..data` symlink swap and by in-place rewrite under load,
//! broken pairs ignored, chains and key encodings, client certificates.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const RELOAD: [&str; 2] = ["--cert-reload-interval", "100ms"];

/// Serial of the certificate the server presents on a new connection, after
/// one review on it (so a broken server cannot pass).
async fn serial_and_review(server_addr: std::net::SocketAddr, ca_pem: &str) -> Result<u64, String> {
    let stream = connect(server_addr, http11_config(ca_pem))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let serial = serial_of(
        stream
            .get_ref()
            .1
            .peer_certificates()
            .ok_or("no peer certificate")?[0]
            .as_ref(),
    );
    drop(stream);
    let mut client = Client::connect(server_addr, http11_config(ca_pem))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let reply = client
        .post("/validate", create_review("rotation"))
        .await
        .map_err(|e| format!("request: {e}"))?;
    if reply.status != 200 {
        return Err(format!("status {}: {}", reply.status, reply.text()));
    }
    Ok(serial)
}

/// Keeps sending reviews on fresh connections until stopped; counts failures
/// and records the serials seen.
struct Load {
    stop: Arc<AtomicBool>,
    failures: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    latest_serial: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Load {
    fn start(addr: std::net::SocketAddr, ca_pem: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let latest_serial = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (stop, failures, requests, latest_serial) = (
                stop.clone(),
                failures.clone(),
                requests.clone(),
                latest_serial.clone(),
            );
            async move {
                let mut errors = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match serial_and_review(addr, &ca_pem).await {
                        Ok(serial) => latest_serial.store(serial, Ordering::SeqCst),
                        Err(error) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                            errors.push(error);
                        }
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                }
                errors
            }
        });
        Self {
            stop,
            failures,
            requests,
            latest_serial,
            task,
        }
    }

    async fn wait_for_serial(&self, serial: u64) {
        let deadline = Instant::now() + PATIENCE;
        while self.latest_serial.load(Ordering::SeqCst) != serial {
            assert!(Instant::now() < deadline, "serial {serial} never served");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A few more requests on the new certificate.
        let seen = self.requests.load(Ordering::SeqCst);
        while self.requests.load(Ordering::SeqCst) < seen + 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn finish(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        let errors = self.task.await.unwrap();
        assert_eq!(
            self.failures.load(Ordering::SeqCst),
            0,
            "failed requests: {errors:#?}"
        );
        self.requests.load(Ordering::SeqCst)
    }
}

/// A kubelet-style Secret volume: `tls.crt -> ..data/tls.crt`, `..data ->
/// ..<timestamp>`; [`KubeletVolume::swap`] writes a new timestamped
/// directory and renames a new `..data` link over the old one.
struct KubeletVolume {
    dir: PathBuf,
    generation: usize,
}

impl KubeletVolume {
    fn new(dir: &Path, issued: &Issued) -> Self {
        let mut volume = Self {
            dir: dir.to_owned(),
            generation: 0,
        };
        volume.swap(issued);
        std::os::unix::fs::symlink("..data/tls.crt", dir.join("tls.crt")).unwrap();
        std::os::unix::fs::symlink("..data/tls.key", dir.join("tls.key")).unwrap();
        volume
    }

    fn swap(&mut self, issued: &Issued) {
        self.generation += 1;
        let name = format!(
            "..2026_11_25_00_00_{:02}.{}",
            self.generation,
            1000 + self.generation
        );
        let data = self.dir.join(&name);
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("tls.crt"), &issued.cert_pem).unwrap();
        std::fs::write(data.join("tls.key"), &issued.key_pem).unwrap();
        let link = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&name, &link).unwrap();
        std::fs::rename(&link, self.dir.join("..data")).unwrap();
        if self.generation > 1 {
            let old = format!(
                "..2026_11_25_00_00_{:02}.{}",
                self.generation - 1,
                999 + self.generation
            );
            std::fs::remove_dir_all(self.dir.join(old)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_symlink_swap_rotates_without_a_failed_request() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("rotation CA");
    let mut volume = KubeletVolume::new(dir.path(), &ca.serving(1));
    let server = Server::start(
        &dir.path().join("tls.crt"),
        &dir.path().join("tls.key"),
        &RELOAD,
    );

    // A keep-alive connection opened before the rotation keeps working after it.
    let mut before = Client::connect(server.addr, http11_config(&ca.cert_pem))
        .await
        .unwrap();
    assert_review_answer(
        &before.post("/validate", create_review("b1")).await.unwrap(),
        "b1",
        false,
    );

    let load = Load::start(server.addr, ca.cert_pem.clone());
    load.wait_for_serial(1).await;
    volume.swap(&ca.serving(2));
    load.wait_for_serial(2).await;
    volume.swap(&ca.serving(3));
    load.wait_for_serial(3).await;
    assert!(load.finish().await > 10);

    assert_review_answer(
        &before.post("/validate", create_review("b2")).await.unwrap(),
        "b2",
        false,
    );
    let metrics = server.metrics();
    assert_eq!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_certificate_reloads_total{result="success"}"#
        ),
        3.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_rewrite_rotates_and_a_broken_pair_is_ignored() {
    install_crypto_provider();
    let certs = CertDir::new();
    let server = Server::start(&certs.cert(), &certs.key(), &RELOAD);
    let load = Load::start(server.addr, certs.ca.cert_pem.clone());
    load.wait_for_serial(1).await;

    // Rewritten in place, certificate first: the reloader may see the new
    // certificate with the old key for a moment; that pair is refused.
    let second = certs.ca.serving(2);
    std::fs::write(certs.cert(), &second.cert_pem).unwrap();
    std::fs::write(certs.key(), &second.key_pem).unwrap();
    load.wait_for_serial(2).await;

    // A broken certificate, then a key of another certificate: both refused,
    // each reported once, and serial 2 stays in use.
    let errors_before = server.logs_with("cannot load serving certificate").len();
    std::fs::write(
        certs.cert(),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let line = server.wait_for_log("cannot load serving certificate");
    assert!(
        line["error"].as_str().unwrap().contains("tls.crt"),
        "{line}"
    );
    std::fs::write(certs.cert(), &second.cert_pem).unwrap();
    std::fs::write(certs.key(), certs.ca.serving(99).key_pem).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while server.logs_with("cannot load serving certificate").len() < errors_before + 2 {
        assert!(Instant::now() < deadline, "{:#?}", server.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Many polls later, still one line per change and still serial 2.
    let logged = server.logs_with("cannot load serving certificate").len();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        server.logs_with("cannot load serving certificate").len(),
        logged
    );
    assert_eq!(
        serial_and_review(server.addr, &certs.ca.cert_pem).await,
        Ok(2)
    );

    let third = certs.ca.serving(3);
    std::fs::write(certs.key(), &third.key_pem).unwrap();
    std::fs::write(certs.cert(), &third.cert_pem).unwrap();
    load.wait_for_serial(3).await;
    load.finish().await;

    let metrics = server.metrics();
    assert!(
        metric(
            &metrics,
            r#"kueue_ray_webhook_certificate_reloads_total{result="error"}"#
        ) >= 2.0,
        "{metrics}"
    );
    let expiry = metric(
        &metrics,
        "kueue_ray_webhook_certificate_expiry_timestamp_seconds",
    );
    assert!(
        expiry > 4.0e9,
        "rcgen's default notAfter is year 4096: {expiry}"
    );
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl").args(args).output().expect(
        "the openssl CLI is needed to write PKCS#1 and SEC1 keys (apt-get install openssl)",
    );
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_and_pkcs8_pkcs1_sec1_keys_are_served() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let root = TestCa::new("root CA");
    let intermediate = root.intermediate("intermediate CA");

    openssl(&["genrsa", "-traditional", "-out", &path("rsa.pkcs1"), "2048"]);
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &path("ec.sec1"),
    ]);
    for key in ["rsa.pkcs1", "ec.sec1"] {
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &path(key),
            "-out",
            &path(&format!("{key}.p8")),
        ]);
    }
    let pkcs1 = std::fs::read_to_string(path("rsa.pkcs1")).unwrap();
    let sec1 = std::fs::read_to_string(path("ec.sec1")).unwrap();
    assert!(
        pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "{pkcs1}"
    );
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{sec1}");
    let key_pair = |name: &str| {
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(path(&format!("{name}.p8"))).unwrap())
            .unwrap()
    };

    let leaf = intermediate.serving(10);
    let chain = format!("{}{}", leaf.cert_pem, intermediate.cert_pem);
    let rsa = root.serving_with_key(11, key_pair("rsa.pkcs1"));
    let ec = root.serving_with_key(12, key_pair("ec.sec1"));
    let pkcs8 = root.serving(13);
    let cases = [
        (
            "chain (leaf + intermediate)",
            chain,
            leaf.key_pem.clone(),
            10,
        ),
        ("PKCS#1 RSA key", rsa.cert_pem.clone(), pkcs1, 11),
        ("SEC1 EC key", ec.cert_pem.clone(), sec1, 12),
        (
            "PKCS#8 key",
            pkcs8.cert_pem.clone(),
            pkcs8.key_pem.clone(),
            13,
        ),
    ];
    for (name, cert_pem, key_pem, serial) in cases {
        std::fs::write(path("tls.crt"), cert_pem).unwrap();
        std::fs::write(path("tls.key"), key_pem).unwrap();
        let server = Server::start(
            &dir.path().join("tls.crt"),
            &dir.path().join("tls.key"),
            &[],
        );
        // The client trusts only the root: the chain must be sent.
        assert_eq!(
            serial_and_review(server.addr, &root.cert_pem).await,
            Ok(serial),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ca_requires_and_checks_client_certificates_and_reloads() {
    install_crypto_provider();
    let certs = CertDir::new();
    let client_ca = TestCa::new("apiserver client CA");
    let other_ca = TestCa::new("someone else's CA");
    let ca_file = certs.path().join("client-ca.crt");
    std::fs::write(&ca_file, &client_ca.cert_pem).unwrap();
    let mut args = vec!["--client-ca-file", ca_file.to_str().unwrap()];
    args.extend(RELOAD);
    let server = Server::start(&certs.cert(), &certs.key(), &args);

    async fn review_with(
        server: &Server,
        ca_pem: &str,
        cert: Option<&Issued>,
    ) -> Result<u16, String> {
        let config = client_config(ca_pem, &[b"http/1.1"], cert);
        let mut client = Client::connect(server.addr, config)
            .await
            .map_err(|e| e.to_string())?;
        let reply = client
            .post("/validate", create_review("mtls"))
            .await
            .map_err(|e| e.to_string())?;
        Ok(reply.status.as_u16())
    }

    let apiserver = client_ca.client("kube-apiserver");
    let stranger = other_ca.client("stranger");
    assert_eq!(
        review_with(&server, &certs.ca.cert_pem, Some(&apiserver)).await,
        Ok(200)
    );
    assert!(
        review_with(&server, &certs.ca.cert_pem, None)
            .await
            .is_err(),
        "no client certificate"
    );
    assert!(
        review_with(&server, &certs.ca.cert_pem, Some(&stranger))
            .await
            .is_err(),
        "wrong CA"
    );

    // The client CA file is reloaded like the serving pair.
    std::fs::write(&ca_file, &other_ca.cert_pem).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while review_with(&server, &certs.ca.cert_pem, Some(&stranger)).await != Ok(200) {
        assert!(Instant::now() < deadline, "new client CA never used");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        review_with(&server, &certs.ca.cert_pem, Some(&apiserver))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certs_command_writes_a_pair_the_server_serves_for_localhost_and_127_0_0_1() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let status = Command::new(BIN)
        .args(["certs", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out.join("tls.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
    let ca = std::fs::read_to_string(out.join("ca.crt")).unwrap();

    let server = Server::start(&out.join("tls.crt"), &out.join("tls.key"), &[]);
    for name in ["localhost", "127.0.0.1"] {
        let stream = connect_as(server.addr, http11_config(&ca), name).await;
        assert!(stream.is_ok(), "{name}: {stream:?}");
    }
    // The in-cluster Service names are in the certificate too.
    let pem = std::fs::read(out.join("tls.crt")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let names = format!(
        "{:?}",
        cert.subject_alternative_name().unwrap().unwrap().value
    );
    for name in [
        "kueue-ray-webhook.kueue-ray-webhook.svc",
        "kueue-ray-webhook.kueue-ray-webhook.svc.cluster.local",
    ] {
        assert!(names.contains(name), "{name} missing: {names}");
    }

    // --dns/--ip replace the defaults.
    let other = dir.path().join("other");
    let status = Command::new(BIN)
        .args([
            "certs",
            "--dns",
            "webhook.example",
            "--dns",
            "localhost",
            "--ip",
            "127.0.0.2",
        ])
        .arg("--out")
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let server = Server::start(&other.join("tls.crt"), &other.join("tls.key"), &[]);
    let ca = std::fs::read_to_string(other.join("ca.crt")).unwrap();
    assert!(
        connect_as(server.addr, http11_config(&ca), "webhook.example")
            .await
            .is_ok()
    );
    assert!(
        connect_as(server.addr, http11_config(&ca), "127.0.0.1")
            .await
            .is_err()
    );
}
