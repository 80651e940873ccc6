//! A dry-run CREATE of one manifest document, through the server's own handler.
//!
//! Each Ray object is wrapped in the AdmissionReview that kube-apiserver would
//! send for a CREATE, passed to [`admission::review`] for the mutating
//! webhook, and the verdict is read back from the answer's bytes. One call per
//! object is enough: the mutating webhook validates the object it produced, so
//! a second call to the validating webhook could only repeat its verdict.

use super::load::{Document, DocumentSource};
use super::yaml::{Node, Position, field_steps, pointer_steps, to_yaml};
use crate::policy::{KINDS, Operation, Policy, RAY_GROUP, RayKind};
use create::dry_run_create;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::Serialize;
use serde_json::Value;

mod create;

/// What `check` concluded for one document: a checked Ray object or a skipped document.
#[derive(Debug)]
pub enum Checked {
    /// A RayCluster, RayService or RayJob, and the webhook's verdict on it.
    Object(Box<CheckedObject>),
    /// Any other document (another kind, or not a Kubernetes object).
    Skipped(SkippedDocument),
}

/// A document that is not a Ray object this webhook handles, and why.
#[derive(Debug, Serialize)]
pub struct SkippedDocument {
    pub source: DocumentSource,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub reason: String,
}

impl SkippedDocument {
    /// A `ray.io` object of a kind this webhook does not admit (say, a RayCronJob).
    pub fn is_ray(&self) -> bool {
        self.api_version
            .as_deref()
            .and_then(|v| v.split_once('/'))
            .is_some_and(|(group, _)| group == RAY_GROUP)
    }
}

/// What `check` says of one Ray object: its [`Verdict`] and each finding on
/// its line, decoded from the webhook's AdmissionReview answer.
#[derive(Debug, Serialize)]
pub struct CheckedObject {
    pub source: DocumentSource,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    /// `metadata.name`, or `metadata.generateName` followed by `*`.
    pub name: String,
    /// Admitted, denied or unmanaged (`"verdict"` in the JSON report).
    pub verdict: Verdict,
    /// `status.message` of a denial, or why an object is unmanaged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One entry per violated rule (`status.details.causes`).
    pub violations: Vec<Violation>,
    /// The RFC 6902 patch the webhook returned (empty when none), each
    /// operation with the position of the field it changes (extra members,
    /// which RFC 6902 says to ignore).
    pub patch: Vec<Located<json_patch::PatchOperation>>,
    pub warnings: Vec<PlacedWarning>,
    /// The object as it would be stored (the patch applied), as YAML: kept
    /// as text, about the size of the manifest, not as a tree many times
    /// larger. Only for allowed objects, and only when asked for (`--patched`).
    #[serde(skip)]
    pub patched: Option<String>,
}

/// What the webhook does with a Ray object: the verdict `check` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Managed by Kueue and allowed (perhaps mutated).
    Admitted,
    /// Refused: a rule is violated.
    Denied,
    /// Allowed, but Kueue does not manage it (no queue label, manage-all
    /// off), so the rules were not applied.
    Unmanaged,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Admitted => "admitted",
            Verdict::Denied => "denied",
            Verdict::Unmanaged => "unmanaged",
        }
    }
}

/// A finding and the position (in its file) of the field it concerns.
#[derive(Debug, PartialEq, Serialize)]
pub struct Located<T> {
    #[serde(flatten)]
    pub item: T,
    #[serde(flatten)]
    pub at: Position,
}

/// One violated rule: the field, and what is wrong with it.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(flatten)]
    pub at: Position,
}

/// A warning the webhook returned, placed on the field the policy says it is
/// about (the object when none, or the nearest parent when the field is absent).
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct PlacedWarning {
    pub message: String,
    #[serde(flatten)]
    pub at: Position,
}

/// The webhook answered in a way no real request should get (not a 200
/// AdmissionReview): the object cannot be judged.
#[derive(Debug, thiserror::Error)]
#[error("{at}: the webhook could not review this object: {message}")]
pub struct ReviewError {
    pub at: DocumentSource,
    pub message: String,
}

