//! JSON inside an annotation, read as Go's `encoding/json` reads it into
//! Kueue's structs.

use serde_json::{Map, Value};

/// The value of the struct field whose JSON name is `name`: the key spelled
/// so, else one equal to it under Go's case folding (which also folds `ſ` to
/// `s` and the Kelvin sign to `k`). Go lets the last of two such keys win;
/// a JSON object here keeps no order, so the exact spelling wins, then the
/// first in key order: a difference only for an object that spells one key
/// twice in two cases.
pub fn go_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).or_else(|| {
        fields
            .iter()
            .find(|(key, _)| folds_to(key, name))
            .map(|(_, value)| value)
    })
}

fn folds_to(key: &str, name: &str) -> bool {
    let fold = |c: char| match c {
        '\u{017F}' => 's',
        '\u{212A}' => 'k',
        c => c.to_ascii_lowercase(),
    };
    key.chars().map(fold).eq(name.chars().map(fold))
}

/// The JSON type of `value`, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A string as Go decodes it into a `string` field: `null` is empty.
pub fn go_string(value: Option<&Value>, what: &str) -> Result<String, String> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("{what} is a JSON {}, not a string", kind(other))),
    }
}

/// The items of a JSON array field as Go decodes it into a slice: absent or
/// `null` is none.
pub fn go_array<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a [Value], String> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(format!("{what} is a JSON {}, not an array", kind(other))),
    }
}

/// The fields of an object item as Go decodes it into a struct: `null` is
/// the zero value (no fields).
pub fn go_object<'a>(
    value: &'a Value,
    empty: &'a Map<String, Value>,
    what: &str,
) -> Result<&'a Map<String, Value>, String> {
    match value {
        Value::Null => Ok(empty),
        Value::Object(fields) => Ok(fields),
        other => Err(format!("{what} is a JSON {}, not an object", kind(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_as_go_folds_them() {
        let fields: Map<String, Value> =
            serde_json::from_str(r#"{"SIZE": 1, "Topology": "a", "ſkip": 2}"#).unwrap();
        assert_eq!(go_field(&fields, "size"), Some(&Value::from(1)));
        assert_eq!(go_field(&fields, "topology"), Some(&Value::from("a")));
        assert_eq!(go_field(&fields, "skip"), Some(&Value::from(2)));
        assert_eq!(go_field(&fields, "siz"), None);
    }
}
