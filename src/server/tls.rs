//! The serving certificate: loading, validation as a pair, and hot reload.
//!
//! Every new TLS connection takes the [`rustls::ServerConfig`] current at
//! accept time from a [`TlsSource`]; the reloader publishes a new config when
//! the files change. Connections already open keep the config they started
//! with and finish their work.
//!
//! The reloader polls file *contents* rather than watching paths: a kubelet
//! Secret update swaps the `..data` symlink (a path watch on `tls.crt` never
//! fires), and other tools rewrite the files in place; comparing bytes sees
//! both, with no platform-specific watcher.

use crate::server::metrics::Metrics;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// ALPN: `h2` for HTTP/2 clients, `http/1.1` for kube-apiserver (which offers
/// only that; rustls refuses a client whose list does not overlap).
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a certificate, key or client CA could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: PathBuf },
    #[error("{path}: invalid PEM: {source}")]
    Pem {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: no PEM private key found (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path}: certificate is not valid X.509: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("certificate {cert} and key {key} cannot be used together: {source}")]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("client CA {path}: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The files of the serving pair and the optional client CA bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs.
    pub client_ca: Option<PathBuf>,
}

/// A usable TLS configuration and facts about its serving certificate.
#[derive(Clone, Debug)]
pub struct LoadedTls {
    pub config: Arc<ServerConfig>,
    /// Leaf certificate's `notAfter`, as Unix seconds.
    pub not_after: i64,
    /// Leaf certificate's serial number, hex with colons.
    pub serial: String,
}

/// The production rustls configuration built from PEM files: TLS 1.3 and 1.2,
/// ring provider, ALPN `h2` + `http/1.1`, client certificates required when a
/// client CA is given. A certificate file may hold a chain (leaf first); the
/// key may be PKCS#8, PKCS#1 (RSA) or SEC1 (`EC PRIVATE KEY`).
pub fn server_config_from_files(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    load(files).map(|loaded| loaded.config)
}

/// Reads and validates `files` as one pair (plus client CA).
pub fn load(files: &TlsFiles) -> Result<LoadedTls, TlsError> {
    build(files, &read_snapshot(files)?)
}

/// The bytes of every file, read together so a change is seen as one.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_snapshot(files: &TlsFiles) -> Result<Snapshot, TlsError> {
    Ok(Snapshot {
        cert: read(&files.cert)?,
        key: read(&files.key)?,
        client_ca: files.client_ca.as_deref().map(read).transpose()?,
    })
}

fn parse_certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

