//! The AdmissionReview request kube-apiserver sends, built in one place for
//! `check` (which admits manifests through [`review`](super::review)), the
//! tests and the benchmarks.

use super::{API_VERSION, REVIEW_KIND};
use crate::policy::{Operation, RAY_GROUP, RayKind, operation_name};
use serde_json::{Value, json};

/// One AdmissionReview request, as the API server would send it; fill in what
/// differs from [`ReviewRequest::new`] and call [`ReviewRequest::to_json`].
#[derive(Clone, Debug)]
pub struct ReviewRequest<'a> {
    pub uid: &'a str,
    pub kind: RayKind,
    /// The `ray.io` version of the object (`v1`, `v1alpha1`).
    pub version: &'a str,
    pub operation: Operation,
    pub namespace: &'a str,
    /// `request.object` (`null` on DELETE).
    pub object: Option<&'a Value>,
    /// `request.oldObject` (UPDATE and DELETE).
    pub old_object: Option<&'a Value>,
    /// A server-side dry run (`kubectl … --dry-run=server`).
    pub dry_run: bool,
    pub username: &'a str,
}

impl<'a> ReviewRequest<'a> {
    /// A `v1` request in namespace `default`, not a dry run.
    pub fn new(kind: RayKind, operation: Operation, object: Option<&'a Value>) -> Self {
        Self {
            uid: "kueue-ray-webhook-review",
            kind,
            version: "v1",
            operation,
            namespace: "default",
            object,
            old_object: None,
            dry_run: false,
            username: "kueue-ray-webhook",
        }
    }

    /// The whole review. `request.name` is the object's `metadata.name`
    /// (the API server leaves it out for `generateName`).
    pub fn to_json(&self) -> Value {
        let gvk = json!({"group": RAY_GROUP, "version": self.version, "kind": self.kind.as_str()});
        let gvr =
            json!({"group": RAY_GROUP, "version": self.version, "resource": self.kind.plural()});
        let options_kind = match self.operation {
            Operation::Create => "CreateOptions",
            Operation::Update => "UpdateOptions",
            Operation::Delete => "DeleteOptions",
            Operation::Connect => "ConnectOptions",
        };
        let options = if self.dry_run {
            json!({"apiVersion": "meta.k8s.io/v1", "kind": options_kind, "dryRun": ["All"]})
        } else {
            json!({"apiVersion": "meta.k8s.io/v1", "kind": options_kind})
        };
        let mut request = json!({
            "uid": self.uid,
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "namespace": self.namespace,
            "operation": operation_name(&self.operation),
            "userInfo": {"username": self.username},
            "object": self.object,
            "oldObject": self.old_object,
            "dryRun": self.dry_run,
            "options": options,
        });
        let name = self
            .object
            .or(self.old_object)
            .and_then(|object| object.pointer("/metadata/name"))
            .and_then(Value::as_str);
        if let (Some(name), Some(request)) = (name, request.as_object_mut()) {
            request.insert("name".to_owned(), Value::String(name.to_owned()));
        }
        json!({"apiVersion": API_VERSION, "kind": REVIEW_KIND, "request": request})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_create_names_the_object_and_its_resource() {
        let object = json!({"metadata": {"name": "c"}});
        let review = ReviewRequest {
            namespace: "ml",
            dry_run: true,
            ..ReviewRequest::new(RayKind::RayService, Operation::Create, Some(&object))
        }
        .to_json();
        let request = &review["request"];
        assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(request["operation"], "CREATE");
        assert_eq!(request["name"], "c");
        assert_eq!(request["namespace"], "ml");
        assert_eq!(
            request["resource"],
            json!({"group": "ray.io", "version": "v1", "resource": "rayservices"})
        );
        assert_eq!(request["kind"]["kind"], "RayService");
        assert_eq!(request["options"]["kind"], "CreateOptions");
        assert_eq!(request["options"]["dryRun"], json!(["All"]));
    }

    #[test]
    fn generated_names_are_not_sent() {
        let object = json!({"metadata": {"generateName": "rc-"}});
        let review =
            ReviewRequest::new(RayKind::RayCluster, Operation::Create, Some(&object)).to_json();
        assert!(review["request"].get("name").is_none());
    }
}
