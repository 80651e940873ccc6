//! Elastic jobs (Kueue's `ElasticJobsViaWorkloadSlices`, `--elastic-jobs`):
//! an object annotated `kueue.x-k8s.io/elastic-job: "true"` may keep
//! KubeRay's autoscaler on; its pods wait behind a scheduling gate that
//! Kueue lifts when it admits them.

use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::violations::Violations;

/// The annotation that makes an object elastic (immutable after creation).
pub const ELASTIC_JOB_KEY: &str = "kueue.x-k8s.io/elastic-job";
/// The scheduling gate every pod template of an elastic cluster carries.
pub const ELASTIC_JOB_GATE: &str = "kueue.x-k8s.io/elastic-job";

/// Whether an object with this annotation value is elastic under `enabled`
/// (`--elastic-jobs`); with it off, the annotation changes nothing.
pub fn is_elastic(annotation: Option<&str>, enabled: bool) -> bool {
    enabled && annotation == Some("true")
}

/// One pod template (the head's or a worker group's), as far as the gate
/// rule reads it: `<group>.template.spec.schedulingGates`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodTemplate {
    /// How much of the path exists, as objects (the list as an array):
    /// 0 nothing, 1 the group, 2 `template`, 3 `template.spec`, 4 `schedulingGates`.
    pub depth: u8,
    /// `schedulingGates` has an entry named [`ELASTIC_JOB_GATE`].
    pub gated: bool,
    /// A wrong JSON type on the way (a type error already): neither
    /// checked nor patched.
    pub unreadable: bool,
    /// `template.spec.containers` is absent or empty (a wrong type is left
    /// to the API server's schema validation).
    pub no_containers: bool,
    /// Its topology annotations (`template.metadata.annotations`).
    pub topology: super::topology::Topology,
}

/// The depth at which `schedulingGates` itself exists.
const LIST_DEPTH: u8 = 4;
/// The path below a group, in pointer tokens.
const BELOW_GROUP: [&str; 3] = ["template", "spec", "schedulingGates"];

/// Where a template sits in the cluster spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Head,
    Worker(usize),
}

impl Group {
    /// `headGroupSpec` or `workerGroupSpecs[i]`, below the cluster spec.
    pub fn path(self) -> String {
        match self {
            Group::Head => "headGroupSpec".into(),
            Group::Worker(i) => format!("workerGroupSpecs[{i}]"),
        }
    }

    fn tokens(self) -> Vec<String> {
        match self {
            Group::Head => vec!["headGroupSpec".into()],
            Group::Worker(i) => vec!["workerGroupSpecs".into(), i.to_string()],
        }
    }
}

/// The templates of a cluster spec that lack the gate, head first.
pub fn ungated<'a>(
    head: &'a PodTemplate,
    workers: &'a [PodTemplate],
) -> impl Iterator<Item = (Group, &'a PodTemplate)> {
    std::iter::once((Group::Head, head))
        .chain(
            workers
                .iter()
                .enumerate()
                .map(|(i, t)| (Group::Worker(i), t)),
        )
        .filter(|(_, template)| !template.gated && !template.unreadable)
}

/// An elastic cluster's every template must carry the gate; `base` is the
/// cluster spec's path (`spec`, `spec.rayClusterConfig`).
pub fn gates(base: &str, head: &PodTemplate, workers: &[PodTemplate], errors: &mut Violations) {
    for (group, _) in ungated(head, workers) {
        errors.push(FieldError {
            path: format!("{base}.{}.template.spec.schedulingGates", group.path()),
            kind: ErrorKind::Required,
            value: None,
            detail: format!(
                "an elastic job's pods must carry the scheduling gate {{\"name\": \
                 \"{ELASTIC_JOB_GATE}\"}}: Kueue lifts it when it admits them; without it they \
                 start before admission"
            ),
            rule: Rule::ElasticJobGateMissing,
        });
    }
}

/// One JSON-patch `add` that gates a template: the path below the cluster
/// spec, how many of its leading tokens exist (the missing parent maps are
/// added first), and the value (the list, or one entry appended with `-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateAdd {
    pub tokens: Vec<String>,
    pub present: usize,
    pub value: serde_json::Value,
}

