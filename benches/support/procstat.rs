//! CPU time and memory of a server process, read from `/proc` the same way
//! for the webhook and the floor server.

use std::time::Duration;

/// Linux reports `utime`/`stime` in clock ticks of `USER_HZ`, which is 100 on
/// every architecture Rust's std supports (it is part of the kernel ABI).
const USER_HZ: f64 = 100.0;

/// User + system CPU time of all threads of `pid` so far.
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) may hold spaces: fields are counted after its ')'.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or(format!("{path}: no ')'"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|field| field.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or(format!("{path}: field {} unreadable", i + 3))
    };
    Ok(Duration::from_secs_f64((ticks(11)? + ticks(12)?) / USER_HZ))
}

/// Whether `pid` still runs (an exited child stays a zombie until reaped).
pub fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    matches!(state, Some(s) if s != "Z" && s != "X")
}

/// A `Vm*` line of `/proc/<pid>/status`, in bytes.
fn status_bytes(pid: u32, key: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or(format!("{path}: no {key}"))
}

/// Resident set size now.
pub fn rss(pid: u32) -> Result<u64, String> {
    status_bytes(pid, "VmRSS")
}

/// Peak resident set size since start or since [`reset_peak_rss`].
pub fn peak_rss(pid: u32) -> Result<u64, String> {
    status_bytes(pid, "VmHWM")
}

/// Resets the peak RSS to the current RSS (Linux 4.0+, `clear_refs` value 5),
/// so each run reports its own peak. Returns false where that is refused.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), b"5").is_ok()
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
