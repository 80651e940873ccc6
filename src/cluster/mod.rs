//! `serve` with API access: watches of LocalQueues and Namespaces (metadata
//! only), RayJobs and RayServices (their recorded cluster names) and
//! RayCronJobs (metadata only) fill small [`cache`]s, and [`Watched`]
//! answers the policy's [`Cluster`] view from them. A decision never waits
//! on the API server: the one live call is a bounded read of a RayCluster's
//! owner that the cache has not got ([`Watched::read_owner`]).

pub mod cache;
pub mod selector;
mod watch;

use crate::policy::{Claim, Cluster, Controller, OwnerKind, OwnerRead};
use cache::{Cron, Owner, Table};
use kube::Client;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
pub use selector::Selector;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long `/readyz` waits for the first sync of every watch before it
/// reports ready in the degraded state.
pub const DEFAULT_SYNC_BOUND: Duration = Duration::from_secs(30);

/// The most one owner read may take (well inside the request deadline);
/// past it the reference is trusted, with a warning, and counted.
pub const DEFAULT_OWNER_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The LocalQueue API version of a Kueue release: v1beta2 from v0.15 (its
/// storage version from then), v1beta1 before and without `--kueue-version`
/// (served by every release up to v0.17 at least).
pub fn local_queue_version(release: Option<crate::policy::Release>) -> &'static str {
    let v1beta2 = crate::policy::Release {
        major: 0,
        minor: 15,
    };
    match release {
        Some(release) if release >= v1beta2 => "v1beta2",
        _ => "v1beta1",
    }
}

/// What the API-aware mode needs, built by the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `None`: the in-cluster configuration (the ServiceAccount's token).
    pub kubeconfig: Option<PathBuf>,
    /// Which namespaces Kueue manages (`--exclude-namespace` folded in).
    pub selector: Selector,
    /// `kueue.x-k8s.io/<version>` of LocalQueues.
    pub local_queue_version: &'static str,
    pub sync_bound: Duration,
    pub owner_read_timeout: Duration,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WatchLabels {
    watch: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// The metrics of the API-aware mode.
#[derive(Debug, Default)]
struct Meters {
    synced: Family<WatchLabels, Gauge>,
    age: Family<WatchLabels, Gauge<f64, AtomicU64>>,
    objects: Family<WatchLabels, Gauge>,
    fallbacks: Counter,
    live_reads: Family<ResultLabels, Counter>,
    degraded: Gauge,
}

/// The caches, the client for owner reads, and the metrics.
pub struct Watched {
    client: Client,
    config: Config,
    queues: Table<()>,
    /// Whether each namespace is managed, decided when its event arrives.
    namespaces: Table<bool>,
    jobs: Table<Owner>,
    services: Table<Owner>,
    crons: Table<Cron>,
    meters: Meters,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("config", &self.config)
            .finish()
    }
}

impl Watched {
    /// Connects (in-cluster or with the kubeconfig) and starts the watches;
    /// an error only when no client can be built (the watches themselves
    /// retry for ever, and the server answers meanwhile).
    pub async fn start(config: Config) -> Result<Arc<Self>, String> {
        let client = watch::client(config.kubeconfig.as_deref()).await?;
        let watched = Arc::new(Self {
            client,
            config,
            queues: Table::default(),
            namespaces: Table::default(),
            jobs: Table::default(),
            services: Table::default(),
            crons: Table::default(),
            meters: Meters::default(),
        });
        watch::spawn_all(&watched);
        Ok(watched)
    }

    /// Registers the metrics in the server's registry.
    pub fn register(&self, registry: &mut Registry) {
        let m = &self.meters;
        registry.register(
            "cluster_watch_synced",
            "1 when the watch has listed everything at least once and is not failing",
            m.synced.clone(),
        );
        registry.register(
            "cluster_cache_age_seconds",
            "Seconds since the watch's cache last took an event or a list",
            m.age.clone(),
        );
        registry.register(
            "cluster_cache_objects",
            "Objects in the watch's cache",
            m.objects.clone(),
        );
        registry.register(
            "cluster_owner_fallbacks",
            "RayClusters whose controller reference was trusted because its owner could not be read",
            m.fallbacks.clone(),
        );
        registry.register(
            "cluster_owner_reads",
            "Live reads of a RayCluster's owner missing from the cache, by result",
            m.live_reads.clone(),
        );
        registry.register(
            "cluster_degraded",
            "1 when a watch had not synced within the sync bound (answers come from what is cached)",
            m.degraded.clone(),
        );
    }

