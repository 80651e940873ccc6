//! The wire views of a Ray object: what the rules read of a review's `object`
//! or `oldObject`, deserialised in the same pass as the envelope. Only the
//! handful of fields Kueue cares about are built; pod templates and
//! everything else are skipped while parsing. [`super::ray`] turns a view
//! into the policy's [`RayObject`](super::ray::RayObject).

use super::json::{Field, FirstItems, json_object};
use serde::Deserialize;

/// A review's `object` or `oldObject` as read from the wire, before its kind
/// is looked at. Nothing that the rules do not read is kept.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ObjectDoc {
    pub(super) metadata: Field<MetaDoc>,
    pub(super) spec: Field<TopSpecDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct MetaDoc {
    pub name: Field<String>,
    pub generate_name: Field<String>,
    pub labels: Field<StringMapDoc>,
    pub annotations: Field<StringMapDoc>,
    pub owner_references: Field<FirstItems<Field<OwnerRefDoc>>>,
    pub deletion_timestamp: Field<String>,
}

/// `metadata.labels` or `metadata.annotations`: a string map of which only
/// the keys the rules use are read; the rest is skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StringMapDoc {
    #[serde(rename = "kueue.x-k8s.io/queue-name")]
    pub queue_name: Field<String>,
    /// Label.
    #[serde(rename = "kueue.x-k8s.io/priority-class")]
    pub priority_class: Field<String>,
    /// Label.
    #[serde(rename = "kueue.x-k8s.io/max-exec-time-seconds")]
    pub max_exec_time: Field<String>,
    /// Annotation.
    #[serde(rename = "kueue.x-k8s.io/elastic-job")]
    pub elastic_job: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct OwnerRefDoc {
    pub api_version: Field<String>,
    pub kind: Field<String>,
    pub name: Field<String>,
    pub uid: Field<String>,
    pub controller: Field<bool>,
}

/// `spec`, or a cluster spec nested in it. A RayCluster's `spec` is its
/// cluster spec, so both levels have the same fields; `Nested` is how the
/// nested cluster specs are read: [`ClusterSpecDoc`] under `spec`, and
/// [`NotRead`] one level further down. `Job` is how a RayCronJob's
/// `jobTemplate` is read: as a RayJob's `spec` ([`JobSpecDoc`]) under the
/// top-level `spec`, not at all further down.
#[derive(Debug, Default, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound = "Nested: Deserialize<'de> + super::json::Expected + Default, \
             Job: Deserialize<'de> + super::json::Expected + Default"
)]
pub(super) struct SpecDoc<Nested, Job = NotRead> {
    pub suspend: Field<bool>,
    pub enable_in_tree_autoscaling: Field<bool>,
    pub worker_group_specs: Field<FirstItems<Field<GroupDoc>>>,
    /// The head's group: only its pod template is read.
    pub head_group_spec: Field<GroupDoc>,
    /// A RayService's cluster spec. The nested views are boxed: present in
    /// one kind each, they would otherwise make every view large to move.
    pub ray_cluster_config: Field<Box<Nested>>,
    // A RayJob's: its cluster spec, or the existing cluster it runs on, and
    // how it is submitted and cleaned up.
    pub ray_cluster_spec: Field<Box<Nested>>,
    pub cluster_selector: Field<EntryCount>,
    pub submission_mode: Field<String>,
    pub shutdown_after_job_finishes: Field<bool>,
    pub deletion_strategy: Field<DeletionStrategyDoc>,
    /// Who reconciles the object (MultiKueue: `kueue.x-k8s.io/multikueue`).
    pub managed_by: Field<String>,
    /// A RayService's upgrade strategy.
    pub upgrade_strategy: Field<UpgradeStrategyDoc>,
    /// A RayCronJob's template of its runs' `spec` (a RayJob spec).
    pub job_template: Field<Box<Job>>,
    /// A RayJob's submitter pod template: only its topology annotations.
    pub submitter_pod_template: Field<SubmitterTemplateDoc>,
}

/// A RayJob's `submitterPodTemplate`: Kueue builds the submitter's PodSet
/// from it, topology request included.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SubmitterTemplateDoc {
    pub metadata: Field<TemplateMetaDoc>,
}

/// A RayService's `spec.upgradeStrategy`: only its `type` is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UpgradeStrategyDoc {
    #[serde(rename = "type")]
    pub kind: Field<String>,
}

/// A cluster spec nested in `spec`.
pub(super) type ClusterSpecDoc = SpecDoc<NotRead>;

