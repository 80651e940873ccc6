//! Reading a request body under the in-flight budget
//! ([`Budget`](crate::server::budget::Budget)).

use super::refusal::Refusal;
use crate::admission::MAX_BODY_BYTES;
use crate::server::budget::{Budget, ConnectionShare, NoRoom, Reservation};
use crate::server::slots::Tracked;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Version, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// How long a request waits for room in the in-flight budget before it is
/// refused with 429 (a second try from the apiserver is its next request).
pub(super) const BUDGET_WAIT: Duration = Duration::from_secs(1);

/// How much of an oversized body is read and thrown away so that an HTTP/1.1
/// client still sending it receives the 413 instead of a reset connection.
const MAX_DISCARDED_BYTES: usize = 4 * MAX_BODY_BYTES;

/// Reads the body up to [`MAX_BODY_BYTES`], holding budget for every byte
/// of its buffer before allocating it, as the bytes arrive: the declared
/// length only caps the buffer's growth and reserves nothing. A body that
/// arrives in one frame (a review of a few KiB, usually) is kept as
/// received, not copied.
pub(super) async fn read_body(
    request: Request,
    deadline: tokio::time::Instant,
) -> Result<(Bytes, Reservation), Refusal> {
    let declared = declared_length(&request)?;
    let share = request
        .extensions()
        .get::<ConnectionShare>()
        .cloned()
        // Only a router served outside `serve_tls` has no share: one body's worth.
        .unwrap_or_else(|| Budget::new(MAX_BODY_BYTES, MAX_BODY_BYTES).connection());
    let tracked = request.extensions().get::<Arc<Tracked>>().cloned();
    // Nothing reserved for the declared length: only for bytes that arrive.
    let mut reservation = share.reservation();
    let mut collected = Collected::new(declared);
    let mut body = request.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| Refusal::Unreadable(error.to_string()))?;
        if let Some(tracked) = &tracked {
            // Not stalled: not the first to be evicted at the cap.
            tracked.progressed();
        }
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let needed = collected.len() + data.len();
        if needed > MAX_BODY_BYTES {
            drop(reservation);
            discard(body, needed).await;
            return Err(Refusal::TooLarge);
        }
        collected
            .push(data, needed, &mut reservation, deadline)
            .await?;
    }
    Ok((collected.into_bytes(), reservation))
}

/// The declared `Content-Length`, capped at [`MAX_BODY_BYTES`] (0 when
/// absent); [`Refusal::TooLarge`] before a byte is read when an HTTP/1.x
/// client declares more and waits for `100 Continue`.
fn declared_length(request: &Request) -> Result<usize, Refusal> {
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
    Ok(declared.map_or(0, |length| length.min(MAX_BODY_BYTES as u64) as usize))
}

/// The body's bytes so far: the first frame as received; once a second
/// arrives, all of them joined in `buffer`.
struct Collected {
    first: Option<Bytes>,
    buffer: Vec<u8>,
    /// The declared length (0 when none): the buffer grows to it, not past.
    declared: usize,
}

impl Collected {
    fn new(declared: usize) -> Self {
        Self {
            first: None,
            buffer: Vec::new(),
            declared,
        }
    }

    fn len(&self) -> usize {
        self.first.as_ref().map_or(self.buffer.len(), Bytes::len)
    }

    /// Adds `data` (`needed` bytes in all, at most [`MAX_BODY_BYTES`]),
    /// reserving budget for what the buffer will hold before it grows.
    async fn push(
        &mut self,
        data: Bytes,
        needed: usize,
        reservation: &mut Reservation,
        deadline: tokio::time::Instant,
    ) -> Result<(), Refusal> {
        let held = self.len();
        if held == 0 {
            // Already allocated by hyper (within its bounded read buffer):
            // held against the budget as it is, without a copy.
            reserve(reservation, needed, deadline).await?;
            self.first = Some(data);
            return Ok(());
        }
        if needed > self.buffer.capacity() {
            // Double as a Vec would, but never past the declared length
            // (while it holds) and never without budget for it; while the
            // first frame is copied over, both are held.
            let limit = if self.declared >= needed {
                self.declared
            } else {
                MAX_BODY_BYTES
            };
            let capacity = needed.max(held.max(self.buffer.capacity()) * 2).min(limit);
            let joining = self.first.as_ref().map_or(0, Bytes::len);
            reserve(reservation, capacity + joining, deadline).await?;
            self.buffer.reserve_exact(capacity - self.buffer.len());
        }
        if let Some(first) = self.first.take() {
            self.buffer.extend_from_slice(&first);
        }
        self.buffer.extend_from_slice(&data);
        Ok(())
    }

    fn into_bytes(self) -> Bytes {
        match self.first {
            Some(first) => first,
            None => Bytes::from(self.buffer),
        }
    }
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
            NoRoom::Now { limit, share } => Refusal::NoRoom(limit, share),
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
