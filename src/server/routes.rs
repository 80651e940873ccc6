//! The admission routes: read the body (bounded), call
//! [`admission::review`](crate::admission::review), write its answer, log and
//! count it.

use crate::admission::{Answer, Webhook};
use crate::policy::{KINDS, Policy};
use crate::server::budget::{Budget, ConnectionShare, NoRoom, Reservation};
use crate::server::logging;
use crate::server::metrics::Metrics;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;
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

/// How long a request waits for room in the in-flight budget before it is
/// refused with 429 (a second try from the apiserver is its next request).
const BUDGET_WAIT: Duration = Duration::from_secs(1);

/// How much of the body of a request answered 404 or 405 is read and thrown
/// away to keep its HTTP/1.1 connection usable.
const MAX_UNWANTED_BYTES: usize = 64 * 1024;

/// How much of an oversized body is read and thrown away so that an HTTP/1.1
/// client still sending it receives the 413 instead of a reset connection.
const MAX_DISCARDED_BYTES: usize = 4 * MAX_BODY_BYTES;

/// The function that answers a review; [`crate::admission::review`] in production.
pub type Reviewer = fn(Webhook, &[u8], &Policy) -> Answer;

/// What the admission handlers share.
#[derive(Clone)]
pub struct AdmissionState {
    policy: Arc<Policy>,
    metrics: Arc<Metrics>,
    /// Bound on reading the body and answering.
    request_timeout: Duration,
    reviewer: Reviewer,
    /// Decisions of large bodies that may run at once (one per core).
    decision_slots: Arc<Semaphore>,
}

impl AdmissionState {
    /// The production state: `admission::review` with `policy`.
    pub fn new(policy: Policy, metrics: Arc<Metrics>, request_timeout: Duration) -> Self {
        Self {
            policy: Arc::new(policy),
            metrics,
            request_timeout,
            reviewer: crate::admission::review,
            decision_slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
        }
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
    let mutate = || post(mutate).fallback(method_not_allowed);
    let validate = || post(validate).fallback(method_not_allowed);
    let mut router = Router::new()
        .route("/mutate", mutate())
        .route("/validate", validate());
    for kind in KINDS {
        router = router
            .route(&format!("/mutate-{}", kind.route_suffix), mutate())
            .route(&format!("/validate-{}", kind.route_suffix), validate());
    }
    router
        .fallback(not_found)
        // One reference count per request, not one per field.
        .with_state(Arc::new(state))
        .layer(CatchPanicLayer::custom(move |panic| {
            answer_panic(&metrics, panic)
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
        let (body, reservation) = read_body(request, deadline).await?;
        decide(state, webhook, body, reservation, deadline).await
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
async fn decide(
    state: &AdmissionState,
    webhook: Webhook,
    body: Bytes,
    reservation: Reservation,
    deadline: tokio::time::Instant,
) -> Result<Answer, Refusal> {
    if body.len() <= INLINE_DECISION_BYTES {
        return Ok((state.reviewer)(webhook, &body, &state.policy));
    }
    let slot = state
        .decision_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Refusal::Busy)?;
    let (reviewer, policy) = (state.reviewer, state.policy.clone());
    let decision = tokio::task::spawn_blocking(move || {
        let answer = reviewer(webhook, &body, &policy);
        drop((slot, reservation));
        answer
    });
    match tokio::time::timeout_at(deadline, decision).await {
        Ok(Ok(answer)) => Ok(answer),
        // A panic in the reviewer: the same 500 as on the inline path.
        Ok(Err(error)) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Ok(Err(_)) => Err(Refusal::Busy),
        Err(_) => Err(Refusal::TimedOut(state.request_timeout)),
    }
}

/// Allowed answers logged at info per second; past it they are counted in
/// the next line's `unlogged` field (and in the metrics, as every answer).
pub const ALLOWED_LINES_PER_SECOND: u32 = 10;

static ALLOWED_LINES: logging::PerSecond = logging::PerSecond::new(ALLOWED_LINES_PER_SECOND);

/// The info line of an admission request: what was decided, never the object.
///
/// Every denial, error and non-200 answer gets one. Allowed answers get one
/// up to [`ALLOWED_LINES_PER_SECOND`], which is every request at the rates a
/// cluster's apiserver sends; under a flood the rest are counted rather
/// than formatted (the line cost about 6 µs of CPU, a fifth of a request).
/// With `debug` enabled every request gets its line.
fn log_answer(webhook: Webhook, answer: &Answer, elapsed: Duration) {
    let record = &answer.record;
    let plain_allow = record.allowed && answer.status == 200 && record.error.is_none();
    let unlogged = if plain_allow && !tracing::enabled!(tracing::Level::DEBUG) {
        match ALLOWED_LINES.admit() {
            Some(unlogged) => unlogged,
            None => return,
        }
    } else {
        0
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

/// Why a request was not handed to the policy, or not answered by it.
enum Refusal {
    TooLarge,
    /// Larger than one connection's share of the budget: never accepted.
    OverShare(usize),
    /// The in-flight budget has no room now.
    NoRoom(usize),
    Unreadable(String),
    TimedOut(Duration),
    /// The server is stopping (no decision slot will be free again).
    Busy,
}

impl Refusal {
    fn into_response(self, metrics: &Metrics, webhook: Webhook, http1: bool) -> Response {
        let (status, message) = match self {
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{}\n", crate::admission::body_too_large_message()),
            ),
            Refusal::OverShare(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is larger than one connection's share of --max-inflight-bytes ({limit} bytes)\n"
                ),
            ),
            Refusal::NoRoom(limit) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many request bytes in flight (--max-inflight-bytes: {limit} bytes); retry shortly\n"
                ),
            ),
            Refusal::Unreadable(error) => (
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}\n"),
            ),
            Refusal::TimedOut(timeout) => (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request not received and answered within the request timeout ({})\n",
                    humantime::format_duration(timeout)
                ),
            ),
            Refusal::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down\n".to_owned(),
            ),
        };
        metrics.http_error(status.as_u16());
        tracing::info!(
            webhook = webhook.as_str(),
            status = status.as_u16(),
            error = message.trim_end(),
            "admission request refused"
        );
        let mut response = plain(status, message);
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if http1 && status != StatusCode::BAD_REQUEST {
            // The body may be unread: the connection cannot carry another
            // request, and the client should know before it tries.
            close_connection(&mut response);
        }
        response
    }
}

