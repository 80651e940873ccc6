//! Answers that are not the policy's: a request refused before or while it
//! is read, a request for no webhook, a panicking handler.

use super::AdmissionState;
use crate::admission::Webhook;
use crate::server::budget::Share;
use crate::server::logging::PerSecond;
use crate::server::metrics::Metrics;
use crate::server::plain::{close_connection, plain};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::Response;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// How much of the body of a request answered 404 or 405 is read and thrown
/// away to keep its HTTP/1.1 connection usable.
const MAX_UNWANTED_BYTES: usize = 64 * 1024;

/// How long the body of a request answered 404 or 405 may take to arrive
/// before the connection is closed instead.
const UNWANTED_WAIT: Duration = super::body::BUDGET_WAIT;

/// Refusals logged per second; past it they are counted in the next line's
/// `unlogged` (and in the metrics, as every refusal): a flood of refused
/// requests must not become a flood of lines.
pub const REFUSAL_LINES_PER_SECOND: u32 = 20;

static REFUSAL_LINES: PerSecond = PerSecond::new(REFUSAL_LINES_PER_SECOND);

/// Why a request was not handed to the policy, or not answered by it.
pub(super) enum Refusal {
    TooLarge,
    /// Larger than one connection's share of the budget: never accepted.
    OverShare(usize),
    /// The in-flight budget (this share of it) has no room now.
    NoRoom(usize, Share),
    Unreadable(String),
    TimedOut(Duration),
    /// The body did not all arrive within `--body-read-timeout`.
    BodyTimedOut(Duration),
    /// The server is stopping (no decision slot will be free again).
    Busy,
}

impl Refusal {
    /// The answer's status and text.
    fn status_and_message(self) -> (StatusCode, String) {
        match self {
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
            Refusal::NoRoom(limit, share) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many request bytes in flight ({}: {limit} bytes); retry shortly\n",
                    match share {
                        Share::Connection => "one connection's share of --max-inflight-bytes",
                        Share::Peer => "--max-peer-inflight-bytes",
                        Share::Total => "--max-inflight-bytes",
                    }
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
            Refusal::BodyTimedOut(timeout) => (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "request body not received within the body read timeout ({})\n",
                    humantime::format_duration(timeout)
                ),
            ),
            Refusal::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down\n".to_owned(),
            ),
        }
    }

    /// The answer, counted and logged.
    pub(super) fn into_response(
        self,
        metrics: &Metrics,
        webhook: Webhook,
        http1: bool,
    ) -> Response {
        if let Refusal::NoRoom(_, share) = &self {
            metrics.throttled(share.as_str());
        }
        let (status, message) = self.status_and_message();
        metrics.http_error(status.as_u16());
        if let Some(unlogged) = REFUSAL_LINES.admit() {
            tracing::info!(
                webhook = webhook.as_str(),
                status = status.as_u16(),
                error = message.trim_end(),
                unlogged,
                "admission request refused"
            );
        }
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

pub(super) async fn method_not_allowed(
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

pub(super) async fn not_found(
    State(state): State<Arc<AdmissionState>>,
    request: Request,
) -> Response {
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
    let drained = tokio::time::timeout(UNWANTED_WAIT, async {
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

pub(super) fn answer_panic(
    metrics: &Metrics,
    panic: Box<dyn std::any::Any + Send + 'static>,
) -> Response {
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
