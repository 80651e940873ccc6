//! The memory budget for request bodies in flight (`--max-inflight-bytes`).
//!
//! Every admission request reserves the bytes of its body buffer before it
//! allocates them, as they arrive: a declared `Content-Length` only caps
//! the request and reserves nothing (a client that declares a body and
//! sends none holds no budget). A reservation draws on three pools: the
//! whole server's budget, the share of its source address
//! (`--max-peer-inflight-bytes`), and the share of its connection (a quarter
//! of the budget, at least one largest body), so that one client cannot
//! hold the whole budget with many streams or connections. A request that
//! finds no room waits briefly and is then refused (429); a slow body loses
//! its room at its request deadline, when its reservation is dropped.
//!
//! The pools are plain atomic counters with a wake-up on release, not FIFO
//! semaphores: a small review must not queue behind a large one that is
//! waiting for room.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tokio::sync::Notify;
use tokio::time::Instant;

/// A bound number of bytes that reservations draw on.
#[derive(Debug)]
struct Pool {
    limit: usize,
    used: AtomicUsize,
    /// Requests waiting in [`Pool::take`]: a release wakes them only when
    /// there are any (waking takes a lock; most releases have no waiter).
    waiting: AtomicUsize,
    released: Notify,
}

impl Pool {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            released: Notify::new(),
        })
    }

    // Sequentially consistent throughout: a release that finds no waiter
    // comes before the waiter's registration, so the waiter's next
    // `try_take` sees the bytes given back.

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::SeqCst);
            if self.waiting.load(Ordering::SeqCst) > 0 {
                self.released.notify_waiters();
            }
        }
    }

    /// Takes `bytes`, waiting for releases until `deadline`.
    async fn take(&self, bytes: usize, deadline: Instant) -> bool {
        let _waiting = Waiting::register(&self.waiting);
        loop {
            // Woken by any release after this point, polled or not.
            let released = self.released.notified();
            if self.try_take(bytes) {
                return true;
            }
            if tokio::time::timeout_at(deadline, released).await.is_err() {
                return false;
            }
        }
    }
}

/// One request counted in [`Pool::waiting`] while it lives (also when its
/// wait is cancelled with its request).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn register(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The whole server's budget; cheap to clone.
#[derive(Clone, Debug)]
pub struct Budget {
    total: Arc<Pool>,
    per_connection: usize,
    /// The most one source address may hold (`total` when not limited).
    per_peer: usize,
    /// The pool of each source address with a connection open.
    peers: Arc<Mutex<HashMap<IpAddr, Weak<Pool>>>>,
}

/// Past this many source addresses remembered, the ones with no open
/// connection are forgotten (on the next connection's open).
const PEERS_KEPT: usize = 64;

impl Budget {
    /// A budget of `total` bytes, of which one connection may hold a quarter,
    /// or `largest_body` when that is more (up to all of it).
    pub fn new(total: usize, largest_body: usize) -> Self {
        Self {
            total: Pool::new(total),
            per_connection: (total / 4).max(largest_body).min(total),
            per_peer: total,
            peers: Arc::default(),
        }
    }

    /// The same budget, of which one source address may hold `per_peer`
    /// (at least one connection's share).
    pub fn with_peer_limit(self, per_peer: usize) -> Self {
        Self {
            per_peer: per_peer.max(self.per_connection).min(self.total.limit),
            ..self
        }
    }

    /// The share of a new connection, not counted against any address.
    pub fn connection(&self) -> ConnectionShare {
        ConnectionShare {
            connection: Pool::new(self.per_connection),
            peer: None,
            total: self.total.clone(),
        }
    }

    /// The share of a new connection from `peer`: its pool is shared with
    /// the address's other connections.
    pub fn connection_from(&self, peer: IpAddr) -> ConnectionShare {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let pool = match peers.get(&peer).and_then(Weak::upgrade) {
            Some(pool) => pool,
            None => {
                if peers.len() >= PEERS_KEPT {
                    peers.retain(|_, pool| pool.strong_count() > 0);
                }
                let pool = Pool::new(self.per_peer);
                peers.insert(peer, Arc::downgrade(&pool));
                pool
            }
        };
        ConnectionShare {
            connection: Pool::new(self.per_connection),
            peer: Some(pool),
            total: self.total.clone(),
        }
    }

    /// Bytes reserved now, across all connections.
    pub fn used(&self) -> usize {
        self.total.used.load(Ordering::SeqCst)
    }
}

/// One connection's share of the [`Budget`]; every request on the
/// connection reserves from it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ConnectionShare {
    connection: Arc<Pool>,
    /// The connection's source address's share, when limited.
    peer: Option<Arc<Pool>>,
    total: Arc<Pool>,
}

/// Which pool had no room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    Connection,
    Peer,
    Total,
}

