//! The admission routes: read the body (bounded: [`body`]), call
//! [`admission::review`](crate::admission::review), write its answer, log and
//! count it; everything else is a [`refusal`].

mod body;
mod refusal;

use crate::admission::{Answer, Webhook};
use crate::cluster::Watched;
use crate::policy::{KINDS, Policy};
use crate::server::budget::Reservation;
use crate::server::logging;
use crate::server::metrics::Metrics;
use crate::server::plain::plain;
use crate::server::slots::Tracked;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, Version, header};
use axum::response::Response;
use axum::routing::post;
use refusal::Refusal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

pub use crate::admission::MAX_BODY_BYTES;

/// Bodies up to this size are decided on the async worker that read them
/// (a few µs, less than a hand-off to another thread); larger ones on the
/// blocking pool, at most [`AdmissionState`]'s decision slots at once and
/// within the request deadline.
const INLINE_DECISION_BYTES: usize = 64 * 1024;

/// The function that answers a review; [`crate::admission::review`] in production.
pub type Reviewer = fn(Webhook, &[u8], &Policy) -> Answer;

/// What the admission handlers share.
#[derive(Clone)]
pub struct AdmissionState {
    policy: Arc<Policy>,
    metrics: Arc<Metrics>,
    /// Bound on reading the body and answering.
    request_timeout: Duration,
    /// Bound on reading the body (within `request_timeout`).
    body_read_timeout: Duration,
    reviewer: Reviewer,
    /// Decisions of large bodies that may run at once (one per core).
    decision_slots: Arc<Semaphore>,
    /// `--api-access`: the caches the decisions read (`None`: off).
    cluster: Option<Arc<Watched>>,
}

impl AdmissionState {
    /// The production state: `admission::review` with `policy`.
    pub fn new(policy: Policy, metrics: Arc<Metrics>, request_timeout: Duration) -> Self {
        Self {
            policy: Arc::new(policy),
            metrics,
            request_timeout,
            body_read_timeout: crate::server::DEFAULT_BODY_READ_TIMEOUT,
            reviewer: crate::admission::review,
            decision_slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
            cluster: None,
        }
    }

    /// The same state with bodies read within `timeout`.
    pub fn with_body_read_timeout(self, timeout: Duration) -> Self {
        Self {
            body_read_timeout: timeout,
            ..self
        }
    }

    /// The same state deciding with the caches of `cluster`.
    pub fn with_cluster(self, cluster: Option<Arc<Watched>>) -> Self {
        Self { cluster, ..self }
    }

    /// The same state answering with `reviewer` (tests inject failures).
    #[cfg(feature = "test-support")]
    pub fn with_reviewer(self, reviewer: Reviewer) -> Self {
        Self { reviewer, ..self }
    }
}

/// `POST /mutate`, `POST /validate` and the Kueue-style per-kind aliases.
/// Query strings (the apiserver's `?timeout=10s`) are ignored. A panic in a
/// handler is answered with 500 and counted instead of dropping the connection.
pub fn admission_router(state: AdmissionState) -> Router {
    let metrics = state.metrics.clone();
    let mutate = || post(mutate).fallback(refusal::method_not_allowed);
    let validate = || post(validate).fallback(refusal::method_not_allowed);
    let mut router = Router::new()
        .route("/mutate", mutate())
        .route("/validate", validate());
    for kind in KINDS {
        router = router
            .route(&format!("/mutate-{}", kind.route_suffix), mutate())
            .route(&format!("/validate-{}", kind.route_suffix), validate());
    }
    router
        .fallback(refusal::not_found)
        // One reference count per request, not one per field.
        .with_state(Arc::new(state))
        .layer(CatchPanicLayer::custom(move |panic| {
            refusal::answer_panic(&metrics, panic)
        }))
}

async fn mutate(State(state): State<Arc<AdmissionState>>, request: Request) -> Response {
    handle_review(&state, Webhook::Mutate, request).await
}

