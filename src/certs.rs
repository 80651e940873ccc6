//! Development certificates (`certs`): an ECDSA P-256 CA and a serving
//! certificate it signs, so `make run` works on a fresh machine and the
//! webhook registration's `caBundle` can be filled from `ca.crt`.
//!
//! Production clusters get their serving pair from cert-manager or a Secret;
//! the server reloads whatever is mounted (see `server::tls`).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `certs` writes, built by the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Directory that receives `ca.crt`, `tls.crt` and `tls.key`.
    pub out: PathBuf,
    pub dns: Vec<String>,
    pub ip: Vec<IpAddr>,
    /// Validity of the CA and the serving certificate, in days.
    pub days: u32,
}

/// `localhost` and the in-cluster names of the webhook Service.
pub fn default_dns_names() -> Vec<String> {
    [
        "localhost",
        "kueue-ray-webhook",
        "kueue-ray-webhook.kueue-ray-webhook",
        "kueue-ray-webhook.kueue-ray-webhook.svc",
        "kueue-ray-webhook.kueue-ray-webhook.svc.cluster.local",
    ]
    .map(String::from)
    .to_vec()
}

/// A generated CA and the serving pair it signed, PEM-encoded.
#[derive(Clone, Debug)]
pub struct DevCertificates {
    pub ca_cert_pem: String,
    pub cert_pem: String,
    /// PKCS#8 private key of the serving certificate.
    pub key_pem: String,
}

/// Generates a fresh CA and a serving certificate for `dns` and `ips`.
pub fn generate(
    dns: &[String],
    ips: &[IpAddr],
    days: u32,
) -> Result<DevCertificates, rcgen::Error> {
    let now = time::OffsetDateTime::now_utc();
    // A little slack for clocks that lag (kind nodes, laptops after sleep).
    let not_before = now - time::Duration::hours(1);
    let not_after = now + time::Duration::days(i64::from(days));

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "kueue-ray-webhook development CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = dns
        .iter()
        .cloned()
        .chain(ips.iter().map(IpAddr::to_string))
        .collect();
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    let common_name = dns.first().map_or("kueue-ray-webhook", String::as_str);
    leaf.distinguished_name
        .push(DnType::CommonName, common_name);
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    Ok(DevCertificates {
        ca_cert_pem: ca_cert.pem(),
        cert_pem: leaf_cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    })
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` (owner-only) into `dir`.
pub fn write(dir: &Path, certs: &DevCertificates) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("ca.crt"), &certs.ca_cert_pem)?;
    std::fs::write(dir.join("tls.crt"), &certs.cert_pem)?;
    write_private(&dir.join("tls.key"), certs.key_pem.as_bytes())
}

/// Writes a file that only its owner may read, even if it existed before.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents)
}

/// Generates and writes the development certificates.
pub fn run(args: Config) -> ExitCode {
    let certs = match generate(&args.dns, &args.ip, args.days) {
        Ok(certs) => certs,
        Err(error) => {
            eprintln!("error: cannot generate certificates: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = write(&args.out, &certs) {
        eprintln!(
            "error: cannot write certificates to {}: {error}",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    println!(
        "wrote {dir}/ca.crt, {dir}/tls.crt and {dir}/tls.key for {names}",
        dir = args.out.display(),
        names = args
            .dns
            .iter()
            .cloned()
            .chain(args.ip.iter().map(IpAddr::to_string))
            .collect::<Vec<_>>()
            .join(", ")
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_certificate_names_every_host_and_chains_to_the_ca() {
        let dns = default_dns_names();
        let ips = [IpAddr::from([127, 0, 0, 1])];
        let certs = generate(&dns, &ips, 30).unwrap();
        let (_, leaf_pem) = x509_parser::pem::parse_x509_pem(certs.cert_pem.as_bytes()).unwrap();
        let leaf = leaf_pem.parse_x509().unwrap();
        let sans = leaf.subject_alternative_name().unwrap().unwrap();
        let text = format!("{:?}", sans.value.general_names);
        for name in &dns {
            assert!(text.contains(name.as_str()), "{name} missing in {text}");
        }
        assert!(
            text.contains("127.0.0.1") || text.contains("[127, 0, 0, 1]"),
            "{text}"
        );
        let (_, ca_pem) = x509_parser::pem::parse_x509_pem(certs.ca_cert_pem.as_bytes()).unwrap();
        let ca = ca_pem.parse_x509().unwrap();
        assert_eq!(leaf.issuer(), ca.subject());
        assert!(ca.is_ca());
    }

    #[test]
    fn key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let certs = generate(&["localhost".into()], &[], 1).unwrap();
        std::fs::write(dir.path().join("tls.key"), "old").unwrap();
        write(dir.path(), &certs).unwrap();
        let mode = std::fs::metadata(dir.path().join("tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = std::fs::read_to_string(dir.path().join("tls.key")).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    }
}