/// Sends `document` through the mutating webhook as a CREATE in `namespace`
/// (unless its manifest names one), and places each finding on its line.
pub fn check_document(
    document: &Document,
    index: usize,
    namespace: &str,
    policy: &Policy,
    keep_patched: bool,
) -> Result<Checked, ReviewError> {
    let mut object = document.node.to_value();
    let ray = match ray_identity(&object) {
        Ok(ray) => ray,
        Err(reason) => return Ok(Checked::Skipped(skipped(document, &object, reason))),
    };
    let fail = |message: String| ReviewError {
        at: document.source.clone(),
        message,
    };
    let namespace = set_namespace(&mut object, namespace);
    let name = display_name(&object);
    let (response, fields) =
        dry_run_create(&ray, &object, &namespace, index, policy).map_err(fail)?;
    let root = &document.node;
    let violations = place_violations(root, response.status.as_ref());
    let (verdict, message, patched) = if response.allowed {
        let judged = judge_allowed(
            &ray,
            &namespace,
            object,
            &response.patch,
            policy,
            keep_patched,
        )
        .map_err(fail)?;
        match judged.unmanaged {
            Some(reason) => (Verdict::Unmanaged, Some(reason), judged.patched),
            None => (Verdict::Admitted, None, judged.patched),
        }
    } else {
        let message = response.status.as_ref().and_then(|s| s.message.clone());
        (Verdict::Denied, message, None)
    };
    Ok(Checked::Object(Box::new(CheckedObject {
        source: document.source.clone(),
        api_version: ray.api_version,
        kind: ray.kind.as_str().to_owned(),
        namespace,
        name,
        verdict,
        message,
        violations,
        patch: place_patch(root, response.patch),
        warnings: place_warnings(root, response.warnings, fields),
        patched,
    })))
}

/// A document that is not an object this webhook handles, and why.
fn skipped(document: &Document, object: &Value, reason: String) -> SkippedDocument {
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    SkippedDocument {
        source: document.source.clone(),
        api_version: text("apiVersion"),
        kind: text("kind"),
        reason,
    }
}

/// A document that is an object of a kind this webhook handles.
struct RayIdentity {
    /// `ray.io/v1`, as the manifest says.
    api_version: String,
    /// `v1`: the version the review names.
    version: String,
    kind: RayKind,
}

/// The handled kind `object` is, or why the document is skipped.
fn ray_identity(object: &Value) -> Result<RayIdentity, String> {
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str);
    let group = api_version.and_then(|av| av.split_once('/'));
    let ray =
        group.and_then(|(group, version)| Some((version, RayKind::from_group_kind(group, kind?)?)));
    if let (Some(api_version), Some((version, kind))) = (api_version, ray) {
        return Ok(RayIdentity {
            api_version: api_version.to_owned(),
            version: version.to_owned(),
            kind,
        });
    }
    Err(match (api_version, kind, group) {
        (None, _, _) | (_, None, _) => "not a Kubernetes object (no apiVersion and kind)".into(),
        (_, Some(kind), Some((RAY_GROUP, _))) => {
            let handled: Vec<&str> = KINDS.iter().map(|info| info.name).collect();
            format!(
                "{kind} is not a kind this webhook admits ({})",
                handled.join(", ")
            )
        }
        _ => "not a ray.io object".into(),
    })
}

/// What an allowed object comes to: why Kueue would not manage it (if so),
/// and, when asked for, the object as stored (the patch applied) as YAML.
struct Allowed {
    unmanaged: Option<String>,
    patched: Option<String>,
}

/// Applies the patch and asks the policy whether Kueue manages the result.
fn judge_allowed(
    ray: &RayIdentity,
    namespace: &str,
    mut object: Value,
    patch: &json_patch::Patch,
    policy: &Policy,
    keep_patched: bool,
) -> Result<Allowed, String> {
    json_patch::patch(&mut object, &patch.0)
        .map_err(|e| format!("the patch does not apply: {e}"))?;
    let unmanaged = unmanaged_reason(ray.kind, namespace, &object, policy)?;
    let patched = if keep_patched {
        Some(to_yaml(&object)?)
    } else {
        None
    };
    Ok(Allowed { unmanaged, patched })
}

