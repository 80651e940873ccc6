//! Log output: human text or one JSON object per line, filtered by
//! `--log-level` or `RUST_LOG`.
//!
//! Lines go through one shared buffer that is written out every
//! [`FLUSH_INTERVAL`] (and when full, and at exit): the info line of every
//! admission request then costs a copy, not a `write(2)` on the request path.

use std::io::{BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Longest time a log line waits in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(BufferedStdout::shared());
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

/// Writes out buffered log lines now; call before the process exits.
pub fn flush() {
    if let Some(stdout) = SHARED.get() {
        let _ = stdout.lock().flush();
    }
}

static SHARED: OnceLock<BufferedStdout> = OnceLock::new();

/// Standard output behind a shared buffer, flushed by a background thread.
#[derive(Clone, Debug)]
struct BufferedStdout(Arc<Mutex<BufWriter<Stdout>>>);

impl BufferedStdout {
    /// The process-wide buffer; the first call starts the flushing thread.
    fn shared() -> Self {
        SHARED
            .get_or_init(|| {
                let stdout = Self(Arc::new(Mutex::new(BufWriter::with_capacity(
                    64 * 1024,
                    std::io::stdout(),
                ))));
                let flusher = stdout.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name("log-flush".into())
                        .spawn(move || {
                            loop {
                                std::thread::sleep(FLUSH_INTERVAL);
                                let _ = flusher.lock().flush();
                            }
                        });
                if let Err(error) = spawned {
                    eprintln!(
                        "warning: no log flushing thread ({error}); logs are written at exit"
                    );
                }
                stdout
            })
            .clone()
    }

    /// A poisoned lock only means a panic while writing a log line: go on.
    fn lock(&self) -> MutexGuard<'_, BufWriter<Stdout>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<'a> MakeWriter<'a> for BufferedStdout {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine(self.lock())
    }
}

/// One formatted event being copied into the buffer.
struct LogLine<'a>(MutexGuard<'a, BufWriter<Stdout>>);

impl Write for LogLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes)
    }

    /// Flushing is the background thread's job (and [`flush`]'s at exit).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
