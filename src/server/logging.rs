//! Log output: human text or one JSON object per line, filtered by
//! `--log-level` or `RUST_LOG`.
//!
//! Lines leave the request path at once: each formatted line goes into a
//! bounded queue ([`LOG_QUEUE_LINES`]) that a thread of its own writes to
//! standard output. When the queue is full (stdout read slowly, or not at
//! all) the line is dropped, never waited for; drops are counted
//! ([`dropped_lines`], the `log_lines_dropped_total` metric) and reported by
//! a warning written before the next line that gets through.

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines waiting for the writer thread at most (at a few hundred bytes
/// each, well under a MiB); past it lines are dropped and counted.
pub const LOG_QUEUE_LINES: usize = 1024;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, message, fields), for clusters.
    Json,
}

/// Installs the global subscriber. `level` (a `RUST_LOG`-style directive such
/// as `info` or `kueue_ray_webhook=debug`) wins over `RUST_LOG`; `info` when
/// neither is set.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let filter = match level {
        Some(level) => {
            EnvFilter::try_new(level).map_err(|error| format!("--log-level {level:?}: {error}"))?
        }
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let (queue, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("log-writer")
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    let _ = DROPPED.set(queue.error_counter());
    *GUARD.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
    let writer = Queued {
        queue,
        format,
        reported: AtomicUsize::new(0),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    installed.map_err(|error| format!("cannot install the logger: {error}"))
}

/// Writes out queued log lines now (waiting up to about a second); call
/// before the process exits. Lines logged afterwards are lost.
pub fn flush() {
    let guard = GUARD.lock().unwrap_or_else(PoisonError::into_inner).take();
    drop(guard);
}

/// Log lines dropped because the queue was full, since the start.
pub fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();
static GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// The queue, and the drops already reported in a line.
struct Queued {
    queue: NonBlocking,
    format: LogFormat,
    reported: AtomicUsize,
}

impl<'a> MakeWriter<'a> for Queued {
    type Writer = NonBlocking;

    /// The queue; first, when lines were dropped since the last report, a
    /// warning that says how many (itself dropped if the queue is still full).
    fn make_writer(&'a self) -> Self::Writer {
        let mut writer = self.queue.clone();
        let dropped = self.queue.error_counter().dropped_lines();
        let reported = self.reported.load(Ordering::Relaxed);
        if dropped > reported
            && self
                .reported
                .compare_exchange(reported, dropped, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let line = dropped_line(self.format, dropped - reported);
            let _ = writer.write_all(line.as_bytes());
        }
        writer
    }
}

/// The warning that `dropped` lines were dropped, in the log's format.
fn dropped_line(format: LogFormat, dropped: usize) -> String {
    let timestamp = humantime::format_rfc3339_micros(std::time::SystemTime::now());
    let message = "log lines dropped: the log queue was full (stdout is read too slowly)";
    match format {
        LogFormat::Text => format!("{timestamp}  WARN {message} dropped_lines={dropped}\n"),
        LogFormat::Json => format!(
            "{{\"timestamp\":\"{timestamp}\",\"level\":\"WARN\",\"message\":\"{message}\",\"dropped_lines\":{dropped},\"target\":\"{}\"}}\n",
            module_path!()
        ),
    }
}

/// A rate limit for one kind of log line: at most `limit` per second of the
/// process's life. Lock-free: one clock read and two atomics per call.
#[derive(Debug)]
pub struct PerSecond {
    limit: u32,
    /// The current second (high 32 bits) and lines admitted in it (low 32).
    window: AtomicU64,
    /// Lines refused since the last admitted one.
    refused: AtomicU64,
}

impl PerSecond {
    pub const fn new(limit: u32) -> Self {
        Self {
            limit,
            window: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// `Some(lines refused since the last admitted one)` when this line may
    /// be written; `None` (and counted) when the second's lines are used up.
    pub fn admit(&self) -> Option<u64> {
        static START: OnceLock<Instant> = OnceLock::new();
        let second = START.get_or_init(Instant::now).elapsed().as_secs() & 0xFFFF_FFFF;
        let admitted = self
            .window
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |window| {
                let (current, count) = (window >> 32, window & 0xFFFF_FFFF);
                if current != second {
                    Some(second << 32 | 1)
                } else if count < u64::from(self.limit) {
                    Some(window + 1)
                } else {
                    None
                }
            })
            .is_ok();
        if admitted {
            Some(self.refused.swap(0, Ordering::AcqRel))
        } else {
            self.refused.fetch_add(1, Ordering::AcqRel);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_second_admits_the_limit_then_counts_the_rest() {
        let lines = PerSecond::new(3);
        let admitted: Vec<Option<u64>> = (0..6).map(|_| lines.admit()).collect();
        // All within one second on any machine that runs the tests at all;
        // a second boundary in between only admits more.
        assert!(admitted.iter().filter(|a| a.is_some()).count() >= 3);
        assert_eq!(admitted[..3], [Some(0), Some(0), Some(0)]);
    }
}