    fn tables(&self) -> [(&'static str, &cache::Sync, usize); 5] {
        [
            ("localqueues", &self.queues.sync, self.queues.len()),
            ("namespaces", &self.namespaces.sync, self.namespaces.len()),
            ("rayjobs", &self.jobs.sync, self.jobs.len()),
            ("rayservices", &self.services.sync, self.services.len()),
            ("raycronjobs", &self.crons.sync, self.crons.len()),
        ]
    }

    /// Updates the sync, age and size gauges (each second, from a task).
    fn refresh_meters(&self) {
        for (watch, sync, len) in self.tables() {
            let labels = WatchLabels { watch };
            let synced = i64::from(sync.healthy());
            self.meters.synced.get_or_create(&labels).set(synced);
            let age = sync.age_seconds().unwrap_or(f64::NAN);
            self.meters.age.get_or_create(&labels).set(age);
            let len = i64::try_from(len).unwrap_or(i64::MAX);
            self.meters.objects.get_or_create(&labels).set(len);
        }
    }

    /// The watches not synced yet, by name.
    pub fn unsynced(&self) -> Vec<&'static str> {
        self.tables()
            .into_iter()
            .filter(|(_, sync, _)| !sync.synced.load(Ordering::Relaxed))
            .map(|(watch, _, _)| watch)
            .collect()
    }

    /// Waits for the first sync of every watch, up to the sync bound; past
    /// it logs which are missing and marks the mode degraded.
    pub async fn first_sync(&self) {
        let deadline = tokio::time::Instant::now() + self.config.sync_bound;
        loop {
            let unsynced = self.unsynced();
            if unsynced.is_empty() {
                tracing::info!("cluster caches synced");
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                self.meters.degraded.set(1);
                tracing::warn!(
                    unsynced = %unsynced.join(","),
                    bound = ?self.config.sync_bound,
                    "ready, degraded: these watches have not synced (API server unreachable, or \
                     the webhook may not list them); answers come from what is cached, owners \
                     are trusted when they cannot be read"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn owners(&self, kind: OwnerKind) -> &Table<Owner> {
        match kind {
            OwnerKind::RayService => &self.services,
            _ => &self.jobs,
        }
    }

    /// Reads `read`'s owner from the API server within the owner-read
    /// timeout: `Ok(None)` when it does not exist, `Err` when it could not
    /// be read (unreachable, forbidden, too slow).
    pub async fn read_owner(&self, read: &OwnerRead) -> Result<Option<Owner>, String> {
        let timeout = self.config.owner_read_timeout;
        let got = tokio::time::timeout(timeout, watch::get_owner(&self.client, read)).await;
        let (result, answer) = match got {
            Err(_) => (
                "timeout",
                Err(format!("the API server did not answer within {timeout:?}")),
            ),
            Ok(Err(why)) => ("error", Err(why)),
            Ok(Ok(None)) => ("not_found", Ok(None)),
            Ok(Ok(Some(owner))) => ("found", Ok(Some(owner))),
        };
        self.meters
            .live_reads
            .get_or_create(&ResultLabels { result })
            .inc();
        answer
    }

    /// The view for the second decision of a request whose owner was read.
    pub fn with_read<'a>(
        &'a self,
        read: &'a OwnerRead,
        owner: &'a Result<Option<Owner>, String>,
    ) -> Overlay<'a> {
        Overlay {
            base: self,
            read,
            owner,
        }
    }

    /// A namespace's managed-ness from its labels, as the watch stores it.
    fn managed(&self, labels: &BTreeMap<String, String>) -> bool {
        self.config.selector.matches(labels)
    }
}

impl Cluster for Watched {
    fn local_queue(&self, namespace: &str, name: &str) -> Option<bool> {
        // Before the first list nothing is known: no false warnings.
        let synced = self.queues.sync.synced.load(Ordering::Relaxed);
        synced.then(|| self.queues.contains(namespace, name))
    }

    fn namespace_managed(&self, namespace: &str) -> Option<bool> {
        let cached = self.namespaces.get("", namespace);
        Some(cached.unwrap_or_else(|| self.config.selector.matches_name(namespace)))
    }

    fn claim(&self, namespace: &str, owner: &Controller, cluster: &str) -> Claim {
        let cached = self.owners(owner.kind).get(namespace, &owner.name);
        match cached.map(|o| o.claims(owner, cluster)) {
            Some(Ok(())) => Claim::Claimed,
            // Absent or not claiming: the cache may be behind; read it live.
            _ => Claim::Miss,
        }
    }

    fn cron_queue(&self, namespace: &str, owner: &Controller) -> Option<String> {
        let cron = self.crons.get(namespace, &owner.name)?;
        (cron.uid == owner.uid).then_some(cron.queue).flatten()
    }
}

/// [`Watched`] with one owner freshly read: the second decision of a request.
pub struct Overlay<'a> {
    base: &'a Watched,
    read: &'a OwnerRead,
    owner: &'a Result<Option<Owner>, String>,
}

impl Cluster for Overlay<'_> {
    fn local_queue(&self, namespace: &str, name: &str) -> Option<bool> {
        self.base.local_queue(namespace, name)
    }