async fn validate(State(state): State<Arc<AdmissionState>>, request: Request) -> Response {
    handle_review(&state, Webhook::Validate, request).await
}

/// Reads one AdmissionReview, answers it, counts and logs the answer; all
/// within the request timeout.
async fn handle_review(state: &AdmissionState, webhook: Webhook, request: Request) -> Response {
    let _in_flight = state.metrics.in_flight();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + state.request_timeout;
    let http1 = request.version() < Version::HTTP_2;
    let answer = tokio::time::timeout_at(deadline, async {
        let tracked = request.extensions().get::<Arc<Tracked>>().cloned();
        let body_deadline = deadline.min(tokio::time::Instant::now() + state.body_read_timeout);
        let (body, reservation) =
            tokio::time::timeout_at(body_deadline, body::read_body(request, body_deadline))
                .await
                .map_err(|_| {
                    if let Some(tracked) = &tracked {
                        tracked.body_timed_out();
                    }
                    if body_deadline < deadline {
                        Refusal::BodyTimedOut(state.body_read_timeout)
                    } else {
                        Refusal::TimedOut(state.request_timeout)
                    }
                })??;
        // Never evicted from here on, whatever the connection cap.
        let _deciding = tracked.as_ref().map(Tracked::deciding);
        run_review(state, webhook, body, reservation, deadline).await
    })
    .await;
    let answer = match answer {
        Ok(Ok(answer)) => answer,
        Ok(Err(refusal)) => return refusal.into_response(&state.metrics, webhook, http1),
        Err(_) => {
            return Refusal::TimedOut(state.request_timeout).into_response(
                &state.metrics,
                webhook,
                http1,
            );
        }
    };
    let elapsed = started.elapsed();
    state.metrics.admission_answered(webhook, &answer, elapsed);
    log_answer(webhook, &answer, elapsed);
    Response::builder()
        .status(answer.status)
        .header(header::CONTENT_TYPE, answer.content_type)
        .body(Body::from(answer.body))
        .unwrap_or_else(|_| {
            // Only an invalid status code gets here; review never returns one.
            plain(StatusCode::INTERNAL_SERVER_ERROR, "invalid answer status\n")
        })
}

/// Runs the review: inline for small bodies, on the blocking pool for large
/// ones (bounded by the decision slots; its budget is held until it ends,
/// even when the deadline has answered the request already).
async fn run_review(
    state: &AdmissionState,
    webhook: Webhook,
    body: Bytes,
    reservation: Reservation,
    deadline: tokio::time::Instant,
) -> Result<Answer, Refusal> {
    if body.len() <= INLINE_DECISION_BYTES {
        let answer = first_review(
            state.reviewer,
            webhook,
            &body,
            &state.policy,
            &state.cluster,
        );
        return Ok(with_owner_read(state, webhook, &body, answer).await);
    }
    let slot = state
        .decision_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Refusal::Busy)?;
    let (reviewer, policy) = (state.reviewer, state.policy.clone());
    let cluster = state.cluster.clone();
    let decision = tokio::task::spawn_blocking(move || {
        let answer = first_review(reviewer, webhook, &body, &policy, &cluster);
        drop((slot, reservation));
        (answer, body)
    });
    match tokio::time::timeout_at(deadline, decision).await {
        Ok(Ok((answer, body))) => Ok(with_owner_read(state, webhook, &body, answer).await),
        // A panic in the reviewer: the same 500 as on the inline path.
        Ok(Err(error)) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Ok(Err(_)) => Err(Refusal::Busy),
        Err(_) => Err(Refusal::TimedOut(state.request_timeout)),
    }
}

/// The answer from the request alone, or (`--api-access`) with the caches.
fn first_review(
    reviewer: Reviewer,
    webhook: Webhook,
    body: &[u8],
    policy: &Policy,
    cluster: &Option<Arc<Watched>>,
) -> Answer {
    match cluster {
        Some(cluster) => crate::admission::review_in(webhook, body, policy, cluster.as_ref()),
        None => reviewer(webhook, body, policy),
    }
}

