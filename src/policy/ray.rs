//! What the rules read of a RayCluster or RayService, in one pass over its JSON.
//!
//! Only the handful of fields Kueue cares about are built; pod templates and
//! everything else are skipped. Wrong JSON types become [`FieldError`]s that
//! name the path, so a hostile object is a denial, never a crash.

use super::errors::{ErrorKind, FieldError, RequestError, Rule};
use super::json::{Field, JsonType, json_object};
use super::kinds::RayKind;
use serde::Deserialize;

/// The queue label (and, before Kueue v0.15, annotation) key.
pub const QUEUE_NAME_KEY: &str = "kueue.x-k8s.io/queue-name";

/// Who controls a RayCluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Created by a user: Kueue's workload is the object itself.
    TopLevel,
    /// Created by a RayJob, which is Kueue's workload.
    RayJob,
    /// Created by a RayService.
    RayService,
}

// The JSON documents, as far as the rules read them.

/// A review's `object` or `oldObject` as read from the wire, in the same pass
/// as the envelope, before its kind is looked at. Everything the rules do not
/// read is skipped while parsing; nothing of it is kept.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ObjectDoc {
    metadata: Field<MetaDoc>,
    spec: Field<SpecDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct MetaDoc {
    name: Field<String>,
    generate_name: Field<String>,
    labels: Field<StringMapDoc>,
    annotations: Field<StringMapDoc>,
    owner_references: Field<Vec<Field<OwnerRefDoc>>>,
    deletion_timestamp: Field<String>,
}

/// `metadata.labels` or `metadata.annotations`: a string map of which only
/// the keys the rules use (the queue name) are read; the rest is skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StringMapDoc {
    #[serde(rename = "kueue.x-k8s.io/queue-name")]
    queue_name: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct OwnerRefDoc {
    api_version: Field<String>,
    kind: Field<String>,
    controller: Field<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SpecDoc {
    // RayCluster: the cluster spec is `spec` itself.
    suspend: Field<bool>,
    enable_in_tree_autoscaling: Field<bool>,
    worker_group_specs: Field<Vec<Field<GroupDoc>>>,
    // RayService: the cluster spec is `spec.rayClusterConfig`.
    ray_cluster_config: Field<ClusterSpecDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ClusterSpecDoc {
    suspend: Field<bool>,
    enable_in_tree_autoscaling: Field<bool>,
    worker_group_specs: Field<Vec<Field<GroupDoc>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GroupDoc {
    group_name: Field<String>,
}

json_object!(
    ObjectDoc,
    MetaDoc,
    StringMapDoc,
    OwnerRefDoc,
    SpecDoc,
    ClusterSpecDoc,
    GroupDoc
);

/// One worker group entry of `workerGroupSpecs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// `groupName`, when it is a string.
    Named(String),
    /// No usable `groupName` (missing, or the entry is `null`).
    Unnamed,
    /// The entry or its name has the wrong type (already in `type_errors`).
    Unreadable,
}

/// The cluster spec: `spec` of a RayCluster, `spec.rayClusterConfig` of a RayService.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSpec {
    /// `suspend`, when a boolean.
    pub suspend: Option<bool>,
    /// `enableInTreeAutoscaling`, when a boolean.
    pub autoscaling: Option<bool>,
    /// `workerGroupSpecs`, when an array.
    pub groups: Vec<Group>,
}

/// A RayCluster or RayService as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RayObject {
    pub kind: RayKind,
    /// `metadata.name`, or `generateName` when there is no name yet.
    pub name: Option<String>,
    /// The queue label's value; empty counts as none.
    pub queue_name: Option<String>,
    /// The legacy queue annotation's value (Kueue < v0.15); empty counts as none.
    pub legacy_queue_name: Option<String>,
    pub owner: Owner,
    /// `metadata.deletionTimestamp` is set: the object is being deleted.
    pub deleting: bool,
    pub cluster: ClusterSpec,
    /// Which parent maps exist, so a patch creates only the missing ones.
    pub has_metadata: bool,
    pub has_labels: bool,
    pub has_spec: bool,
    pub has_cluster_spec: bool,
    /// Wrong types in metadata, labels or the queue label: the object's
    /// queue cannot be known, so these are reported whether managed or not.
    pub identity_errors: Vec<FieldError>,
    /// Wrong types anywhere else the rules read; reported for managed objects.
    pub type_errors: Vec<FieldError>,
}