    fn namespace_managed(&self, namespace: &str) -> Option<bool> {
        self.base.namespace_managed(namespace)
    }

    fn claim(&self, namespace: &str, owner: &Controller, cluster: &str) -> Claim {
        if namespace != self.read.namespace || *owner != self.read.controller {
            return self.base.claim(namespace, owner, cluster);
        }
        match self.owner {
            Ok(read) => cache::claim_of(read.as_ref(), owner, cluster),
            Err(why) => {
                self.base.meters.fallbacks.inc();
                Claim::Trusted(why.clone())
            }
        }
    }

    fn cron_queue(&self, namespace: &str, owner: &Controller) -> Option<String> {
        self.base.cron_queue(namespace, owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view whose API server is a closed port: every read fails at once.
    fn watched() -> Watched {
        let url = "https://127.0.0.1:1".parse().unwrap();
        Watched {
            client: Client::try_from(kube::Config::new(url)).unwrap(),
            config: Config {
                kubeconfig: None,
                selector: Selector::default(),
                local_queue_version: "v1beta2",
                sync_bound: DEFAULT_SYNC_BOUND,
                owner_read_timeout: DEFAULT_OWNER_READ_TIMEOUT,
            },
            queues: Table::default(),
            namespaces: Table::default(),
            jobs: Table::default(),
            services: Table::default(),
            crons: Table::default(),
            meters: Meters::default(),
        }
    }

    fn job(uid: &str) -> Controller {
        Controller {
            kind: OwnerKind::RayJob,
            name: "job".into(),
            uid: uid.into(),
        }
    }

    #[tokio::test]
    async fn only_a_cached_owner_that_records_the_cluster_is_taken_without_a_read() {
        let w = watched();
        assert_eq!(w.claim("ns", &job("u1"), "c"), Claim::Miss);
        let owner = Owner {
            uid: "u1".into(),
            clusters: vec!["c".into()],
        };
        w.jobs.insert("ns", "job", owner);
        assert_eq!(w.claim("ns", &job("u1"), "c"), Claim::Claimed);
        // Another UID or another cluster: the cache may be behind, so read.
        assert_eq!(w.claim("ns", &job("u2"), "c"), Claim::Miss);
        assert_eq!(w.claim("ns", &job("u1"), "other"), Claim::Miss);
        // A RayService of that name is not the RayJob.
        let service = Controller {
            kind: OwnerKind::RayService,
            ..job("u1")
        };
        assert_eq!(w.claim("ns", &service, "c"), Claim::Miss);
    }

    #[tokio::test]
    async fn an_owner_that_cannot_be_read_is_trusted_and_counted() {
        let w = watched();
        let read = OwnerRead {
            namespace: "ns".into(),
            controller: job("u1"),
        };
        let owner = w.read_owner(&read).await;
        assert!(owner.is_err(), "{owner:?}");
        let view = w.with_read(&read, &owner);
        assert!(matches!(
            view.claim("ns", &job("u1"), "c"),
            Claim::Trusted(_)
        ));
        assert_eq!(w.meters.fallbacks.get(), 1);
        let errors = w
            .meters
            .live_reads
            .get_or_create(&ResultLabels { result: "error" });
        assert_eq!(errors.get(), 1);
        // Another owner is not the one read: the cache answers.
        assert_eq!(view.claim("ns", &job("u2"), "c"), Claim::Miss);
        let absent = Ok(None);
        let view = w.with_read(&read, &absent);
        let claim = view.claim("ns", &job("u1"), "c");
        assert_eq!(claim, Claim::Disowned("does not exist".into()));
    }

    #[tokio::test]
    async fn local_queues_are_unknown_until_listed_and_namespaces_fall_back_to_their_name() {
        let w = watched();
        assert_eq!(w.local_queue("ns", "q"), None);
        w.queues.replace(cache::Objects::new());
        assert_eq!(w.local_queue("ns", "q"), Some(false));
        w.queues.insert("ns", "q", ());
        assert_eq!(w.local_queue("ns", "q"), Some(true));
        assert_eq!(w.namespace_managed("kube-system"), Some(false));
        assert_eq!(w.namespace_managed("team-a"), Some(true));
        w.namespaces.insert("", "team-a", false);
        assert_eq!(w.namespace_managed("team-a"), Some(false));
    }
}
