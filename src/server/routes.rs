//! The admission routes: read the body (bounded), call
//! [`admission::review`](crate::admission::review), write its answer, log and
//! count it.

use crate::admission::{Answer, Webhook};
use crate::policy::{KINDS, Policy};
use crate::server::metrics::Metrics;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;

/// Largest request body accepted: controller-runtime's limit (an UPDATE
/// review carries the object twice).
pub const MAX_BODY_BYTES: usize = 7 * 1024 * 1024;

/// How much of an oversized body is read and thrown away so that an HTTP/1.1
/// client still sending it receives the 413 instead of a reset connection.
const MAX_DISCARDED_BYTES: usize = 4 * MAX_BODY_BYTES;

/// The function that answers a review; [`crate::admission::review`] in production.
pub type Reviewer = fn(Webhook, &[u8], &Policy) -> Answer;

/// What the admission handlers share.
#[derive(Clone)]
pub struct AdmissionState {
    pub policy: Arc<Policy>,
    pub metrics: Arc<Metrics>,
    /// Bound on reading the body and answering.
    pub request_timeout: Duration,
    pub reviewer: Reviewer,
}

impl AdmissionState {
    /// The production state: `admission::review` with `policy`.
    pub fn new(policy: Policy, metrics: Arc<Metrics>, request_timeout: Duration) -> Self {
        Self {
            policy: Arc::new(policy),
            metrics,
            request_timeout,
            reviewer: crate::admission::review,
        }
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
        .with_state(state)
        .layer(CatchPanicLayer::custom(move |panic| {
            answer_panic(&metrics, panic)
        }))
}

async fn mutate(State(state): State<AdmissionState>, request: Request) -> Response {
    admit(&state, Webhook::Mutate, request).await
}

async fn validate(State(state): State<AdmissionState>, request: Request) -> Response {
    admit(&state, Webhook::Validate, request).await
}

async fn admit(state: &AdmissionState, webhook: Webhook, request: Request) -> Response {
    let _in_flight = state.metrics.in_flight();
    let started = Instant::now();
    let timeout = state.request_timeout;
    let body = match tokio::time::timeout(timeout, read_body(request)).await {
        Ok(Ok(body)) => body,
        Ok(Err(refusal)) => return refusal.into_response(&state.metrics, webhook),
        Err(_) => {
            return BodyRefusal::TimedOut(timeout).into_response(&state.metrics, webhook);
        }
    };
    let answer = (state.reviewer)(webhook, &body, &state.policy);
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

/// The one info line per admission request: what was decided, never the object.
fn log_answer(webhook: Webhook, answer: &Answer, elapsed: Duration) {
    let record = &answer.record;
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
        "admission review"
    );
}

/// Why a request body was not handed to the policy.
enum BodyRefusal {
    TooLarge,
    Unreadable(String),
    TimedOut(Duration),
}

impl BodyRefusal {
    fn into_response(self, metrics: &Metrics, webhook: Webhook) -> Response {
        let (status, message) = match self {
            BodyRefusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {MAX_BODY_BYTES} bytes (7 MiB)\n"),
            ),
            BodyRefusal::Unreadable(error) => (
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}\n"),
            ),
            BodyRefusal::TimedOut(timeout) => (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request not received within the request timeout ({})\n",
                    humantime::format_duration(timeout)
                ),
            ),
        };
        metrics.http_error(status.as_u16());
        tracing::info!(
            webhook = webhook.as_str(),
            status = status.as_u16(),
            error = message.trim_end(),
            "admission request refused"
        );
        plain(status, message)
    }
}

/// Reads the body up to [`MAX_BODY_BYTES`].
async fn read_body(request: Request) -> Result<Vec<u8>, BodyRefusal> {
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
        return Err(BodyRefusal::TooLarge);
    }
    let capacity = declared.map_or(0, |length| length.min(MAX_BODY_BYTES as u64) as usize);
    let mut buffer = Vec::with_capacity(capacity);
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| BodyRefusal::Unreadable(error.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > MAX_BODY_BYTES {
                discard(body, buffer.len() + data.len()).await;
                return Err(BodyRefusal::TooLarge);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer)
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

async fn method_not_allowed(State(state): State<AdmissionState>, request: Request) -> Response {
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
    response
}

async fn not_found(State(state): State<AdmissionState>, request: Request) -> Response {
    let message = format!(
        "no webhook at {}: use /mutate or /validate (or the -ray-io-v1-raycluster and -ray-io-v1-rayservice aliases)\n",
        request.uri().path()
    );
    state.metrics.http_error(404);
    plain(StatusCode::NOT_FOUND, message)
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