impl Share {
    pub fn as_str(self) -> &'static str {
        match self {
            Share::Connection => "connection",
            Share::Peer => "peer",
            Share::Total => "total",
        }
    }
}

/// Why a reservation was not granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRoom {
    /// More than a connection may ever hold: waiting cannot help.
    Never { limit: usize },
    /// No room before the deadline: the budget is in use by other requests.
    Now { limit: usize, share: Share },
}

impl ConnectionShare {
    /// The most one request on this connection can ever reserve.
    pub fn limit(&self) -> usize {
        self.connection.limit
    }

    /// An empty reservation to grow.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            share: self.clone(),
            bytes: 0,
        }
    }
}

/// Bytes held for one request; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    share: ConnectionShare,
    bytes: usize,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds `bytes` in all, waiting for room until `deadline`.
    pub async fn grow_to(&mut self, bytes: usize, deadline: Instant) -> Result<(), NoRoom> {
        let Some(more) = bytes.checked_sub(self.bytes).filter(|&more| more > 0) else {
            return Ok(());
        };
        let connection = &self.share.connection;
        if bytes > connection.limit {
            return Err(NoRoom::Never {
                limit: connection.limit,
            });
        }
        let pools = [
            (Some(connection), Share::Connection),
            (self.share.peer.as_ref(), Share::Peer),
            (Some(&self.share.total), Share::Total),
        ];
        for (taken, (pool, share)) in pools.iter().enumerate() {
            let Some(pool) = pool else { continue };
            // Fast path first: no timer, no waiting.
            if pool.try_take(more) || pool.take(more, deadline).await {
                continue;
            }
            for (pool, _) in pools.iter().take(taken) {
                if let Some(pool) = pool {
                    pool.give_back(more);
                }
            }
            return Err(NoRoom::Now {
                limit: pool.limit,
                share: *share,
            });
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.share.connection.give_back(self.bytes);
        if let Some(peer) = &self.share.peer {
            peer.give_back(self.bytes);
        }
        self.share.total.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(50)
    }

    #[tokio::test]
    async fn reservations_are_bounded_by_the_connection_share_and_the_total_and_given_back() {
        let budget = Budget::new(1000, 100);
        assert_eq!(budget.connection().limit(), 250);
        let first = budget.connection();
        let mut a = first.reservation();
        a.grow_to(200, soon()).await.unwrap();
        let mut b = first.reservation();
        assert_eq!(
            b.grow_to(100, soon()).await,
            Err(NoRoom::Now {
                limit: 250,
                share: Share::Connection
            }),
            "the connection's share is used up"
        );
        assert_eq!(
            b.grow_to(300, soon()).await,
            Err(NoRoom::Never { limit: 250 })
        );
        let mut others: Vec<Reservation> = Vec::new();
        for _ in 0..3 {
            let mut r = budget.connection().reservation();
            r.grow_to(250, soon()).await.unwrap();
            others.push(r);
        }
        assert_eq!(budget.used(), 950);
        let mut small = budget.connection().reservation();
        assert_eq!(
            small.grow_to(100, soon()).await,
            Err(NoRoom::Now {
                limit: 1000,
                share: Share::Total
            })
        );
        assert_eq!(budget.used(), 950, "a refused request holds nothing");
        small.grow_to(50, soon()).await.unwrap();
        drop(others);
        drop(a);
        assert_eq!(budget.used(), 50);
        drop(small);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_waiting_request_gets_room_when_another_gives_it_back() {
        let budget = Budget::new(100, 100);
        let mut held = budget.connection().reservation();
        held.grow_to(100, soon()).await.unwrap();
        let waiter = tokio::spawn({
            let share = budget.connection();
            async move {
                let mut r = share.reservation();
                r.grow_to(60, Instant::now() + Duration::from_secs(30))
                    .await
                    .map(|()| r.bytes())
            }
        });
        tokio::task::yield_now().await;
        drop(held);
        assert_eq!(waiter.await.unwrap(), Ok(60));
    }

    #[tokio::test]
    async fn one_address_holds_at_most_its_share_across_its_connections() {
        let budget = Budget::new(1000, 100).with_peer_limit(400);
        let attacker: IpAddr = [10, 0, 0, 1].into();
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut r = budget.connection_from(attacker).reservation();
            r.grow_to(200, soon()).await.unwrap();
            held.push(r);
        }
        let mut third = budget.connection_from(attacker).reservation();
        assert_eq!(
            third.grow_to(10, soon()).await,
            Err(NoRoom::Now {
                limit: 400,
                share: Share::Peer
            })
        );
        let mut other = budget.connection_from([10, 0, 0, 2].into()).reservation();
        other.grow_to(250, soon()).await.unwrap();
        assert_eq!(budget.used(), 650);
        drop(held);
        third.grow_to(10, soon()).await.unwrap();
    }
}