fn type_error(path: impl Into<String>, found: JsonType, expected: JsonType) -> FieldError {
    FieldError {
        path: path.into(),
        kind: ErrorKind::TypeInvalid,
        value: Some(format!("\"{}\"", found.as_str())),
        detail: format!("must be of type {}", expected.as_str()),
        rule: Rule::WrongFieldType,
    }
}

/// Records a wrong type for `field` at `path` into `errors`.
fn check_type<T: super::json::Expected>(
    field: &Field<T>,
    path: impl FnOnce() -> String,
    errors: &mut Vec<FieldError>,
) {
    if let Some(found) = field.wrong_type() {
        errors.push(type_error(path(), found, T::TYPE));
    }
}

fn non_empty(field: Field<String>) -> Option<String> {
    match field {
        Field::Value(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

impl RayObject {
    /// The object as `kind`, from what was read off the wire; `None` when absent.
    pub fn from_wire(
        kind: RayKind,
        wire: Field<ObjectDoc>,
        field: &'static str,
    ) -> Result<Option<Self>, RequestError> {
        match wire {
            Field::Value(doc) => Ok(Some(Self::from_doc(kind, doc))),
            Field::Absent => Ok(None),
            Field::Wrong(found) => Err(RequestError::UnreadableObject {
                field,
                kind: kind.as_str(),
                reason: format!("it is a JSON {}", found.as_str()),
            }),
        }
    }

    fn from_doc(kind: RayKind, doc: ObjectDoc) -> Self {
        let mut identity_errors = Vec::new();
        let mut type_errors = Vec::new();

        check_type(&doc.metadata, || "metadata".into(), &mut identity_errors);
        let has_metadata = matches!(doc.metadata, Field::Value(_));
        let meta = match doc.metadata {
            Field::Value(meta) => meta,
            _ => MetaDoc::default(),
        };
        check_type(
            &meta.labels,
            || "metadata.labels".into(),
            &mut identity_errors,
        );
        let has_labels = matches!(meta.labels, Field::Value(_));
        let labels = match meta.labels {
            Field::Value(labels) => labels,
            _ => StringMapDoc::default(),
        };
        check_type(
            &labels.queue_name,
            || format!("metadata.labels[{QUEUE_NAME_KEY}]"),
            &mut identity_errors,
        );
        check_type(
            &meta.annotations,
            || "metadata.annotations".into(),
            &mut type_errors,
        );
        let legacy_queue_name = match meta.annotations {
            Field::Value(annotations) => {
                check_type(
                    &annotations.queue_name,
                    || format!("metadata.annotations[{QUEUE_NAME_KEY}]"),
                    &mut type_errors,
                );
                non_empty(annotations.queue_name)
            }
            _ => None,
        };
        let owner = Self::owner(kind, meta.owner_references, &mut type_errors);
        check_type(&meta.name, || "metadata.name".into(), &mut type_errors);
        let name = non_empty(meta.name).or_else(|| non_empty(meta.generate_name));

        let has_spec = matches!(doc.spec, Field::Value(_));
        check_type(&doc.spec, || "spec".into(), &mut type_errors);
        let (has_cluster_spec, cluster) = match (kind, doc.spec) {
            (RayKind::RayCluster, Field::Value(spec)) => (
                true,
                Self::cluster(
                    kind,
                    spec.suspend,
                    spec.enable_in_tree_autoscaling,
                    spec.worker_group_specs,
                    &mut type_errors,
                ),
            ),
            (RayKind::RayService, Field::Value(spec)) => {
                check_type(
                    &spec.ray_cluster_config,
                    || "spec.rayClusterConfig".into(),
                    &mut type_errors,
                );
                match spec.ray_cluster_config {
                    Field::Value(c) => (
                        true,
                        Self::cluster(
                            kind,
                            c.suspend,
                            c.enable_in_tree_autoscaling,
                            c.worker_group_specs,
                            &mut type_errors,
                        ),
                    ),
                    _ => (false, ClusterSpec::default()),
                }
            }
            _ => (false, ClusterSpec::default()),
        };

        RayObject {
            kind,
            name,
            queue_name: non_empty(labels.queue_name),
            legacy_queue_name,
            owner,
            deleting: !matches!(meta.deletion_timestamp, Field::Absent),
            cluster,
            has_metadata,
            has_labels,
            has_spec,
            has_cluster_spec,
            identity_errors,
            type_errors,
        }
    }

    /// A controller reference to a `ray.io` RayJob or RayService makes a RayCluster a child.
    fn owner(
        kind: RayKind,
        refs: Field<Vec<Field<OwnerRefDoc>>>,
        errors: &mut Vec<FieldError>,
    ) -> Owner {
        check_type(&refs, || "metadata.ownerReferences".into(), errors);
        let Field::Value(refs) = refs else {
            return Owner::TopLevel;
        };
        let mut owner = Owner::TopLevel;
        for (i, reference) in refs.into_iter().enumerate() {
            check_type(
                &reference,
                || format!("metadata.ownerReferences[{i}]"),
                errors,
            );
            let Field::Value(reference) = reference else {
                continue;
            };
            for (name, field) in [
                ("apiVersion", &reference.api_version),
                ("kind", &reference.kind),
            ] {
                check_type(
                    field,
                    || format!("metadata.ownerReferences[{i}].{name}"),
                    errors,
                );
            }
            check_type(
                &reference.controller,
                || format!("metadata.ownerReferences[{i}].controller"),
                errors,
            );
            let is_ray = reference
                .api_version
                .value()
                .is_some_and(|v| v.split('/').next() == Some("ray.io"));
            if kind != RayKind::RayCluster || reference.controller.value() != Some(&true) || !is_ray
            {
                continue;
            }
            match reference.kind.value().map(String::as_str) {
                Some("RayJob") => owner = Owner::RayJob,
                Some("RayService") => owner = Owner::RayService,
                _ => {}
            }
        }
        owner
    }

    fn cluster(
        kind: RayKind,
        suspend: Field<bool>,
        autoscaling: Field<bool>,
        groups: Field<Vec<Field<GroupDoc>>>,
        errors: &mut Vec<FieldError>,
    ) -> ClusterSpec {
        let base = kind.cluster_spec_path();
        check_type(&suspend, || format!("{base}.suspend"), errors);
        check_type(
            &autoscaling,
            || format!("{base}.enableInTreeAutoscaling"),
            errors,
        );
        check_type(&groups, || format!("{base}.workerGroupSpecs"), errors);
        let groups = match groups {
            Field::Value(groups) => groups
                .into_iter()
                .enumerate()
                .map(|(i, group)| match group {
                    Field::Value(group) => match group.group_name {
                        Field::Value(name) => Group::Named(name),
                        Field::Absent => Group::Unnamed,
                        Field::Wrong(found) => {
                            errors.push(type_error(
                                format!("{base}.workerGroupSpecs[{i}].groupName"),
                                found,
                                JsonType::String,
                            ));
                            Group::Unreadable
                        }
                    },
                    Field::Absent => Group::Unnamed,
                    Field::Wrong(found) => {
                        errors.push(type_error(
                            format!("{base}.workerGroupSpecs[{i}]"),
                            found,
                            JsonType::Object,
                        ));
                        Group::Unreadable
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        ClusterSpec {
            suspend: suspend.value().copied(),
            autoscaling: autoscaling.value().copied(),
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json` as the `object` of a review of `kind`.
    fn read(kind: RayKind, json: &str) -> Result<Option<RayObject>, RequestError> {
        let wire: Field<ObjectDoc> = serde_json::from_str(json).unwrap();
        RayObject::from_wire(kind, wire, "object")
    }

    fn parse(kind: RayKind, json: &str) -> RayObject {
        read(kind, json).unwrap().unwrap()
    }

    #[test]
    fn reads_a_raycluster() {
        let obj = parse(
            RayKind::RayCluster,
            r#"{"metadata":{"name":"c","labels":{"kueue.x-k8s.io/queue-name":"q","app":"x"},
                "ownerReferences":[{"apiVersion":"ray.io/v1","kind":"RayService","controller":true}]},
               "spec":{"suspend":false,"workerGroupSpecs":[{"groupName":"a","template":{"spec":{}}},{}]}}"#,
        );
        assert_eq!(obj.name.as_deref(), Some("c"));
        assert_eq!(obj.queue_name.as_deref(), Some("q"));
        assert_eq!(obj.owner, Owner::RayService);
        assert_eq!(obj.cluster.suspend, Some(false));
        assert_eq!(
            obj.cluster.groups,
            vec![Group::Named("a".into()), Group::Unnamed]
        );
        assert!(obj.has_labels && obj.has_spec && obj.has_cluster_spec);
        assert!(obj.identity_errors.is_empty() && obj.type_errors.is_empty());
    }

    #[test]
    fn owner_must_be_a_ray_controller() {
        for refs in [
            r#"[{"apiVersion":"ray.io/v1","kind":"RayJob"}]"#,
            r#"[{"apiVersion":"batch/v1","kind":"RayJob","controller":true}]"#,
            r#"[{"apiVersion":"ray.io/v1","kind":"Other","controller":true}]"#,
        ] {
            let json = format!(r#"{{"metadata":{{"ownerReferences":{refs}}}}}"#);
            assert_eq!(parse(RayKind::RayCluster, &json).owner, Owner::TopLevel);
        }
        let json = r#"{"metadata":{"ownerReferences":[{"apiVersion":"ray.io/v1alpha1","kind":"RayJob","controller":true}]}}"#;
        assert_eq!(parse(RayKind::RayCluster, json).owner, Owner::RayJob);
        // A RayService is never a child.
        assert_eq!(parse(RayKind::RayService, json).owner, Owner::TopLevel);
    }

    #[test]
    fn reads_a_rayservice_cluster_config() {
        let obj = parse(
            RayKind::RayService,
            r#"{"spec":{"suspend":true,"rayClusterConfig":{"enableInTreeAutoscaling":true,
                "workerGroupSpecs":[{"groupName":"g"}]}}}"#,
        );
        assert_eq!(obj.cluster.suspend, None);
        assert_eq!(obj.cluster.autoscaling, Some(true));
        assert_eq!(obj.cluster.groups, vec![Group::Named("g".into())]);
        assert!(!obj.has_metadata && !obj.has_labels);
    }

    #[test]
    fn empty_and_null_queue_labels_are_absent() {
        for labels in [
            r#"{"kueue.x-k8s.io/queue-name":""}"#,
            r#"{"kueue.x-k8s.io/queue-name":null}"#,
            "null",
        ] {
            let json = format!(r#"{{"metadata":{{"labels":{labels}}}}}"#);
            let obj = parse(RayKind::RayCluster, &json);
            assert_eq!(obj.queue_name, None, "{labels}");
            assert!(obj.identity_errors.is_empty());
        }
    }

    #[test]
    fn wrong_types_name_their_path() {
        let obj = parse(
            RayKind::RayService,
            r#"{"metadata":{"labels":{"kueue.x-k8s.io/queue-name":5},"ownerReferences":{}},
               "spec":{"rayClusterConfig":{"enableInTreeAutoscaling":"yes","workerGroupSpecs":[3,{"groupName":[]}]}}}"#,
        );
        let paths =
            |errors: &[FieldError]| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(
            paths(&obj.identity_errors),
            [
                "metadata.labels[kueue.x-k8s.io/queue-name]: Invalid value: \"number\": must be of type string"
            ]
        );
        assert_eq!(
            paths(&obj.type_errors),
            [
                "metadata.ownerReferences: Invalid value: \"object\": must be of type array",
                "spec.rayClusterConfig.enableInTreeAutoscaling: Invalid value: \"string\": must be of type boolean",
                "spec.rayClusterConfig.workerGroupSpecs[0]: Invalid value: \"number\": must be of type object",
                "spec.rayClusterConfig.workerGroupSpecs[1].groupName: Invalid value: \"array\": must be of type string",
            ]
        );
    }

    #[test]
    fn non_objects_are_unreadable() {
        for json in ["[]", "\"x\"", "7"] {
            assert!(read(RayKind::RayCluster, json).is_err(), "{json}");
        }
        assert_eq!(read(RayKind::RayCluster, "null").unwrap(), None);
    }
}
