//! [`SPREADING`]: how many workloads one topology domain may hold (Kueue
//! v0.20, #14820, Alpha gate `TASTopologySpreading`). Kueue
//! `pkg/controller/jobframework/tas_validation.go`
//! (`validateTopologySpreadingAnnotation`, `validateSpreadingSelectors`) and
//! `pkg/util/tas` (`ParseSpreadingAnnotation`). The value is a JSON object:
//!
//! ```json
//! {"workloadLabelSelectors": [{"key": "app", "operator": "In", "values": ["infer"]}],
//!  "rules": [{"topologyKey": "topology.kubernetes.io/zone",
//!             "maxShareAllowingPlacement": "0.45", "enforcementMode": "Required"}]}
//! ```
//!
//! An omitted selector is accepted: Kueue's merged revision defaults it to
//! the workload's own job (`kueue.x-k8s.io/job-uid`); an earlier revision of
//! the same pull request required one (docs/policy.md).

use super::go_json::{go_array, go_field, go_object, go_string, kind};
use super::quantity::is_share;
use super::{REQUIRED, SPREADING, Topology, error};
use crate::policy::errors::{ErrorKind, quoted};
use crate::policy::names::{label_value, qualified_name};
use crate::policy::violations::Violations;
use serde_json::{Map, Value};

/// Kueue's bounds: 1 to 2 rules, at most 1 selector requirement (Alpha).
const MAX_RULES: usize = 2;
const MAX_SELECTORS: usize = 1;
/// The enforcement modes Kueue knows; an absent one is `Required`.
const MODES: [&str; 2] = ["Required", "Preferred"];

/// One `workloadLabelSelectors` requirement (`metav1.LabelSelectorRequirement`).
#[derive(Debug, Default)]
struct Requirement {
    key: String,
    operator: String,
    values: Vec<String>,
}

/// One rule; `share` says whether `maxShareAllowingPlacement` is in (0, 1).
#[derive(Debug, Default)]
struct SpreadRule {
    topology_key: String,
    share: String,
    share_inside: bool,
    mode: String,
}

#[derive(Debug, Default)]
struct Spec {
    selectors: Vec<Requirement>,
    rules: Vec<SpreadRule>,
}

/// The annotation as Go's `json.Unmarshal` reads it into Kueue's
/// `SpreadingSpec` (`null` is the zero spec; keys match in any case).
fn parse(text: &str) -> Result<Spec, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let empty = Map::new();
    let fields = go_object(&value, &empty, "the annotation")?;
    let mut spec = Spec::default();
    let selectors = go_array(
        go_field(fields, "workloadLabelSelectors"),
        "workloadLabelSelectors",
    )?;
    for item in selectors {
        let fields = go_object(item, &empty, "a workloadLabelSelectors item")?;
        let mut values = Vec::new();
        for value in go_array(go_field(fields, "values"), "values")? {
            values.push(go_string(Some(value), "a value")?);
        }
        spec.selectors.push(Requirement {
            key: go_string(go_field(fields, "key"), "key")?,
            operator: go_string(go_field(fields, "operator"), "operator")?,
            values,
        });
    }
    for item in go_array(go_field(fields, "rules"), "rules")? {
        let fields = go_object(item, &empty, "a rule")?;
        // `resource.Quantity.UnmarshalJSON`: a string (trimmed) or a bare
        // number; `null` or absent is zero.
        let share = match go_field(fields, "maxShareAllowingPlacement") {
            None | Some(Value::Null) => "0".to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(format!(
                    "maxShareAllowingPlacement is a JSON {}, not a quantity",
                    kind(other)
                ));
            }
        };
        let share_inside = is_share(&share)?;
        let mode = go_string(go_field(fields, "enforcementMode"), "enforcementMode")?;
        spec.rules.push(SpreadRule {
            topology_key: go_string(go_field(fields, "topologyKey"), "topologyKey")?,
            share,
            share_inside,
            mode: if mode.is_empty() {
                "Required".into()
            } else {
                mode
            },
        });
    }
    Ok(spec)
}

