//! Prometheus metrics, served on the admin listener's `/metrics`.
//!
//! Labels are bounded sets (webhook, kind, operation, rule ids, status codes):
//! never object names or namespaces, whose cardinality is unbounded.

use crate::admission::{Answer, Webhook};
use crate::server::budget::Budget;
use crate::server::slots::{Eviction, Slots};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// `Content-Type` of [`Metrics::encode`]'s output (Prometheus text 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds of the admission latency histogram, in seconds. The policy
/// decides in microseconds; the apiserver's own webhook histogram starts at
/// 5 ms and cannot see that, so these start at 25 µs.
const ADMISSION_BUCKETS: [f64; 14] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.5, 1.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdmissionLabels {
    webhook: &'static str,
    kind: &'static str,
    operation: &'static str,
    allowed: bool,
    mutated: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    kind: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    listener: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EvictionLabels {
    listener: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

/// Every metric of the process, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    admission_requests: Family<AdmissionLabels, Counter>,
    admission_duration: Histogram,
    admission_denials: Family<DenialLabels, Counter>,
    requests_in_flight: Gauge,
    http_errors: Family<CodeLabels, Counter>,
    certificate_expiry: Gauge,
    certificate_reloads: Family<ResultLabels, Counter>,
    connections: Family<ConnectionLabels, Gauge>,
    connections_evicted: Family<EvictionLabels, Counter>,
    inflight_bytes: Gauge,
    throttled: Family<ReasonLabels, Counter>,
    log_lines_dropped: Counter,
    /// What the gauges are read from at each scrape (no per-request cost).
    watched: Mutex<Watched>,
}

/// The listeners' slots and the body budget, read at each scrape.
#[derive(Debug, Default)]
struct Watched {
    slots: Vec<(&'static str, Weak<Slots>)>,
    budget: Option<Budget>,
    /// Dropped log lines already counted in `log_lines_dropped`.
    log_lines_dropped: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kueue_ray_webhook");
        let admission_requests = Family::<AdmissionLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "AdmissionReview requests answered, by webhook and decision",
            admission_requests.clone(),
        );
        let admission_duration = Histogram::new(ADMISSION_BUCKETS);
        registry.register(
            "admission_duration_seconds",
            "Time from the end of the request headers to the AdmissionReview answer",
            admission_duration.clone(),
        );
        let admission_denials = Family::<DenialLabels, Counter>::default();
        registry.register(
            "admission_denials",
            "Violated rules in denied requests, one per rule",
            admission_denials.clone(),
        );
        let requests_in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Admission requests being read or decided",
            requests_in_flight.clone(),
        );
        let http_errors = Family::<CodeLabels, Counter>::default();
        registry.register(
            "http_errors",
            "4xx and 5xx answers that are not admission decisions",
            http_errors.clone(),
        );
        let certificate_expiry = Gauge::default();
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate in use, as Unix seconds",
            certificate_expiry.clone(),
        );
        let certificate_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "certificate_reloads",
            "Loads of the serving certificate files (the first load included), by result",
            certificate_reloads.clone(),
        );
        let connections = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "connections",
            "Open connections by listener and state (handshaking, idle, reading, deciding)",
            connections.clone(),
        );
        let connections_evicted = Family::<EvictionLabels, Counter>::default();
        registry.register(
            "connections_evicted",
            "Connections closed at the connection cap to make room, by what they were doing; refused: the new one, when none could go",
            connections_evicted.clone(),
        );
        let inflight_bytes = Gauge::default();
        registry.register(
            "inflight_bytes",
            "Request body bytes held now against --max-inflight-bytes",
            inflight_bytes.clone(),
        );
        let throttled = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "throttled",
            "429 answers, by the share that had no room (connection, peer, total)",
            throttled.clone(),
        );
        let log_lines_dropped = Counter::default();
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because the log queue was full (stdout read too slowly)",
            log_lines_dropped.clone(),
        );
        let build_info = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "build_info",
            "Always 1; the version label says which build runs",
            build_info.clone(),
        );
        build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        Self {
            registry,
            admission_requests,
            admission_duration,
            admission_denials,
            requests_in_flight,
            http_errors,
            certificate_expiry,
            certificate_reloads,
            connections,
            connections_evicted,
            inflight_bytes,
            throttled,
            log_lines_dropped,
            watched: Mutex::default(),
        }
    }

    /// Reports the connections of `slots` under `listener` at each scrape.
    pub fn watch_connections(&self, listener: &'static str, slots: Arc<Slots>) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        watched.slots.retain(|(name, _)| *name != listener);
        watched.slots.push((listener, Arc::downgrade(&slots)));
    }

    /// Reports the bytes held in `budget` at each scrape.
    pub fn watch_budget(&self, budget: Budget) {
        self.watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .budget = Some(budget);
    }

    /// Counts a connection evicted (or turned away) at `listener`'s cap.
    pub fn connection_evicted(&self, listener: &'static str, reason: Eviction) {
        self.connections_evicted
            .get_or_create(&EvictionLabels {
                listener,
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Counts a 429 and which share had no room.
    pub fn throttled(&self, reason: &'static str) {
        self.throttled.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Sets the gauges read from the watched slots and budget.
    fn refresh(&self) {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let dropped = crate::server::logging::dropped_lines();
        self.log_lines_dropped
            .inc_by(dropped.saturating_sub(watched.log_lines_dropped));
        watched.log_lines_dropped = watched.log_lines_dropped.max(dropped);
        for (listener, slots) in &watched.slots {
            let Some(slots) = slots.upgrade() else {
                continue;
            };
            for (state, count) in slots.states() {
                self.connections
                    .get_or_create(&ConnectionLabels {
                        listener,
                        state: state.as_str(),
                    })
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
        if let Some(budget) = &watched.budget {
            self.inflight_bytes
                .set(i64::try_from(budget.used()).unwrap_or(i64::MAX));
        }
    }

    /// Counts one answer of `admission::review` that took `elapsed`.
    pub fn admission_answered(&self, webhook: Webhook, answer: &Answer, elapsed: Duration) {
        if answer.status >= 400 {
            self.http_error(answer.status);
            return;
        }
        let record = &answer.record;
        let kind = record.kind.unwrap_or("");
        self.admission_duration.observe(elapsed.as_secs_f64());
        self.admission_requests
            .get_or_create(&AdmissionLabels {
                webhook: webhook.as_str(),
                kind,
                operation: record.operation.unwrap_or(""),
                allowed: record.allowed,
                mutated: record.mutated,
            })
            .inc();
        for reason in &record.denials {
            self.admission_denials
                .get_or_create(&DenialLabels { kind, reason })
                .inc();
        }
    }

    /// Counts a 4xx/5xx answer that is not an admission decision.
    pub fn http_error(&self, code: u16) {
        self.http_errors.get_or_create(&CodeLabels { code }).inc();
    }

    /// Counts one request in flight until the guard is dropped (a panic included).
    pub fn in_flight(&self) -> InFlight {
        self.requests_in_flight.inc();
        InFlight(self.requests_in_flight.clone())
    }

    pub fn certificate_loaded(&self, not_after: i64) {
        self.certificate_expiry.set(not_after);
        self.certificate_reloads
            .get_or_create(&ResultLabels { result: "success" })
            .inc();
    }

    pub fn certificate_load_failed(&self) {
        self.certificate_reloads
            .get_or_create(&ResultLabels { result: "error" })
            .inc();
    }

    /// The registry, for metrics defined elsewhere (the API-aware mode's).
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        self.refresh();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// Decrements `requests_in_flight` when dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Record;

    #[test]
    fn counts_decisions_denials_and_errors_with_bounded_labels() {
        let metrics = Metrics::new();
        let denied = Answer {
            status: 200,
            content_type: "application/json",
            body: Vec::new(),
            record: Record {
                kind: Some("RayCluster"),
                name: Some("unbounded-name".into()),
                namespace: Some("team-a".into()),
                operation: Some("CREATE"),
                denials: vec!["autoscaling", "too-many-worker-groups"],
                ..Record::default()
            },
        };
        metrics.admission_answered(Webhook::Validate, &denied, Duration::from_micros(40));
        let malformed = Answer {
            status: 400,
            ..denied.clone()
        };
        metrics.admission_answered(Webhook::Mutate, &malformed, Duration::from_micros(5));
        {
            let _guard = metrics.in_flight();
            assert!(
                metrics
                    .encode()
                    .contains("kueue_ray_webhook_requests_in_flight 1\n")
            );
        }
        let text = metrics.encode();
        for line in [
            "kueue_ray_webhook_admission_requests_total{webhook=\"validate\",kind=\"RayCluster\",operation=\"CREATE\",allowed=\"false\",mutated=\"false\"} 1\n",
            "kueue_ray_webhook_admission_denials_total{kind=\"RayCluster\",reason=\"autoscaling\"} 1\n",
            "kueue_ray_webhook_http_errors_total{code=\"400\"} 1\n",
            "kueue_ray_webhook_admission_duration_seconds_bucket{le=\"5e-05\"} 1\n",
            "kueue_ray_webhook_admission_duration_seconds_count 1\n",
            "kueue_ray_webhook_requests_in_flight 0\n",
            "kueue_ray_webhook_build_info{version=\"",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("unbounded-name") && !text.contains("team-a"));
    }
}
