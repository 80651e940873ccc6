//! Plain scalars resolved as go-yaml resolves them (YAML 1.1 booleans,
//! integers in three radixes, floats), and core-schema tags honoured.

use saphyr_parser::{ScalarStyle, Tag};
use serde_json::{Number, Value};

/// A scalar's value: quoted and block scalars are strings; plain ones are
/// null, booleans or numbers by go-yaml's rules, else strings. Core-schema
/// tags are honoured (`!!str 1` is a string); any other tag leaves a string.
pub(super) fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let string = || Value::String(text.to_owned());
    match tag {
        Some(tag) if tag.is_yaml_core_schema() => match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => return string(),
            "null" | "bool" | "int" | "float" => return resolve_plain(text),
            _ => {}
        },
        Some(_) => return string(),
        None => {}
    }
    if style == ScalarStyle::Plain {
        resolve_plain(text)
    } else {
        string()
    }
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    if let Some(number) = integer(text) {
        return number;
    }
    let looks_numeric = text
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if looks_numeric
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
        && let Ok(float) = text.parse::<f64>()
        && let Some(number) = Number::from_f64(float)
    {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

fn integer(text: &str) -> Option<Value> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(octal) = digits.strip_prefix("0o") {
        (8, octal)
    } else if let Some(octal) = digits.strip_prefix('0').filter(|rest| !rest.is_empty()) {
        // YAML 1.1's octal, which go-yaml (so kubectl) reads: `defaultMode:
        // 0777` is 511, as the API server stores it (KubeRay's samples).
        (8, octal)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = i64::try_from(magnitude).ok()?.checked_neg()?;
        Some(Value::from(value))
    } else {
        Some(Value::from(magnitude))
    }
}
