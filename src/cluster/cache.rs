//! The caches the watches fill: per object only what the rules read (names,
//! UIDs, a queue label, recorded cluster names), by namespace and name, so a
//! decision looks up with borrowed strings and no allocation.
//!
//! Reads take a read lock for one lookup; writers hold the write lock for
//! one insert or removal (or, after a relist, one swap of the whole table),
//! never across an await.

use crate::policy::{Claim, Controller, OwnerKind};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Objects by namespace, then name (cluster-scoped kinds use namespace "").
pub type Objects<V> = HashMap<String, HashMap<String, V>>;

/// What is kept of a RayJob or RayService: enough to tell whether it
/// created a RayCluster. About 150 bytes plus its name, namespace, UID
/// and cluster names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: String,
    /// The clusters it records as its own: a RayJob's
    /// `status.rayClusterName`; a RayService's active and pending names.
    pub clusters: Vec<String>,
}

/// What is kept of a RayCronJob: its UID and queue label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cron {
    pub uid: String,
    pub queue: Option<String>,
}

impl Owner {
    /// Whether this owner, found under `reference`'s name, created `cluster`;
    /// the reason in words when not.
    pub fn claims(&self, reference: &Controller, cluster: &str) -> Result<(), String> {
        if self.uid != reference.uid {
            return Err(format!(
                "has UID {:?}, not the reference's {:?} (a namesake, or a fake UID)",
                self.uid,
                crate::policy::echoed(&reference.uid)
            ));
        }
        if cluster.is_empty() || !self.clusters.iter().any(|c| c == cluster) {
            let recorded = match reference.kind {
                OwnerKind::RayService => "as its active or pending cluster",
                _ => "in status.rayClusterName",
            };
            return Err(format!("does not record this RayCluster {recorded}"));
        }
        Ok(())
    }
}

/// How one watch is doing, for `/readyz`, the metrics and the fallbacks.
#[derive(Debug, Default)]
pub struct Sync {
    /// A full list has been applied at least once.
    pub synced: AtomicBool,
    /// The last list or watch call failed (until one succeeds).
    pub failing: AtomicBool,
    /// When the cache last took an event or a list, in ms since the epoch.
    pub updated_ms: AtomicU64,
}