/// Why the selector would not compile (`metav1.LabelSelectorAsSelector`).
fn compiles(selectors: &[Requirement]) -> Result<(), String> {
    for r in selectors {
        qualified_name(&r.key).map_err(|why| format!("key {}: {why}", quoted(&r.key)))?;
        match r.operator.as_str() {
            "In" | "NotIn" if r.values.is_empty() => {
                return Err(format!("operator {} needs at least one value", r.operator));
            }
            "Exists" | "DoesNotExist" if !r.values.is_empty() => {
                return Err(format!("operator {} takes no values", r.operator));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(format!(
                    "{} is not a label selector operator",
                    quoted(other)
                ));
            }
        }
        for value in &r.values {
            label_value(value).map_err(|why| format!("value {}: {why}", quoted(value)))?;
        }
    }
    Ok(())
}

/// The annotation's errors; only called when the gate is on.
pub fn validate(t: &Topology, at: &dyn Fn(&str) -> String, errors: &mut Violations) {
    let Some(text) = &t.spreading else {
        return;
    };
    let path = at(SPREADING);
    if t.required.is_none() {
        let detail = format!(
            "may only be set together with {REQUIRED}: spreading counts a group in one domain per \
             level, which only a required level guarantees"
        );
        errors.push(error(path, ErrorKind::Forbidden, None, detail));
        return;
    }
    let spec = match parse(text) {
        Ok(spec) => spec,
        Err(why) => {
            let detail = format!(
                "must be a JSON object {{\"workloadLabelSelectors\": [...], \"rules\": \
                 [{{\"topologyKey\": <node label>, \"maxShareAllowingPlacement\": <0 < share < \
                 1>}}]}}: {why}"
            );
            errors.push(error(path, ErrorKind::Invalid, Some(quoted(text)), detail));
            return;
        }
    };
    if !(1..=MAX_RULES).contains(&spec.rules.len()) {
        let detail = format!("must list 1 to {MAX_RULES} rules, got {}", spec.rules.len());
        errors.push(error(path, ErrorKind::Invalid, Some(quoted(text)), detail));
        return;
    }
    let selectors = format!("{path}.workloadLabelSelectors");
    if let Err(why) = compiles(&spec.selectors) {
        let detail = format!("must be a valid label selector: {why}");
        errors.push(error(
            selectors,
            ErrorKind::Invalid,
            Some(quoted(text)),
            detail,
        ));
        return;
    }
    if spec.selectors.len() > MAX_SELECTORS {
        let detail = format!(
            "must have at most {MAX_SELECTORS} item (one \"In\" requirement while the gate is Alpha)"
        );
        let value = Some(spec.selectors.len().to_string());
        errors.push(error(selectors.clone(), ErrorKind::TooMany, value, detail));
    }
    for (i, r) in spec.selectors.iter().enumerate() {
        if r.operator != "In" {
            let detail = "supported values: \"In\"".to_string();
            let at = format!("{selectors}[{i}].operator");
            errors.push(error(
                at,
                ErrorKind::NotSupported,
                Some(quoted(&r.operator)),
                detail,
            ));
        }
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        let item = |field: &str| format!("{path}.rules[{i}].{field}");
        if let Err(why) = qualified_name(&rule.topology_key) {
            let detail = format!("must name a node label (a topology level): {why}");
            let value = Some(quoted(&rule.topology_key));
            errors.push(error(
                item("topologyKey"),
                ErrorKind::Invalid,
                value,
                detail,
            ));
        }
        if !rule.share_inside {
            let detail = "must be greater than 0 and less than 1 (a share, e.g. \"0.45\")".into();
            let value = Some(quoted(&rule.share));
            let at = item("maxShareAllowingPlacement");
            errors.push(error(at, ErrorKind::Invalid, value, detail));
        }
        if !MODES.contains(&rule.mode.as_str()) {
            let detail = "supported values: \"Required\", \"Preferred\"".to_string();
            let value = Some(quoted(&rule.mode));
            errors.push(error(
                item("enforcementMode"),
                ErrorKind::NotSupported,
                value,
                detail,
            ));
        }
        let earlier = spec.rules.iter().take(i);
        if let Some(j) = earlier
            .into_iter()
            .position(|r| r.topology_key == rule.topology_key)
        {
            let detail = format!("also the level of rule {j}: one rule per level");
            let value = Some(quoted(&rule.topology_key));
            errors.push(error(
                item("topologyKey"),
                ErrorKind::Duplicate,
                value,
                detail,
            ));
        }
    }
}
