//! [`SLICE_LAYERS`]: up to three slice layers, outermost first, as a JSON
//! array of `{"topology": level, "size": pods}` (Kueue v0.17, #9506; Kueue
//! `tas_validation.go`, `validateSliceRequiredTopologyConstraintsAnnotation`
//! and `ValidateSliceSizeAnnotationUpperBound`; `tas.go`, `Build`).

use super::go_json::{go_field, go_object, go_string, kind};
use super::{
    GROUP_NAME, Rules, SLICE_LAYERS, SLICE_REQUIRED, SLICE_SIZE, SliceLayers, Topology, error,
};
use crate::policy::errors::{ErrorKind, quoted};
use crate::policy::names::qualified_name;
use crate::policy::violations::Violations;
use serde_json::Value;

/// The most layers Kueue takes (`errTopologyConstraintsLayerCount`).
pub const MAX_LAYERS: usize = 3;

/// One layer, as Go decodes it into `PodsetSliceRequiredTopologyConstraint`
/// (a missing or `null` field is the zero value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layer {
    pub topology: String,
    pub size: i32,
}

/// The layers of one annotation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layers(pub Vec<Layer>);

impl Layers {
    /// Kueue takes 1 to [`MAX_LAYERS`] layers.
    pub fn counted(&self) -> bool {
        (1..=MAX_LAYERS).contains(&self.0.len())
    }
}

/// The annotation as Go's `json.Unmarshal` reads it into a slice of layers:
/// `null` is no layers; an item `null` is a zero layer; keys match in any
/// case; a size must be an integer that fits 32 bits.
pub fn parse(text: &str) -> Result<Layers, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let items = match value {
        Value::Null => return Ok(Layers::default()),
        Value::Array(items) => items,
        other => return Err(format!("a JSON {} is not an array", kind(&other))),
    };
    let mut layers = Vec::with_capacity(items.len().min(MAX_LAYERS + 1));
    for item in items {
        let empty = serde_json::Map::new();
        let fields = go_object(&item, &empty, "a layer")?;
        let mut layer = Layer {
            topology: go_string(go_field(fields, "topology"), "topology")?,
            size: 0,
        };
        match go_field(fields, "size") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                layer.size = n
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| format!("size {n} is not a 32-bit integer"))?;
            }
            Some(other) => return Err(format!("size is a JSON {}, not a number", kind(other))),
        }
        layers.push(layer);
    }
    Ok(Layers(layers))
}

/// The annotation's own errors, as the release treats it.
pub fn validate(t: &Topology, at: &dyn Fn(&str) -> String, rules: Rules, errors: &mut Violations) {
    let Some(text) = &t.slice_layers else {
        return;
    };
    match rules.slice_layers {
        SliceLayers::Unknown => return,
        SliceLayers::Gated => {
            let detail = format!(
                "needs Kueue's TASMultiLayerTopology feature gate, Alpha and off in this release \
                 (Beta and on from v0.19): use {SLICE_REQUIRED} and {SLICE_SIZE} instead"
            );
            errors.push(error(at(SLICE_LAYERS), ErrorKind::Forbidden, None, detail));
            return;
        }
        SliceLayers::Checked => {}
    }
    for (other, present) in [
        (SLICE_REQUIRED, t.slice_required.is_some()),
        (SLICE_SIZE, t.slice_size.is_some()),
    ] {
        if present {
            let detail = format!("may not be set together with {other}: keep one of the two forms");
            errors.push(error(at(SLICE_LAYERS), ErrorKind::Forbidden, None, detail));
        }
    }
    if t.group_name.is_some() && !rules.grouped_slicing {
        let detail = format!(
            "may not be set together with {SLICE_LAYERS}: this Kueue release does not slice a \
             grouped PodSet (v0.20 does)"
        );
        errors.push(error(at(GROUP_NAME), ErrorKind::Forbidden, None, detail));
    }
    let layers = match parse(text) {
        Ok(layers) => layers,
        Err(why) => {
            let detail = format!(
                "must be a JSON array of {{\"topology\": <node label>, \"size\": <pods>}}, \
                 outermost layer first: {why}"
            );
            errors.push(error(
                at(SLICE_LAYERS),
                ErrorKind::Invalid,
                Some(quoted(text)),
                detail,
            ));
            return;
        }
    };
    if !layers.counted() {
        let detail = format!("must list 1 to {MAX_LAYERS} layers, got {}", layers.0.len());
        errors.push(error(
            at(SLICE_LAYERS),
            ErrorKind::Invalid,
            Some(quoted(text)),
            detail,
        ));
        return;
    }
    let item = |i: usize, field: &str| format!("{}[{i}].{field}", at(SLICE_LAYERS));
    for (i, layer) in layers.0.iter().enumerate() {
        if let Err(why) = qualified_name(&layer.topology) {
            let detail = format!("must name a node label (a topology level): {why}");
            let value = Some(quoted(&layer.topology));
            errors.push(error(
                item(i, "topology"),
                ErrorKind::Invalid,
                value,
                detail,
            ));
        }
        if layer.size < 1 {
            let detail = "must be at least 1".to_string();
            let value = Some(layer.size.to_string());
            errors.push(error(item(i, "size"), ErrorKind::Invalid, value, detail));
        }
    }
    for (i, layer) in layers.0.iter().enumerate() {
        let earlier = layers.0.iter().take(i);
        if let Some(j) = earlier
            .into_iter()
            .position(|l| l.topology == layer.topology)
        {
            let detail = format!("also the level of layer {j}: each layer needs its own level");
            let value = Some(quoted(&layer.topology));
            errors.push(error(
                item(i, "topology"),
                ErrorKind::Duplicate,
                value,
                detail,
            ));
        }
    }
    for (i, pair) in layers.0.windows(2).enumerate() {
        if let [outer, inner] = pair
            && inner.size > 0
            && outer.size % inner.size != 0
        {
            let detail = format!(
                "must evenly divide the size {} of the layer above",
                outer.size
            );
            let value = Some(inner.size.to_string());
            errors.push(error(
                item(i + 1, "size"),
                ErrorKind::Invalid,
                value,
                detail,
            ));
        }
    }
}

/// The outermost layer against the PodSet's pod count: never more, and with
/// partial slices (v0.20) a divisor when there is more than one layer.
pub fn fit(
    text: &str,
    pods: i32,
    at: &dyn Fn(&str) -> String,
    rules: Rules,
    errors: &mut Violations,
) {
    let Ok(layers) = parse(text) else {
        return;
    };
    let Some(outer) = layers.0.first() else {
        return;
    };
    let detail = if outer.size > pods {
        format!(
            "the outermost size {} must not be greater than the PodSet's pod count {pods} ({})",
            outer.size,
            super::count_words()
        )
    } else if rules.partial_slices && layers.0.len() > 1 && outer.size > 0 && pods % outer.size != 0
    {
        format!(
            "the outermost size {} must evenly divide the PodSet's pod count {pods} when more than \
             one layer is given (only a single layer may leave a partial last slice)",
            outer.size
        )
    } else {
        return;
    };
    let value = Some(outer.size.to_string());
    errors.push(error(at(SLICE_LAYERS), ErrorKind::Invalid, value, detail));
}
