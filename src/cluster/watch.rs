//! The watches (kube::runtime's watcher, with its default backoff) and the
//! owner read: each event is cut down to a cache entry at once, so what is
//! held is the entry, not the object.

use super::Watched;
use super::cache::{Cron, Owner, Table};
use crate::policy::{OwnerKind, OwnerRead, QUEUE_NAME_KEY};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource, ResourceExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Objects per page of a relist (kube's default): bounds what a list holds
/// in memory at once before it is cut down to cache entries.
const PAGE_SIZE: u32 = 500;

/// A client from the kubeconfig file, or the in-cluster configuration.
pub(super) async fn client(kubeconfig: Option<&Path>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
            let options = kube::config::KubeConfigOptions::default();
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| format!("invalid kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::incluster().map_err(|e| {
            format!("no in-cluster configuration ({e}); pass --kubeconfig, or --api-access=false")
        })?,
    };
    Client::try_from(config).map_err(|e| format!("cannot build the API client: {e}"))
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn ray(kind: OwnerKind) -> ApiResource {
    let plural = match kind {
        OwnerKind::RayJob => "rayjobs",
        OwnerKind::RayService => "rayservices",
        OwnerKind::RayCronJob => "raycronjobs",
    };
    resource("ray.io", "v1", kind.as_str(), plural)
}

/// Starts one task per watch, and one that refreshes the gauges.
pub(super) fn spawn_all(watched: &Arc<Watched>) {
    let client = watched.client.clone();
    let version = watched.config.local_queue_version;
    let queues = resource("kueue.x-k8s.io", version, "LocalQueue", "localqueues");
    let all = |ar: &ApiResource| Api::<DynamicObject>::all_with(client.clone(), ar);
    // Metadata-only lists and watches: no spec or status is sent.
    let meta =
        |ar: &ApiResource| Api::<PartialObjectMeta<DynamicObject>>::all_with(client.clone(), ar);
    tokio::spawn(run(
        "localqueues",
        watcher::watcher(meta(&queues), config()),
        |meta: &PartialObjectMeta<DynamicObject>| entry(meta, |_| Some(())),
        watched.clone(),
        |w| &w.queues,
    ));
    let managed = watched.clone();
    tokio::spawn(run(
        "namespaces",
        watcher::watcher(
            Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
            config(),
        ),
        move |meta: &PartialObjectMeta<Namespace>| {
            entry(meta, |meta| Some(managed.managed(meta.labels())))
        },
        watched.clone(),
        |w| &w.namespaces,
    ));
    tokio::spawn(run(
        "rayjobs",
        watcher::watcher(all(&ray(OwnerKind::RayJob)), config()),
        |obj: &DynamicObject| entry(obj, |obj| Some(owner(OwnerKind::RayJob, obj))),
        watched.clone(),
        |w| &w.jobs,
    ));
    tokio::spawn(run(
        "rayservices",
        watcher::watcher(all(&ray(OwnerKind::RayService)), config()),
        |obj: &DynamicObject| entry(obj, |obj| Some(owner(OwnerKind::RayService, obj))),
        watched.clone(),
        |w| &w.services,
    ));
    tokio::spawn(run(
        "raycronjobs",
        watcher::watcher(meta(&ray(OwnerKind::RayCronJob)), config()),
        |meta: &PartialObjectMeta<DynamicObject>| entry(meta, |meta| Some(cron(meta))),
        watched.clone(),
        |w| &w.crons,
    ));
    let w = Arc::downgrade(watched);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            match w.upgrade() {
                Some(watched) => watched.refresh_meters(),
                None => return,
            }
        }
    });
}

fn config() -> watcher::Config {
    watcher::Config::default().page_size(PAGE_SIZE)
}

/// A cache change: an entry to set or remove, or a relist's phases.
pub(super) enum Change<V> {
    Set(String, String, V),
    Remove(String, String),
    Relist,
    Listed(String, String, V),
    RelistDone,
}

/// The namespace, name and entry of an object (`None`: not cached).
fn entry<K: Resource, V>(
    obj: &K,
    value: impl FnOnce(&K) -> Option<V>,
) -> Option<(String, String, V)> {
    let meta = obj.meta();
    let name = meta.name.clone()?;
    Some((
        meta.namespace.clone().unwrap_or_default(),
        name,
        value(obj)?,
    ))
}