fn parse_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|error| match error {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

fn build(files: &TlsFiles, snapshot: &Snapshot) -> Result<LoadedTls, TlsError> {
    let chain = parse_certificates(&files.cert, &snapshot.cert)?;
    let key = parse_key(&files.key, &snapshot.key)?;
    let (not_after, serial) = match chain.first() {
        Some(leaf) => leaf_facts(leaf).map_err(|reason| TlsError::Certificate {
            path: files.cert.clone(),
            reason,
        })?,
        None => {
            return Err(TlsError::NoCertificate {
                path: files.cert.clone(),
            });
        }
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match (&files.client_ca, &snapshot.client_ca) {
        (Some(path), Some(pem)) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in parse_certificates(path, pem)? {
                roots.add(certificate).map_err(|error| TlsError::ClientCa {
                    path: path.clone(),
                    reason: error.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| TlsError::ClientCa {
                    path: path.clone(),
                    reason: error.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    // `with_single_cert` checks that the key matches the leaf certificate.
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            source,
        })?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(LoadedTls {
        config: Arc::new(config),
        not_after,
        serial,
    })
}

fn leaf_facts(leaf: &CertificateDer<'_>) -> Result<(i64, String), String> {
    let (_, certificate) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|error| error.to_string())?;
    Ok((
        certificate.validity().not_after.timestamp(),
        certificate.raw_serial_as_string(),
    ))
}

/// Where connections get the TLS configuration to use for their handshake.
///
/// Cheap to clone; [`TlsSource::current`] is read once per accepted connection.
#[derive(Clone, Debug)]
pub struct TlsSource {
    current: watch::Receiver<Arc<ServerConfig>>,
}

impl TlsSource {
    /// A source that always hands out `config` (no reload).
    pub fn fixed(config: Arc<ServerConfig>) -> Self {
        let (_, current) = watch::channel(config);
        Self { current }
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.borrow().clone()
    }
}

/// Polls the certificate files and publishes each new valid pair.
pub struct Reloader {
    files: TlsFiles,
    interval: Duration,
    metrics: Arc<Metrics>,
    /// What was last seen on disk (bytes, or the read error), valid or not:
    /// a broken pair is reported once, not on every poll.
    last_seen: Option<Result<Snapshot, String>>,
    /// Why `last_seen` could not be loaded, until it is reported.
    unreported_error: Option<String>,
    publish: Option<watch::Sender<Arc<ServerConfig>>>,
}

impl Reloader {
    pub fn new(files: TlsFiles, interval: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            files,
            interval,
            metrics,
            last_seen: None,
            unreported_error: None,
            publish: None,
        }
    }

    /// Waits until the files hold a valid pair (logging each distinct problem
    /// once), and returns the source that new connections read from.
    pub async fn first_pair(&mut self) -> TlsSource {
        loop {
            if let Some(loaded) = self.poll_once() {
                let (sender, current) = watch::channel(loaded.config);
                self.publish = Some(sender);
                return TlsSource { current };
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// Keeps polling and publishing until the process ends.
    pub async fn run(mut self) {
        loop {
            tokio::time::sleep(self.interval).await;
            if let (Some(loaded), Some(sender)) = (self.poll_once(), &self.publish) {
                sender.send_replace(loaded.config);
            }
        }
    }

    /// Reads the files; returns a newly loaded pair when they changed and are valid.
    ///
    /// While a good pair is served, a broken one is reported only when it is
    /// still there one poll later: a rotation caught between the certificate
    /// and the key (in-place rewrite, or a read across a `..data` swap) is
    /// not an error worth waking anyone for.
    fn poll_once(&mut self) -> Option<LoadedTls> {
        let seen = read_snapshot(&self.files).map_err(|error| error.to_string());
        if self.last_seen.as_ref() == Some(&seen) {
            if let Some(error) = self.unreported_error.take() {
                self.report_error(&error);
            }
            return None;
        }
        self.last_seen = Some(seen.clone());
        self.unreported_error = None;
        let result = match seen {
            Ok(snapshot) => build(&self.files, &snapshot).map_err(|error| error.to_string()),
            Err(error) => Err(error),
        };
        match result {
            Ok(loaded) => {
                tracing::info!(
                    cert = %self.files.cert.display(),
                    serial = %loaded.serial,
                    not_after = loaded.not_after,
                    client_auth = self.files.client_ca.is_some(),
                    "loaded serving certificate"
                );
                self.metrics.certificate_loaded(loaded.not_after);
                Some(loaded)
            }
            Err(error) if self.publish.is_some() => {
                self.unreported_error = Some(error);
                None
            }
            Err(error) => {
                self.report_error(&error);
                None
            }
        }
    }

    fn report_error(&self, error: &str) {
        let keeping = if self.publish.is_some() {
            "keeping the last good certificate"
        } else {
            "waiting for a valid certificate"
        };
        tracing::error!(%error, "cannot load serving certificate; {keeping}");
        self.metrics.certificate_load_failed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path) -> TlsFiles {
        let certs = crate::certs::generate(&["localhost".into()], &[], 2).unwrap();
        crate::certs::write(dir, &certs).unwrap();
        TlsFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
            client_ca: None,
        }
    }

    #[test]
    fn loads_a_generated_pair_with_alpn_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        let loaded = load(&files).unwrap();
        assert_eq!(
            loaded.config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let in_a_day = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
        assert!(loaded.not_after > in_a_day, "{}", loaded.not_after);
    }

    #[test]
    fn refuses_a_key_of_another_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        let other = crate::certs::generate(&["localhost".into()], &[], 2).unwrap();
        std::fs::write(&files.key, other.key_pem).unwrap();
        let error = load(&files).unwrap_err();
        assert!(matches!(error, TlsError::Pair { .. }), "{error}");
    }

    #[test]
    fn names_the_file_that_holds_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        std::fs::write(&files.key, "").unwrap();
        let error = load(&files).unwrap_err().to_string();
        assert!(
            error.contains("tls.key") && error.contains("no PEM private key"),
            "{error}"
        );
    }

    fn errors(reloader: &Reloader) -> f64 {
        let text = reloader.metrics.encode();
        text.lines()
            .find_map(|line| {
                line.strip_prefix("kueue_ray_webhook_certificate_reloads_total{result=\"error\"} ")
            })
            .map_or(0.0, |value| value.parse().unwrap())
    }

    #[test]
    fn a_broken_pair_is_reported_once_when_it_persists_and_a_torn_rotation_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        let metrics = Arc::new(Metrics::new());
        let mut reloader = Reloader::new(files.clone(), Duration::from_millis(10), metrics);
        let loaded = reloader.poll_once().unwrap();
        reloader.publish = Some(watch::channel(loaded.config).0);
        assert!(
            reloader.poll_once().is_none(),
            "unchanged files are not reloaded"
        );

        std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
        assert!(reloader.poll_once().is_none());
        assert_eq!(errors(&reloader), 0.0, "not reported before it persists");
        assert!(reloader.poll_once().is_none());
        assert!(reloader.poll_once().is_none());
        assert_eq!(errors(&reloader), 1.0, "reported once");

        // A rotation read between the certificate and the key: not reported.
        let next = crate::certs::generate(&["localhost".into()], &[], 2).unwrap();
        std::fs::write(&files.cert, &next.cert_pem).unwrap();
        assert!(reloader.poll_once().is_none());
        std::fs::write(&files.key, &next.key_pem).unwrap();
        assert!(reloader.poll_once().is_some());
        assert_eq!(errors(&reloader), 1.0);
    }

    #[test]
    fn without_a_served_pair_a_broken_one_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path());
        std::fs::write(&files.key, "").unwrap();
        let mut reloader =
            Reloader::new(files, Duration::from_millis(10), Arc::new(Metrics::new()));
        assert!(reloader.poll_once().is_none());
        assert_eq!(errors(&reloader), 1.0);
        assert!(reloader.poll_once().is_none());
        assert_eq!(errors(&reloader), 1.0);
    }
}
