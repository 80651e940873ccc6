//! The connection slots of one listener (`--max-connections`,
//! `--max-peer-connections`), and what each open connection is doing.
//!
//! The accept loop never stops accepting: a slot is found for every new
//! connection by evicting the connection doing the least, in this order:
//! one still in its TLS handshake, then the one idle the longest (no request
//! in progress), then the one whose request body has made no progress for
//! the longest (at least [`NO_PROGRESS`]); within each, the source address
//! holding the most connections first. A newcomer makes room only among
//! its own address's connections or those of an address holding more than
//! its own: max-min fairness between addresses. A connection whose request is
//! being decided, or whose body is arriving, is never evicted; when every
//! open connection is such, the new one is closed instead. A source address
//! over its share evicts its own connections, never another's.
//!
//! The table is locked when a connection opens, when it closes, and on a
//! scrape; a request only touches its connection's atomics.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A request whose body has had no new bytes for this long may be evicted
/// at the cap (the apiserver sends a body at once).
pub const NO_PROGRESS: Duration = Duration::from_millis(500);

/// What an open connection is doing, as the gauges and eviction see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// TLS handshake not finished.
    Handshaking,
    /// No request in progress (between requests, or headers not complete).
    Idle,
    /// A request's body is being read.
    Reading,
    /// A request is being decided (or its answer written).
    Deciding,
}

impl State {
    pub const ALL: [State; 4] = [
        State::Handshaking,
        State::Idle,
        State::Reading,
        State::Deciding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Handshaking => "handshaking",
            State::Idle => "idle",
            State::Reading => "reading",
            State::Deciding => "deciding",
        }
    }
}

/// Why a connection was closed to make room, or a new one turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Eviction {
    Handshaking,
    Idle,
    NoProgress,
    /// A request still reading, of an address holding more slots than the
    /// newcomer's, when nothing above may go: a flood that keeps every one
    /// of its connections fresh still yields to a lone client.
    OverShare,
    /// The new connection itself: no open one could be evicted.
    Refused,
}

impl Eviction {
    pub fn as_str(self) -> &'static str {
        match self {
            Eviction::Handshaking => "handshaking",
            Eviction::Idle => "idle",
            Eviction::NoProgress => "no_progress",
            Eviction::OverShare => "over_share",
            Eviction::Refused => "refused",
        }
    }
}

/// One open connection: its peer, age and requests, read without a lock.
#[derive(Debug)]
pub struct Tracked {
    peer: IpAddr,
    opened: Instant,
    handshaking: AtomicBool,
    in_progress: AtomicUsize,
    deciding: AtomicUsize,
    /// Milliseconds from `opened` to the end of the last request.
    idle_since: AtomicU64,
    /// Milliseconds from `opened` to the last body bytes received.
    progress: AtomicU64,
    /// Requests begun on the connection.
    requests: AtomicU64,
    /// A request body on it missed its deadline: no fresh start any more.
    body_timed_out: AtomicBool,
    evicted: Notify,
}

