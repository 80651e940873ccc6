//! Writing YAML: objects as `kubectl get -o yaml` shows them (`--patched`).

use saphyr_parser::ScalarStyle;
use serde_json::Value;

/// `value` as one YAML document, as `kubectl get -o yaml` writes objects:
/// block style, keys in order, and every string that a YAML 1.1 reader
/// (kubectl's) would take for something else quoted (`"on"`, `"1e3"`,
/// `"null"`), so that reading it back gives `value` again. Numbers are
/// written as serde_json writes them (exact for 64-bit integers).
pub fn to_yaml(value: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut emitter = saphyr::YamlEmitter::new(&mut out);
    emitter.multiline(true);
    emitter.dump(&yaml_node(value)).map_err(|e| e.to_string())?;
    // The emitter starts with `---` (the caller frames documents) and ends without a line break.
    let mut text = out
        .strip_prefix("---\n")
        .or_else(|| out.strip_prefix("---"))
        .unwrap_or(&out)
        .trim_start_matches(' ')
        .to_owned();
    text.push('\n');
    Ok(text)
}

fn yaml_node(value: &Value) -> saphyr::Yaml<'_> {
    use saphyr::{Scalar, Yaml};
    use std::borrow::Cow;
    match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => {
            Yaml::Representation(Cow::Owned(n.to_string()), ScalarStyle::Plain, None)
        }
        Value::String(s) => Yaml::Value(Scalar::String(Cow::Borrowed(s))),
        Value::Array(items) => Yaml::Sequence(items.iter().map(yaml_node).collect()),
        Value::Object(map) => Yaml::Mapping(
            map.iter()
                .map(|(k, v)| (Yaml::Value(Scalar::String(Cow::Borrowed(k))), yaml_node(v)))
                .collect(),
        ),
    }
}
