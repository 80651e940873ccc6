//! `certs`: a development CA and serving certificate.

use clap::Args;
use std::net::IpAddr;
use std::path::PathBuf;

/// Flags of `certs`.
#[derive(Clone, Debug, Args)]
pub struct CertsArgs {
    /// Directory that receives `ca.crt`, `tls.crt` and `tls.key` (created if missing).
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_OUT", default_value = "certs")]
    pub out: PathBuf,
    /// DNS name of the serving certificate; repeat for several (replaces the defaults).
    #[arg(
        long = "dns",
        env = "KUEUE_RAY_WEBHOOK_DNS",
        value_delimiter = ',',
        default_values_t = crate::certs::default_dns_names()
    )]
    pub dns: Vec<String>,
    /// IP address of the serving certificate; repeat for several (replaces the default).
    #[arg(
        long = "ip",
        env = "KUEUE_RAY_WEBHOOK_IP",
        value_delimiter = ',',
        default_values_t = [IpAddr::from([127, 0, 0, 1])]
    )]
    pub ip: Vec<IpAddr>,
    /// Validity of the CA and the serving certificate, in days.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_DAYS", default_value_t = 365)]
    pub days: u32,
}

impl CertsArgs {
    pub(super) fn config(self) -> crate::certs::Config {
        crate::certs::Config {
            out: self.out,
            dns: self.dns,
            ip: self.ip,
            days: self.days,
        }
    }
}