/// One violation per cause of the denial, on the line of its field.
fn place_violations(root: &Node, status: Option<&Status>) -> Vec<Violation> {
    status
        .and_then(|status| status.details.as_ref())
        .and_then(|details| details.causes.as_ref())
        .into_iter()
        .flatten()
        .map(|cause| {
            let path = cause.field.clone().unwrap_or_default();
            Violation {
                at: root.nearest(&field_steps(&path)).at,
                path,
                message: cause.message.clone().unwrap_or_default(),
                reason: cause.reason.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// Each patch operation on the line of the field it changes (or its nearest parent).
fn place_patch(root: &Node, patch: json_patch::Patch) -> Vec<Located<json_patch::PatchOperation>> {
    patch
        .0
        .into_iter()
        .map(|operation| Located {
            at: root.nearest(&pointer_steps(operation.path().as_str())).at,
            item: operation,
        })
        .collect()
}

/// Each warning on the line of the field the policy says it is about (the
/// object's first line when none).
fn place_warnings(
    root: &Node,
    warnings: Vec<String>,
    fields: Vec<Option<String>>,
) -> Vec<PlacedWarning> {
    let mut fields = fields.into_iter();
    warnings
        .into_iter()
        .map(|message| PlacedWarning {
            at: match fields.next().flatten() {
                Some(field) => root.nearest(&field_steps(&field)).at,
                None => root.at,
            },
            message,
        })
        .collect()
}

/// Why Kueue would not manage `object` (the patched object), by the policy's own judgement.
fn unmanaged_reason(
    kind: RayKind,
    namespace: &str,
    object: &Value,
    policy: &Policy,
) -> Result<Option<String>, String> {
    let wire = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    let request = crate::policy::Request {
        operation: Operation::Create,
        kind: Some(kind),
        sub_resource: None,
        namespace: Some(namespace),
        object: wire,
        old_object: Default::default(),
    };
    crate::policy::unmanaged_reason(request, policy).map_err(|e| e.to_string())
}

/// The namespace the apiserver would create `object` in, written into its
/// metadata as the apiserver does before calling admission webhooks.
fn set_namespace(object: &mut Value, default: &str) -> String {
    let from_manifest = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned);
    let namespace = from_manifest.unwrap_or_else(|| default.to_owned());
    if let Some(map) = object.as_object_mut() {
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("namespace".to_owned(), Value::String(namespace.clone()));
        }
    }
    namespace
}

fn display_name(object: &Value) -> String {
    let field = |name| {
        object
            .pointer(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (field("/metadata/name"), field("/metadata/generateName")) {
        (Some(name), _) => name.to_owned(),
        (None, Some(prefix)) => format!("{prefix}*"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Document {
        let text = value.to_string();
        let mut found = None;
        super::super::yaml::read_stream::<()>(&text, Default::default(), 0, |_, node| {
            found = Some(node);
            Ok(())
        })
        .unwrap();
        let node = found.unwrap();
        Document {
            source: DocumentSource {
                file: "t.yaml".to_owned(),
                document: 0,
                items: Vec::new(),
                at: node.at,
            },
            node,
        }
    }

    #[test]
    fn other_kinds_are_skipped() {
        for value in [
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            json!({"apiVersion": "example.com/v1", "kind": "RayCluster"}),
            json!({"kind": "RayCluster"}),
            json!("just a string"),
            json!({"name": "values.yaml of some chart"}),
        ] {
            let checked =
                check_document(&doc(value.clone()), 0, "default", &Policy::default(), false)
                    .unwrap();
            assert!(matches!(checked, Checked::Skipped(_)), "{value}");
        }
    }

    #[test]
    fn the_review_is_a_create_in_the_manifest_namespace_or_the_default() {
        let mut object = json!({"metadata": {"name": "c"}});
        assert_eq!(set_namespace(&mut object, "team"), "team");
        assert_eq!(object["metadata"]["namespace"], "team");
        let mut object = json!({"metadata": {"name": "c", "namespace": "ml"}});
        assert_eq!(set_namespace(&mut object, "team"), "ml");
    }

    #[test]
    fn generated_names_are_shown_with_a_star() {
        let object = json!({"metadata": {"generateName": "rc-"}});
        assert_eq!(display_name(&object), "rc-*");
    }
}