/// `Connection: close`: hyper closes an HTTP/1.1 connection after this answer.
fn close_connection(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// Reads the body up to [`MAX_BODY_BYTES`], holding budget for every byte
/// of its buffer before allocating it: the declared length up front, the
/// buffer itself growing only with what arrived. A body that arrives in one
/// frame (a review of a few KiB, usually) is kept as received, not copied.
async fn read_body(
    request: Request,
    deadline: tokio::time::Instant,
) -> Result<(Bytes, Reservation), Refusal> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let too_large = declared.is_some_and(|length| length > MAX_BODY_BYTES as u64);
    if too_large && expects_continue && request.version() < Version::HTTP_2 {
        // HTTP/1.x: answer before reading, so hyper never sends `100
        // Continue` and the client never sends the body. (Over HTTP/2 the
        // body is drained instead: some clients, curl 7.x among them, lose
        // an answer that arrives before their body is sent.)
        return Err(Refusal::TooLarge);
    }
    let share = request
        .extensions()
        .get::<ConnectionShare>()
        .cloned()
        // Only a router served outside `serve_tls` has no share: one body's worth.
        .unwrap_or_else(|| Budget::new(MAX_BODY_BYTES, MAX_BODY_BYTES).connection());
    let declared = declared.map_or(0, |length| length.min(MAX_BODY_BYTES as u64) as usize);
    let mut reservation = share.reservation();
    reserve(&mut reservation, declared, deadline).await?;
    // The first frame as received; once a second arrives, all of them
    // joined in `buffer`.
    let mut first: Option<Bytes> = None;
    let mut buffer = Vec::new();
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| Refusal::Unreadable(error.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let held = first.as_ref().map_or(buffer.len(), Bytes::len);
        let needed = held + data.len();
        if needed > MAX_BODY_BYTES {
            drop(reservation);
            discard(body, needed).await;
            return Err(Refusal::TooLarge);
        }
        if held == 0 {
            // Already allocated by hyper (within its bounded read buffer):
            // held against the budget as it is, without a copy.
            reserve(&mut reservation, needed, deadline).await?;
            first = Some(data);
            continue;
        }
        if needed > buffer.capacity() {
            // Double as a Vec would, but never past the declared length
            // (while it holds) and never without budget for it; while the
            // first frame is copied over, both are held.
            let limit = if declared >= needed {
                declared
            } else {
                MAX_BODY_BYTES
            };
            let capacity = needed.max(held.max(buffer.capacity()) * 2).min(limit);
            let joining = first.as_ref().map_or(0, Bytes::len);
            reserve(&mut reservation, capacity + joining, deadline).await?;
            buffer.reserve_exact(capacity - buffer.len());
        }
        if let Some(first) = first.take() {
            buffer.extend_from_slice(&first);
        }
        buffer.extend_from_slice(&data);
    }
    let body = match first {
        Some(first) => first,
        None => Bytes::from(buffer),
    };
    Ok((body, reservation))
}