/// Runs one watch for ever: each event becomes a [`Change`]; errors are
/// logged when the watch starts failing (not at every retry) and mark it
/// failing. A kind the API server does not know (its CRD is not
/// installed) counts as listed and empty: none of it can exist.
async fn run<K, V>(
    watch: &'static str,
    stream: impl Stream<Item = watcher::Result<Event<K>>> + Send + 'static,
    cut: impl Fn(&K) -> Option<(String, String, V)> + Send + 'static,
    watched: Arc<Watched>,
    table: fn(&Watched) -> &Table<V>,
) where
    K: Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    let table = table(&watched);
    let mut stream = std::pin::pin!(stream.default_backoff());
    let mut failing = false;
    while let Some(event) = stream.next().await {
        let change = match event {
            Ok(Event::Apply(obj)) => cut(&obj).map(|(ns, name, v)| Change::Set(ns, name, v)),
            Ok(Event::Delete(obj)) => cut(&obj).map(|(ns, name, _)| Change::Remove(ns, name)),
            Ok(Event::Init) => Some(Change::Relist),
            Ok(Event::InitApply(obj)) => cut(&obj).map(|(ns, name, v)| Change::Listed(ns, name, v)),
            Ok(Event::InitDone) => Some(Change::RelistDone),
            Err(error) => {
                let missing = is_not_found(&error);
                if missing {
                    // No such kind: synced and empty; the watcher retries with backoff.
                    table.apply(Change::Relist);
                    table.apply(Change::RelistDone);
                } else {
                    table.sync.failing.store(true, Ordering::Relaxed);
                }
                if !failing {
                    failing = true;
                    if missing {
                        tracing::info!(watch, %error, "kind not served: its cache stays empty");
                    } else {
                        tracing::warn!(watch, %error, "watch failing: answering from the last cache");
                    }
                }
                continue;
            }
        };
        let progress = !matches!(change, None | Some(Change::Relist));
        if let Some(change) = change {
            table.apply(change);
        }
        if failing && progress {
            failing = false;
            tracing::info!(watch, "watch recovered");
        }
    }
}

fn is_not_found(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.code == 404,
        _ => false,
    }
}

impl<V: Clone> Table<V> {
    /// Applies one change; a relist goes into a buffer swapped in whole.
    fn apply(&self, change: Change<V>) {
        match change {
            Change::Set(ns, name, v) => self.insert(&ns, &name, v),
            Change::Remove(ns, name) => self.remove(&ns, &name),
            Change::Relist => self.start_relist(),
            Change::Listed(ns, name, v) => self.listed(&ns, &name, v),
            Change::RelistDone => self.finish_relist(),
        }
    }
}

/// What is kept of a RayJob or RayService: its UID and recorded clusters.
fn owner(kind: OwnerKind, obj: &DynamicObject) -> Owner {
    let status = obj.data.get("status");
    let name = |path: &[&str]| {
        let mut value = status?;
        for key in path {
            value = value.get(key)?;
        }
        value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
    };
    let clusters = match kind {
        OwnerKind::RayService => [
            name(&["activeServiceStatus", "rayClusterName"]),
            name(&["pendingServiceStatus", "rayClusterName"]),
        ]
        .into_iter()
        .flatten()
        .collect(),
        _ => name(&["rayClusterName"]).into_iter().collect(),
    };
    Owner {
        uid: obj.metadata.uid.clone().unwrap_or_default(),
        clusters,
    }
}

fn cron(meta: &PartialObjectMeta<DynamicObject>) -> Cron {
    Cron {
        uid: meta.metadata.uid.clone().unwrap_or_default(),
        queue: meta
            .labels()
            .get(QUEUE_NAME_KEY)
            .filter(|q| !q.is_empty())
            .cloned(),
    }
}

/// Reads an owner from the API server (the caller bounds the time).
pub(super) async fn get_owner(client: &Client, read: &OwnerRead) -> Result<Option<Owner>, String> {
    let kind = read.controller.kind;
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), &read.namespace, &ray(kind));
    match api.get_opt(&read.controller.name).await {
        Ok(obj) => Ok(obj.map(|obj| owner(kind, &obj))),
        Err(kube::Error::Api(status)) => Err(format!(
            "reading {} {:?} failed: {} {}",
            kind.as_str(),
            read.controller.name,
            status.code,
            status.reason
        )),
        Err(error) => Err(format!("reading {} failed: {error}", kind.as_str())),
    }
}
