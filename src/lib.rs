//! kueue-ray-webhook: an admission webhook that makes KubeRay `RayCluster`,
//! `RayService` and `RayJob` objects follow Kueue's rules.
//!
//! Data flows one way: request bytes → [`admission`] (wire format) →
//! [`policy`] (pure decision) → [`admission`] (answer bytes). The HTTPS server
//! ([`server`]) and the offline commands ([`offline`]) both call
//! [`admission::review`], so a CI dry run answers exactly what the server would.

// Input must never crash the server (tests may: clippy.toml).
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod admission;
pub mod certs;
pub mod cli;
pub mod cluster;
pub mod offline;
pub mod policy;
pub mod server;
