//! Whether a RayCluster's controller owner really created it. The API
//! server does not check a controller reference, so a cluster that names a
//! RayJob it was not created for would run outside the quota; with a
//! cluster view that can check it, such a cluster is top-level.

use super::cluster::{Claim, Cluster, OwnerRead};
use super::errors::echoed;
use super::kinds::RayKind;
use super::ray::{Owner, RayObject};
use super::warning::Warning;

/// The field the owner warnings are about.
pub const OWNER_FIELD: &str = "metadata.ownerReferences";

/// Checks a child RayCluster's owner on CREATE: a disowned cluster becomes
/// top-level (with a warning that says why), an unchecked one stays a child
/// (with a warning when the check failed). Returns the owner to read from
/// the API server when the view has not got it.
pub fn verify(
    obj: &mut RayObject,
    namespace: Option<&str>,
    cluster: &dyn Cluster,
    warnings: &mut Vec<Warning>,
) -> Option<OwnerRead> {
    if obj.kind != RayKind::RayCluster || obj.owner == Owner::TopLevel {
        return None;
    }
    let (Some(controller), Some(namespace)) = (&obj.controller, namespace) else {
        return None;
    };
    // A cluster named only by generateName has no name an owner could record.
    let name = obj
        .name
        .as_deref()
        .filter(|_| obj.named)
        .unwrap_or_default();
    let owner = format!(
        "{} {:?}",
        controller.kind.as_str(),
        echoed(&controller.name)
    );
    match cluster.claim(namespace, controller, name) {
        Claim::Claimed | Claim::Unknown => None,
        Claim::Miss => Some(OwnerRead {
            namespace: namespace.to_owned(),
            controller: controller.clone(),
        }),
        Claim::Trusted(why) => {
            let message = format!(
                "{OWNER_FIELD}: could not check that the controller {owner} created this \
                 RayCluster ({why}): its reference was trusted"
            );
            warnings.push(Warning::on(OWNER_FIELD.to_owned(), message));
            None
        }
        Claim::Disowned(why) => {
            obj.owner = Owner::TopLevel;
            let message = format!(
                "{OWNER_FIELD}: the controller {owner} {why}: this RayCluster is not its child, \
                 so it is a workload of its own (suspended and validated as any RayCluster)"
            );
            warnings.push(Warning::on(OWNER_FIELD.to_owned(), message));
            None
        }
    }
}
