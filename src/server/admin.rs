//! The admin routes: liveness, readiness and metrics, for the kubelet and
//! Prometheus, served over plain HTTP by
//! [`serve_plain`](crate::server::serve_plain). Probes are not logged per request.

use crate::server::metrics::{self, Metrics};
use crate::server::plain::plain;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Connections the admin listener serves at once (probes and scrapes are
/// a handful). At the cap the idle ones are evicted, so a probe always
/// finds room: a request here is answered in microseconds, never held.
pub const MAX_CONNECTIONS: usize = 32;

/// Connections one source address may hold on the admin listener: the
/// kubelet's probes and a scraper come from other addresses than a flood.
pub const MAX_PEER_CONNECTIONS: usize = 16;

/// Where the process is in its life, as `/readyz` reports it.
#[derive(Debug, Default)]
pub struct Health(AtomicU8);

const STARTING: u8 = 0;
const READY: u8 = 1;
const SHUTTING_DOWN: u8 = 2;

impl Health {
    /// The TLS listener is bound and a valid certificate is loaded.
    pub fn set_ready(&self) {
        // Never leaves shutting-down: a signal during startup wins.
        let _ = self
            .0
            .compare_exchange(STARTING, READY, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// A shutdown signal arrived: endpoints should be removed from the Service.
    pub fn set_shutting_down(&self) {
        self.0.store(SHUTTING_DOWN, Ordering::SeqCst);
    }

    fn readiness(&self) -> (StatusCode, &'static str) {
        match self.0.load(Ordering::SeqCst) {
            READY => (StatusCode::OK, "ok\n"),
            SHUTTING_DOWN => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "starting: waiting for a valid serving certificate, the TLS listener and \
                 (--api-access) the first sync of the watches\n",
            ),
        }
    }
}

#[derive(Clone)]
struct AdminState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// `GET /livez`, `GET /readyz`, `GET /metrics`.
pub fn admin_router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(|| async {
            plain(
                StatusCode::NOT_FOUND,
                "not found: the admin listener serves /livez, /readyz and /metrics\n",
            )
        })
        .with_state(AdminState { health, metrics })
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let (status, message) = state.health.readiness();
    plain(status, message)
}

async fn metrics_text(State(state): State<AdminState>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}