/// The `add` that gates `template` of `group`.
pub fn gate_add(group: Group, template: &PodTemplate) -> GateAdd {
    let entry = serde_json::json!({ "name": ELASTIC_JOB_GATE });
    let mut tokens = group.tokens();
    // The group's last token is at depth 1: `workerGroupSpecs` itself exists.
    let present = tokens.len() - 1 + usize::from(template.depth);
    tokens.extend(BELOW_GROUP.iter().map(|t| t.to_string()));
    if template.depth >= LIST_DEPTH {
        tokens.push("-".into());
        return GateAdd {
            present: tokens.len() - 1,
            tokens,
            value: entry,
        };
    }
    GateAdd {
        tokens,
        present,
        value: serde_json::Value::Array(vec![entry]),
    }
}

/// The annotation may not be added, changed or removed on UPDATE.
pub fn annotation_unchanged(new: Option<&str>, old: Option<&str>, errors: &mut Violations) {
    if new == old {
        return;
    }
    let shown = |value: Option<&str>| value.map_or("none".to_string(), quoted);
    errors.push(FieldError {
        path: format!("metadata.annotations[{ELASTIC_JOB_KEY}]"),
        kind: ErrorKind::Invalid,
        value: Some(new.map_or("\"\"".to_string(), quoted)),
        detail: format!(
            "field is immutable (was {}): whether a job is elastic is fixed when it is created; \
             delete and recreate it to change that",
            shown(old)
        ),
        rule: Rule::ElasticJobImmutable,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(depth: u8, gated: bool) -> PodTemplate {
        PodTemplate {
            depth,
            gated,
            ..PodTemplate::default()
        }
    }

    #[test]
    fn only_true_with_the_feature_on_is_elastic() {
        assert!(is_elastic(Some("true"), true));
        for value in [None, Some("false"), Some("True"), Some("")] {
            assert!(!is_elastic(value, true), "{value:?}");
        }
        assert!(!is_elastic(Some("true"), false));
    }

    #[test]
    fn every_ungated_template_is_denied_at_its_gates() {
        let mut errors = Violations::default();
        let workers = [
            template(4, true),
            template(2, false),
            PodTemplate {
                unreadable: true,
                ..PodTemplate::default()
            },
        ];
        gates(
            "spec.rayClusterConfig",
            &template(3, false),
            &workers,
            &mut errors,
        );
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.rayClusterConfig.headGroupSpec.template.spec.schedulingGates",
                "spec.rayClusterConfig.workerGroupSpecs[1].template.spec.schedulingGates",
            ]
        );
        assert!(errors[0].to_string().contains("Required value: an elastic job's pods must carry the scheduling gate {\"name\": \"kueue.x-k8s.io/elastic-job\"}"));
        errors = Violations::default();
        gates(
            "spec",
            &template(4, true),
            &[template(4, true)],
            &mut errors,
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn the_gate_is_appended_or_its_path_created() {
        // An existing list: append.
        let add = gate_add(Group::Worker(3), &template(4, false));
        assert_eq!(
            add.tokens,
            [
                "workerGroupSpecs",
                "3",
                "template",
                "spec",
                "schedulingGates",
                "-"
            ]
        );
        assert_eq!(add.present, 5);
        assert_eq!(add.value, json!({"name": ELASTIC_JOB_GATE}));
        // No list: create it.
        let add = gate_add(Group::Head, &template(3, false));
        assert_eq!(
            add.tokens,
            ["headGroupSpec", "template", "spec", "schedulingGates"]
        );
        assert_eq!(add.present, 3);
        assert_eq!(add.value, json!([{"name": ELASTIC_JOB_GATE}]));
        // No template.spec: it is created first; no template: both.
        assert_eq!(gate_add(Group::Worker(0), &template(2, false)).present, 3);
        assert_eq!(gate_add(Group::Worker(0), &template(1, false)).present, 2);
        // No head group at all.
        assert_eq!(gate_add(Group::Head, &template(0, false)).present, 0);
    }

    #[test]
    fn the_annotation_is_immutable() {
        let mut errors = Violations::default();
        annotation_unchanged(Some("true"), Some("true"), &mut errors);
        annotation_unchanged(None, None, &mut errors);
        assert!(errors.is_empty());
        for (new, old) in [
            (Some("true"), None),
            (None, Some("true")),
            (Some("false"), Some("true")),
        ] {
            annotation_unchanged(new, old, &mut errors);
        }
        let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 3);
        assert!(messages[0].starts_with(
            "metadata.annotations[kueue.x-k8s.io/elastic-job]: Invalid value: \"true\": field is immutable (was none)"
        ), "{}", messages[0]);
        assert!(messages[1].contains("Invalid value: \"\": field is immutable (was \"true\")"));
    }
}