/// When the decision needs an owner the cache has not got: reads it
/// (bounded by the owner-read timeout, inside the request deadline) and
/// decides again with it, inline (rare: a forged owner or a lagging watch).
async fn with_owner_read(
    state: &AdmissionState,
    webhook: Webhook,
    body: &[u8],
    answer: Answer,
) -> Answer {
    let (Some(cluster), Some(read)) = (&state.cluster, &answer.record.owner_read) else {
        return answer;
    };
    let owner = cluster.read_owner(read).await;
    let view = cluster.with_read(read, &owner);
    crate::admission::review_in(webhook, body, &state.policy, &view)
}

/// Allowed answers logged at info per second; past it they are counted in
/// the next line's `unlogged` field (and in the metrics, as every answer).
pub const ALLOWED_LINES_PER_SECOND: u32 = 10;

/// Denials logged at info per second and rule (by the first rule a denial
/// names); past it they are counted in the next such line's `unlogged`.
pub const DENIAL_LINES_PER_SECOND: u32 = 10;

static ALLOWED_LINES: logging::PerSecond = logging::PerSecond::new(ALLOWED_LINES_PER_SECOND);

/// One limiter per rule, rules hashed into [`DENIAL_RULE_LIMITERS`] (two
/// rules that share one share its lines).
const DENIAL_RULE_LIMITERS: usize = 32;
static DENIAL_LINES: [logging::PerSecond; DENIAL_RULE_LIMITERS] =
    [const { logging::PerSecond::new(DENIAL_LINES_PER_SECOND) }; DENIAL_RULE_LIMITERS];

/// The limiter of a denial's lines: `Some` for a plain denial (status 200,
/// no error), by its first rule.
fn denial_limiter(answer: &Answer) -> Option<&'static logging::PerSecond> {
    let record = &answer.record;
    if record.allowed || answer.status != 200 || record.error.is_some() {
        return None;
    }
    let rule = record.denials.first()?;
    let hash = rule.bytes().fold(0usize, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(usize::from(byte))
    });
    DENIAL_LINES.get(hash % DENIAL_RULE_LIMITERS)
}

/// The info line of an admission request: what was decided, never the object.
///
/// Every error and non-200 answer gets one. Allowed answers get one up to
/// [`ALLOWED_LINES_PER_SECOND`], denials up to [`DENIAL_LINES_PER_SECOND`]
/// per rule: every request at the rates a cluster's apiserver sends; under
/// a flood the rest are counted rather than formatted (the line cost about
/// 6 µs of CPU, a fifth of a request, and a slow log reader must not see
/// thousands). With `debug` enabled every request gets its line.
fn log_answer(webhook: Webhook, answer: &Answer, elapsed: Duration) {
    let record = &answer.record;
    let plain_allow = record.allowed && answer.status == 200 && record.error.is_none();
    let limiter = if plain_allow {
        Some(&ALLOWED_LINES)
    } else {
        denial_limiter(answer)
    };
    let unlogged = match limiter {
        Some(limiter) if !tracing::enabled!(tracing::Level::DEBUG) => match limiter.admit() {
            Some(unlogged) => unlogged,
            None => return,
        },
        _ => 0,
    };
    tracing::info!(
        webhook = webhook.as_str(),
        status = answer.status,
        uid = record.uid.as_deref().unwrap_or(""),
        kind = record.kind.unwrap_or(""),
        namespace = record.namespace.as_deref().unwrap_or(""),
        name = record.name.as_deref().unwrap_or(""),
        operation = record.operation.unwrap_or(""),
        dry_run = record.dry_run,
        allowed = record.allowed,
        mutated = record.mutated,
        changes = %record.changes.join(","),
        denials = %record.denials.join(","),
        error = record.error.as_deref().unwrap_or(""),
        elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        unlogged,
        "admission review"
    );
}