impl Sync {
    pub fn touch(&self) {
        self.failing.store(false, Ordering::Relaxed);
        self.updated_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Seconds since the cache was last known current (`None`: never synced).
    pub fn age_seconds(&self) -> Option<f64> {
        if !self.synced.load(Ordering::Relaxed) {
            return None;
        }
        let updated = self.updated_ms.load(Ordering::Relaxed);
        Some(now_ms().saturating_sub(updated) as f64 / 1000.0)
    }

    /// Synced and not failing: its answers are current.
    pub fn healthy(&self) -> bool {
        self.synced.load(Ordering::Relaxed) && !self.failing.load(Ordering::Relaxed)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One watched kind's objects and how its watch is doing.
#[derive(Debug)]
pub struct Table<V> {
    objects: RwLock<Objects<V>>,
    /// A relist being received (only the watch's task touches it).
    pending: Mutex<Option<Objects<V>>>,
    pub sync: Sync,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Self {
            objects: RwLock::new(HashMap::new()),
            pending: Mutex::new(None),
            sync: Sync::default(),
        }
    }
}

impl<V: Clone> Table<V> {
    /// What is cached under `namespace`/`name` (a poisoned lock reads as empty:
    /// the writer that panicked held it for one insert).
    pub fn get(&self, namespace: &str, name: &str) -> Option<V> {
        let objects = self.objects.read().ok()?;
        objects.get(namespace)?.get(name).cloned()
    }

    /// Whether anything is cached under `namespace`/`name`.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.objects.read().is_ok_and(|o| {
            o.get(namespace)
                .is_some_and(|names| names.contains_key(name))
        })
    }

    pub fn insert(&self, namespace: &str, name: &str, value: V) {
        if let Ok(mut objects) = self.objects.write() {
            let names = objects.entry(namespace.to_owned()).or_default();
            match names.get_mut(name) {
                Some(old) => *old = value,
                None => {
                    names.insert(name.to_owned(), value);
                }
            }
        }
        self.sync.touch();
    }

    pub fn remove(&self, namespace: &str, name: &str) {
        if let Ok(mut objects) = self.objects.write()
            && let Some(names) = objects.get_mut(namespace)
        {
            names.remove(name);
            if names.is_empty() {
                objects.remove(namespace);
            }
        }
        self.sync.touch();
    }

    /// Replaces everything with a fresh list: objects deleted while the
    /// watch was down disappear.
    pub fn replace(&self, fresh: Objects<V>) {
        if let Ok(mut objects) = self.objects.write() {
            *objects = fresh;
        }
        self.sync.synced.store(true, Ordering::Relaxed);
        self.sync.touch();
    }

    /// A relist starts: its objects are gathered apart.
    pub fn start_relist(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending = Some(Objects::new());
        }
    }

    /// One object of a relist (outside one: set at once).
    pub fn listed(&self, namespace: &str, name: &str, value: V) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        match pending.as_mut() {
            Some(objects) => add(objects, namespace, name, value),
            None => {
                drop(pending);
                self.insert(namespace, name, value);
            }
        }
    }

    /// The relist is complete: it replaces the cache.
    pub fn finish_relist(&self) {
        let fresh = self.pending.lock().ok().and_then(|mut p| p.take());
        self.replace(fresh.unwrap_or_default());
    }

    /// How many objects are cached.
    pub fn len(&self) -> usize {
        self.objects
            .read()
            .map_or(0, |o| o.values().map(HashMap::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Adds one object to a list being built (a relist).
pub fn add<V>(objects: &mut Objects<V>, namespace: &str, name: &str, value: V) {
    objects
        .entry(namespace.to_owned())
        .or_default()
        .insert(name.to_owned(), value);
}

/// The answer for a cached or freshly read owner (`None`: it does not exist).
pub fn claim_of(owner: Option<&Owner>, reference: &Controller, cluster: &str) -> Claim {
    match owner {
        None => Claim::Disowned("does not exist".to_owned()),
        Some(owner) => match owner.claims(reference, cluster) {
            Ok(()) => Claim::Claimed,
            Err(why) => Claim::Disowned(why),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(uid: &str) -> Controller {
        Controller {
            kind: OwnerKind::RayJob,
            name: "job".into(),
            uid: uid.into(),
        }
    }

    fn owner(uid: &str, clusters: &[&str]) -> Owner {
        Owner {
            uid: uid.into(),
            clusters: clusters.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn an_owner_claims_only_a_cluster_it_records_under_its_own_uid() {
        let o = owner("u1", &["job-abc"]);
        assert_eq!(
            claim_of(Some(&o), &reference("u1"), "job-abc"),
            Claim::Claimed
        );
        let Claim::Disowned(why) = claim_of(Some(&o), &reference("u2"), "job-abc") else {
            panic!("a fake UID was claimed");
        };
        assert!(why.contains("UID"), "{why}");
        let Claim::Disowned(why) = claim_of(Some(&o), &reference("u1"), "forged") else {
            panic!("an unrecorded cluster was claimed");
        };
        assert!(why.contains("status.rayClusterName"), "{why}");
        // A cluster with no name yet is never recorded, even by an owner that records none.
        let empty = owner("u1", &[]);
        assert!(matches!(
            claim_of(Some(&empty), &reference("u1"), ""),
            Claim::Disowned(_)
        ));
        assert_eq!(
            claim_of(None, &reference("u1"), "job-abc"),
            Claim::Disowned("does not exist".into())
        );
    }

    #[test]
    fn a_table_looks_up_by_namespace_and_name_and_a_relist_replaces_it() {
        let table = Table::<Owner>::default();
        assert!(!table.sync.healthy());
        table.insert("ns", "job", owner("u1", &[]));
        table.insert("ns", "job", owner("u2", &[]));
        assert_eq!(table.get("ns", "job").unwrap().uid, "u2");
        assert!(table.get("other", "job").is_none());
        assert_eq!(table.len(), 1);
        let mut fresh = Objects::new();
        add(&mut fresh, "ns", "new", owner("u3", &[]));
        table.replace(fresh);
        assert!(table.get("ns", "job").is_none());
        assert!(table.contains("ns", "new"));
        assert!(table.sync.healthy());
        table.remove("ns", "new");
        assert!(table.is_empty());
    }
}