/// Grows `reservation` to `bytes`, waiting for room at most [`BUDGET_WAIT`]
/// and never past the request's `deadline`.
async fn reserve(
    reservation: &mut Reservation,
    bytes: usize,
    deadline: tokio::time::Instant,
) -> Result<(), Refusal> {
    let wait = deadline.min(tokio::time::Instant::now() + BUDGET_WAIT);
    reservation
        .grow_to(bytes, wait)
        .await
        .map_err(|no_room| match no_room {
            NoRoom::Never { limit } => Refusal::OverShare(limit),
            NoRoom::Now { limit } => Refusal::NoRoom(limit),
        })
}

/// Reads and drops the rest of an oversized body, up to a bound, so that the
/// client finishes sending and reads the 413 (closing a socket with unread
/// data resets it, and the client may lose the answer).
async fn discard(mut body: Body, mut seen: usize) {
    while seen <= MAX_DISCARDED_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |data| data.len()),
            _ => return,
        }
    }
}

async fn method_not_allowed(
    State(state): State<Arc<AdmissionState>>,
    request: Request,
) -> Response {
    let message = format!(
        "method {} is not allowed on {}: admission reviews are sent with POST\n",
        request.method(),
        request.uri().path()
    );
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, message);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    state.metrics.http_error(405);
    answer_unwanted(request, response).await
}

async fn not_found(State(state): State<Arc<AdmissionState>>, request: Request) -> Response {
    let message = format!(
        "no webhook at {}: use /mutate or /validate (or the -ray-io-v1-raycluster and -ray-io-v1-rayservice aliases)\n",
        request.uri().path()
    );
    state.metrics.http_error(404);
    answer_unwanted(request, plain(StatusCode::NOT_FOUND, message)).await
}

/// An error answer to a request whose body nobody wants: a small body is
/// read and dropped first, so that an HTTP/1.1 connection stays usable; for
/// a larger or slower one the answer says `Connection: close` (hyper closes
/// a connection whose body was not read, and without the header the
/// client's next request on it would fail).
async fn answer_unwanted(request: Request, mut response: Response) -> Response {
    if request.version() >= Version::HTTP_2 {
        return response;
    }
    let mut body = request.into_body();
    let drained = tokio::time::timeout(BUDGET_WAIT, async {
        let mut seen = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > MAX_UNWANTED_BYTES {
                return false;
            }
        }
        true
    })
    .await;
    if drained != Ok(true) {
        close_connection(&mut response);
    }
    response
}

fn answer_panic(metrics: &Metrics, panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let reason = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    tracing::error!(panic = %reason, "handler panicked; answered 500");
    metrics.http_error(500);
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error while handling the request\n",
    )
}

/// A plain-text answer.
pub fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}