/// A RayJob's `spec`, and a RayCronJob's `spec.jobTemplate`.
pub(super) type JobSpecDoc = SpecDoc<ClusterSpecDoc>;

/// The top-level `spec` of any kind.
pub(super) type TopSpecDoc = SpecDoc<ClusterSpecDoc, JobSpecDoc>;

impl<Nested, Job> SpecDoc<Nested, Job> {
    /// The cluster spec nested under `key` (a [`KINDS`](super::kinds::KINDS) path token).
    pub fn take_nested(&mut self, key: &str) -> Field<Box<Nested>> {
        match key {
            "rayClusterConfig" => std::mem::take(&mut self.ray_cluster_config),
            "rayClusterSpec" => std::mem::take(&mut self.ray_cluster_spec),
            _ => Field::Absent,
        }
    }
}

/// A map below the levels the rules read: skipped, not kept.
#[derive(Debug, Default)]
pub(super) struct NotRead;

impl<'de> Deserialize<'de> for NotRead {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| NotRead)
    }
}

/// A map of which only the number of entries is kept (`clusterSelector`).
#[derive(Debug, Default)]
pub(super) struct EntryCount(pub usize);

impl<'de> Deserialize<'de> for EntryCount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> serde::de::Visitor<'de> for Count {
            type Value = EntryCount;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<EntryCount, A::Error> {
                let mut count = 0;
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {
                    count += 1;
                }
                Ok(EntryCount(count))
            }
        }
        deserializer.deserialize_map(Count)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct DeletionStrategyDoc {
    /// Only how many rules there are is kept.
    pub deletion_rules: Field<Vec<NotRead>>,
    /// The legacy policies (KubeRay's `RayJobDeletionPolicy`).
    pub on_success: Field<DeletionPolicyDoc>,
    pub on_failure: Field<DeletionPolicyDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct DeletionPolicyDoc {
    pub policy: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct GroupDoc {
    pub group_name: Field<String>,
    /// With `numOfHosts`, the pod count of the group's PodSet (topology
    /// slices and groups).
    pub replicas: Field<i64>,
    pub num_of_hosts: Field<i64>,
    pub template: Field<TemplateDoc>,
}

/// A group's pod template, as far as its scheduling gates (elastic jobs).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TemplateDoc {
    pub metadata: Field<TemplateMetaDoc>,
    pub spec: Field<PodSpecDoc>,
}

/// A pod template's metadata: only its topology annotations are read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TemplateMetaDoc {
    pub annotations: Field<TopologyDoc>,
}

/// Kueue's topology-aware scheduling annotations of a pod template.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct TopologyDoc {
    #[serde(rename = "kueue.x-k8s.io/podset-required-topology")]
    pub required: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-preferred-topology")]
    pub preferred: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-unconstrained-topology")]
    pub unconstrained: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-slice-required-topology")]
    pub slice_required: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-slice-size")]
    pub slice_size: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-group-name")]
    pub group_name: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-slice-required-topology-constraints")]
    pub slice_layers: Field<String>,
    #[serde(rename = "kueue.x-k8s.io/podset-topology-spreading")]
    pub spreading: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct PodSpecDoc {
    pub scheduling_gates: Field<FirstItems<Field<GateDoc>>>,
    /// Only whether there are any is kept (the head's must list some).
    pub containers: Field<Vec<NotRead>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GateDoc {
    pub name: Field<String>,
}

json_object!(
    ObjectDoc,
    MetaDoc,
    StringMapDoc,
    OwnerRefDoc,
    TopSpecDoc,
    JobSpecDoc,
    ClusterSpecDoc,
    NotRead,
    EntryCount,
    DeletionStrategyDoc,
    DeletionPolicyDoc,
    UpgradeStrategyDoc,
    GroupDoc,
    TemplateDoc,
    TemplateMetaDoc,
    SubmitterTemplateDoc,
    TopologyDoc,
    PodSpecDoc,
    GateDoc
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The view is moved several times per review (out of the envelope,
    /// into the object's reading). The nested cluster specs and a
    /// RayCronJob's job template are boxed so that it stays small to move:
    /// unboxed, it had grown to 4.5 KB, and every review paid for the copies
    /// (`cargo bench --bench pure -- --instructions`, docs/performance.md).
    #[test]
    fn the_object_view_stays_small_to_move() {
        let size = std::mem::size_of::<ObjectDoc>();
        println!("ObjectDoc: {size} bytes");
        assert!(size <= 1280, "ObjectDoc is {size} bytes");
    }
}
