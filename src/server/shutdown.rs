//! Termination signals: the first starts a graceful shutdown, a second one
//! ends the process at once.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM (the kubelet) and SIGINT (Ctrl-C).
pub struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Starts listening; signals that arrive from now on are not lost.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next signal and returns its name.
    pub async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