impl Tracked {
    fn new(peer: IpAddr, handshaking: bool) -> Self {
        Self {
            peer,
            opened: Instant::now(),
            handshaking: AtomicBool::new(handshaking),
            in_progress: AtomicUsize::new(0),
            deciding: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            progress: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            body_timed_out: AtomicBool::new(false),
            evicted: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn opened(&self) -> Instant {
        self.opened
    }

    /// The TLS handshake is done.
    pub fn handshake_done(&self) {
        self.handshaking.store(false, Ordering::Release);
    }

    /// Returns once the connection was chosen for eviction.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }

    /// A request begins; it is in progress until the guard is dropped. The
    /// first one after an idle spell starts the no-progress clock; more
    /// streams opened beside it do not reset it (only body bytes do), and
    /// neither does any request on a connection that has let a body time
    /// out (a client reopening silent streams after each 408 stays
    /// evictable).
    pub fn begin(self: &Arc<Self>) -> Active {
        if self.in_progress.load(Ordering::Acquire) == 0
            && !self.body_timed_out.load(Ordering::Acquire)
        {
            self.progressed();
        }
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        Active(self.clone())
    }

    /// A request body on this connection missed its deadline.
    pub fn body_timed_out(&self) {
        self.body_timed_out.store(true, Ordering::Release);
    }

    /// Body bytes arrived.
    pub fn progressed(&self) {
        self.progress.store(self.now_ms(), Ordering::Release);
    }

    /// The request's body is read: it is being decided until the guard drops.
    pub fn deciding(self: &Arc<Self>) -> Deciding {
        self.deciding.fetch_add(1, Ordering::AcqRel);
        Deciding(self.clone())
    }

    pub fn state(&self) -> State {
        if self.handshaking.load(Ordering::Acquire) {
            State::Handshaking
        } else if self.deciding.load(Ordering::Acquire) > 0 {
            State::Deciding
        } else if self.in_progress.load(Ordering::Acquire) > 0 {
            State::Reading
        } else {
            State::Idle
        }
    }

    /// Returns once no request has been in progress for `idle` (for a
    /// connection that never had one: `first` since it opened).
    pub async fn idle_for(&self, first: Duration, idle: Duration) {
        loop {
            let timeout = if self.requests.load(Ordering::Relaxed) == 0 {
                first
            } else {
                idle
            };
            let wake = if self.in_progress.load(Ordering::Acquire) == 0 {
                let since =
                    self.opened + Duration::from_millis(self.idle_since.load(Ordering::Acquire));
                let until = since + timeout;
                if Instant::now() >= until && self.in_progress.load(Ordering::Acquire) == 0 {
                    return;
                }
                until
            } else {
                Instant::now() + timeout
            };
            tokio::time::sleep_until(wake.into()).await;
        }
    }

    /// Which eviction this connection would be, and its rank within it
    /// (smaller goes first); `None` when it must not be evicted.
    fn eviction(&self, now_ms: u64) -> Option<(Eviction, u64)> {
        match self.state() {
            State::Handshaking => Some((Eviction::Handshaking, 0)),
            State::Idle => Some((Eviction::Idle, self.idle_since.load(Ordering::Acquire))),
            State::Reading => {
                let progress = self.progress.load(Ordering::Acquire);
                let stalled = now_ms.saturating_sub(progress) >= NO_PROGRESS.as_millis() as u64;
                stalled.then_some((Eviction::NoProgress, progress))
            }
            State::Deciding => None,
        }
    }
}

/// One request in progress; its end is the connection's latest activity.
pub struct Active(Arc<Tracked>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now_ms(), Ordering::Release);
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One request being decided.
pub struct Deciding(Arc<Tracked>);

impl Drop for Deciding {
    fn drop(&mut self) {
        self.0.deciding.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The limits of one listener's slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once.
    pub connections: usize,
    /// Connections one source address may hold at once.
    pub per_peer: usize,
}

#[derive(Debug, Default)]
struct Table {
    open: Vec<Arc<Tracked>>,
    per_peer: HashMap<IpAddr, usize>,
}

/// The open connections of one listener.
#[derive(Debug)]
pub struct Slots {
    limits: Limits,
    table: Mutex<Table>,
}

/// What [`Slots::admit`] did to find room.
#[derive(Debug)]
pub struct Admission {
    /// The new connection's slot; `None` when it was turned away.
    pub slot: Option<Slot>,
    /// The connection closed to make room, or [`Eviction::Refused`].
    pub eviction: Option<Eviction>,
}

impl Slots {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits: Limits {
                connections: limits.connections.max(1),
                per_peer: limits.per_peer.clamp(1, limits.connections.max(1)),
            },
            table: Mutex::new(Table::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection from `peer`, evicting another when the
    /// listener or the peer is at its limit (see the module doc).
    pub fn admit(self: &Arc<Self>, peer: IpAddr, handshaking: bool) -> Admission {
        let mut table = self.lock();
        let peer_count = table.per_peer.get(&peer).copied().unwrap_or(0);
        let mut eviction = None;
        let full_peer = peer_count >= self.limits.per_peer;
        if full_peer || table.open.len() >= self.limits.connections {
            match evict(&mut table, peer, full_peer) {
                Some(reason) => eviction = Some(reason),
                None => {
                    return Admission {
                        slot: None,
                        eviction: Some(Eviction::Refused),
                    };
                }
            }
        }
        let tracked = Arc::new(Tracked::new(peer, handshaking));
        table.open.push(tracked.clone());
        *table.per_peer.entry(peer).or_insert(0) += 1;
        Admission {
            slot: Some(Slot {
                slots: self.clone(),
                tracked,
            }),
            eviction,
        }
    }

    /// Open connections by state.
    pub fn states(&self) -> [(State, usize); 4] {
        let table = self.lock();
        State::ALL.map(|state| {
            let count = table.open.iter().filter(|c| c.state() == state).count();
            (state, count)
        })
    }

    fn release(&self, tracked: &Arc<Tracked>) {
        let mut table = self.lock();
        let before = table.open.len();
        table.open.retain(|open| !Arc::ptr_eq(open, tracked));
        if table.open.len() < before {
            forget_peer(&mut table, tracked.peer);
        }
    }
}

/// Removes the connection doing the least from `table` to make room for
/// one from `newcomer`, tells it to close, and says why; `None` when none
/// may go. The victim is one of the newcomer's own connections (only those
/// when it is at its share), or one of a peer holding more connections than
/// the newcomer's: a flood's churn never evicts a lone client.
fn evict(table: &mut Table, newcomer: IpAddr, own_only: bool) -> Option<Eviction> {
    let now = Instant::now();
    let holds = |peer: &IpAddr| table.per_peer.get(peer).copied().unwrap_or(0);
    let newcomer_holds = holds(&newcomer);
    let (index, reason) = table
        .open
        .iter()
        .enumerate()
        .filter(|(_, c)| c.peer == newcomer || (!own_only && holds(&c.peer) > newcomer_holds))
        .filter_map(|(index, c)| {
            let now_ms = u64::try_from(now.duration_since(c.opened).as_millis()).unwrap_or(0);
            let (reason, rank) = c.eviction(now_ms)?;
            // Within a reason, the peer holding the most slots goes first (a
            // flood's churn does not evict a lone client's handshake), then
            // the oldest. Ranks are offsets from each connection's own
            // opening: compared as instants.
            let held = holds(&c.peer);
            let at = c.opened + Duration::from_millis(rank);
            Some(((reason_order(reason), Reverse(held), at), index, reason))
        })
        .min_by_key(|(key, _, _)| *key)
        .map(|(_, index, reason)| (index, reason))
        .or_else(|| over_share(table, newcomer_holds, own_only))?;
    let victim = table.open.swap_remove(index);
    forget_peer(table, victim.peer);
    victim.evicted.notify_one();
    Some(reason)
}

/// The reading connection of the address holding the most slots (more
/// than one above the newcomer's count), the longest without progress;
/// never one being decided. `None` for a newcomer at its own share.
fn over_share(table: &Table, newcomer_holds: usize, own_only: bool) -> Option<(usize, Eviction)> {
    if own_only {
        return None;
    }
    let holds = |peer: &IpAddr| table.per_peer.get(peer).copied().unwrap_or(0);
    table
        .open
        .iter()
        .enumerate()
        .filter(|(_, c)| holds(&c.peer) > newcomer_holds + 1 && c.state() == State::Reading)
        .min_by_key(|(_, c)| {
            // Progress is an offset from each connection's opening.
            let progress = c.opened + Duration::from_millis(c.progress.load(Ordering::Acquire));
            (Reverse(holds(&c.peer)), progress)
        })
        .map(|(index, _)| (index, Eviction::OverShare))
}

fn reason_order(reason: Eviction) -> u8 {
    match reason {
        Eviction::Handshaking => 0,
        Eviction::Idle => 1,
        Eviction::NoProgress => 2,
        Eviction::OverShare => 3,
        Eviction::Refused => 4,
    }
}

fn forget_peer(table: &mut Table, peer: IpAddr) {
    if let Some(count) = table.per_peer.get_mut(&peer) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            table.per_peer.remove(&peer);
        }
    }
}

/// An open connection's place in [`Slots`]; released when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    tracked: Arc<Tracked>,
}

impl Slot {
    pub fn tracked(&self) -> &Arc<Tracked> {
        &self.tracked
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release(&self.tracked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn at_the_cap_handshaking_goes_first_then_the_longest_idle_never_a_deciding_one() {
        let slots = Slots::new(Limits {
            connections: 3,
            per_peer: 3,
        });
        let idle = slots.admit(A, false).slot.unwrap();
        let deciding = slots.admit(A, false).slot.unwrap();
        let _request = deciding.tracked().begin();
        let _decision = deciding.tracked().deciding();
        let handshaking = slots.admit(B, true).slot.unwrap();
        let next = slots.admit(B, false);
        assert_eq!(next.eviction, Some(Eviction::Handshaking));
        assert_eq!(handshaking.tracked().state(), State::Handshaking);
        let next2 = slots.admit(B, false);
        // The two idle ones: `idle` has been idle the longest.
        assert_eq!(next2.eviction, Some(Eviction::Idle));
        drop(idle);
        let states = slots.states();
        assert_eq!(states[3], (State::Deciding, 1));
        assert_eq!(states[1], (State::Idle, 2));
        drop((next, next2));
        let _third = slots.admit(A, false).slot.unwrap();
        let _fourth = slots.admit(A, false).slot.unwrap();
        let _request2 = _third.tracked().begin();
        let _decision2 = _third.tracked().deciding();
        let _request3 = _fourth.tracked().begin();
        let _decision3 = _fourth.tracked().deciding();
        let refused = slots.admit(B, false);
        assert!(refused.slot.is_none());
        assert_eq!(refused.eviction, Some(Eviction::Refused));
    }

    #[test]
    fn a_peer_at_its_share_evicts_its_own_connections_not_anothers() {
        let slots = Slots::new(Limits {
            connections: 4,
            per_peer: 2,
        });
        let other = slots.admit(B, false).slot.unwrap();
        let mine: Vec<Admission> = (0..5).map(|_| slots.admit(A, false)).collect();
        assert_eq!(mine[2].eviction, Some(Eviction::Idle));
        assert_eq!(other.tracked().state(), State::Idle);
        assert_eq!(slots.lock().per_peer.get(&A), Some(&2));
        assert_eq!(slots.lock().per_peer.get(&B), Some(&1));
        let again = slots.admit(B, false);
        assert_eq!(again.eviction, None);
    }
}
