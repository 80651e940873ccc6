//! The LocalQueues known to exist: a policy input, read from manifests by
//! `check --local-queues` (and fit to be fed from a watch by a server).

use std::collections::{BTreeMap, BTreeSet};

/// Kueue's LocalQueue defaulting: an unlabelled job in a namespace that has
/// a LocalQueue of this name is sent to it.
pub const DEFAULT_LOCAL_QUEUE: &str = "default";

/// LocalQueue names by namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalQueues(BTreeMap<String, BTreeSet<String>>);

impl LocalQueues {
    pub fn insert(&mut self, namespace: &str, name: &str) {
        self.0
            .entry(namespace.to_owned())
            .or_default()
            .insert(name.to_owned());
    }

    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.0
            .get(namespace)
            .is_some_and(|names| names.contains(name))
    }

    /// How many LocalQueues are known, in all namespaces.
    pub fn len(&self) -> usize {
        self.0.values().map(BTreeSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
