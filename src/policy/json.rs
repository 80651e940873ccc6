//! Lenient, single-pass reading of the few fields the rules look at.
//!
//! Objects reach a mutating webhook before schema validation, so any field can
//! hold any JSON type. [`Field`] records what it found instead of failing the
//! whole parse: absent (or `null`), a value of the expected type, or the wrong
//! type (which the rules turn into a field error that names the path). Every
//! other field of the object is skipped by serde without being built.

use serde::de::{
    self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    value::{MapAccessDeserializer, SeqAccessDeserializer},
};
use std::fmt;
use std::marker::PhantomData;

/// A JSON type, as named in Kubernetes schema errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::Boolean => "boolean",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// Types a [`Field`] can hold, with the JSON type they are read from.
pub trait Expected {
    const TYPE: JsonType;
}

/// A boxed field has its content's type (large, rarely present views are
/// boxed so that the view stays small to move).
impl<T: Expected> Expected for Box<T> {
    const TYPE: JsonType = T::TYPE;
}

impl Expected for bool {
    const TYPE: JsonType = JsonType::Boolean;
}

impl Expected for String {
    const TYPE: JsonType = JsonType::String;
}

/// An integer field (`replicas`): a JSON number that is an integer; any
/// other number (`1.5`, one past `i64`) is the wrong type.
impl Expected for i64 {
    const TYPE: JsonType = JsonType::Number;
}

impl<T> Expected for Vec<T> {
    const TYPE: JsonType = JsonType::Array;
}

/// One field of an incoming object, read without trusting its type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Field<T> {
    /// Missing, or JSON `null` (the same thing to Kubernetes).
    #[default]
    Absent,
    Value(T),
    /// Present with another JSON type than `T`'s.
    Wrong(JsonType),
}

impl<T> Field<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de> + Expected> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<T: Expected> FieldVisitor<T> {
    fn expects(found: JsonType) -> bool {
        T::TYPE == found
    }
}

impl<'de, T: Deserialize<'de> + Expected> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Field::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        if Self::expects(JsonType::Boolean) {
            T::deserialize(de::value::BoolDeserializer::new(v)).map(Field::Value)
        } else {
            Ok(Field::Wrong(JsonType::Boolean))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if Self::expects(JsonType::Number) {
            // A number `T` cannot hold is of the wrong type, not a failed parse.
            let value = T::deserialize(de::value::I64Deserializer::<E>::new(v));
            Ok(value.map_or(Field::Wrong(JsonType::Number), Field::Value))
        } else {
            Ok(Field::Wrong(JsonType::Number))
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        if Self::expects(JsonType::Number) {
            let value = T::deserialize(de::value::U64Deserializer::<E>::new(v));
            Ok(value.map_or(Field::Wrong(JsonType::Number), Field::Value))
        } else {
            Ok(Field::Wrong(JsonType::Number))
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Field::Wrong(JsonType::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if Self::expects(JsonType::String) {
            T::deserialize(de::value::StrDeserializer::new(v)).map(Field::Value)
        } else {
            Ok(Field::Wrong(JsonType::String))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if Self::expects(JsonType::Array) {
            T::deserialize(SeqAccessDeserializer::new(seq)).map(Field::Value)
        } else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Field::Wrong(JsonType::Array))
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if Self::expects(JsonType::Object) {
            T::deserialize(MapAccessDeserializer::new(map)).map(Field::Value)
        } else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Field::Wrong(JsonType::Object))
        }
    }
}

/// The most items of one JSON array that are read: the rules look at the
/// first few (Kueue admits at most 8 PodSets); a longer array is counted,
/// the rest of it skipped unbuilt, so what is built does not follow the input.
pub const READ_ITEMS: usize = 1024;

/// A JSON array of which the first [`READ_ITEMS`] items are read and the rest
/// only counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstItems<T> {
    pub items: Vec<T>,
    /// The length of the whole array.
    pub len: usize,
}

impl<T> Default for FirstItems<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Expected for FirstItems<T> {
    const TYPE: JsonType = JsonType::Array;
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FirstItems<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(FirstItemsVisitor(PhantomData))
    }
}

struct FirstItemsVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstItemsVisitor<T> {
    type Value = FirstItems<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // The size hint comes from the input: never allocate by it.
        let mut list = FirstItems::default();
        while list.items.len() < READ_ITEMS {
            match seq.next_element::<T>()? {
                Some(item) => list.items.push(item),
                None => {
                    list.len = list.items.len();
                    return Ok(list);
                }
            }
        }
        list.len = list.items.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            list.len += 1;
        }
        Ok(list)
    }
}

/// Marks a `#[derive(Deserialize)]` struct as read from a JSON object.
macro_rules! json_object {
    ($($ty:ty),* $(,)?) => {
        $(impl $crate::policy::json::Expected for $ty {
            const TYPE: $crate::policy::json::JsonType = $crate::policy::json::JsonType::Object;
        })*
    };
}
pub(crate) use json_object;

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Doc {
        flag: Field<bool>,
        name: Field<String>,
        items: Field<Vec<Field<String>>>,
        nested: Field<Nested>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default)]
    struct Nested {
        flag: Field<bool>,
    }

    json_object!(Nested);

    fn parse(json: &str) -> Doc {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_values_of_the_expected_type() {
        let doc =
            parse(r#"{"flag":true,"name":"a\"b","items":["x",null,3],"nested":{"flag":false}}"#);
        assert_eq!(doc.flag, Field::Value(true));
        assert_eq!(doc.name, Field::Value("a\"b".to_string()));
        assert_eq!(
            doc.items,
            Field::Value(vec![
                Field::Value("x".into()),
                Field::Absent,
                Field::Wrong(JsonType::Number)
            ])
        );
        assert_eq!(doc.nested.value().unwrap().flag, Field::Value(false));
    }

    #[test]
    fn long_arrays_are_counted_past_the_items_read() {
        let json = format!("[{}\"last\"]", "\"x\",".repeat(READ_ITEMS + 10));
        let list: Field<FirstItems<Field<String>>> = serde_json::from_str(&json).unwrap();
        let list = list.value().unwrap();
        assert_eq!(list.len, READ_ITEMS + 11);
        assert_eq!(list.items.len(), READ_ITEMS);
        let list: FirstItems<Field<String>> = serde_json::from_str(r#"["a",1]"#).unwrap();
        assert_eq!(list.len, 2);
        assert_eq!(
            list.items,
            [Field::Value("a".into()), Field::Wrong(JsonType::Number)]
        );
    }

    #[test]
    fn null_and_missing_are_absent() {
        assert_eq!(parse(r#"{"flag":null}"#), Doc::default());
        assert_eq!(parse("{}"), Doc::default());
    }

    #[test]
    fn wrong_types_are_recorded_and_skipped() {
        let doc = parse(
            r#"{"flag":"yes","name":{"deep":[1,{"x":[]}]},"items":{"a":1},"nested":[true],"other":{"z":1}}"#,
        );
        assert_eq!(doc.flag, Field::Wrong(JsonType::String));
        assert_eq!(doc.name, Field::Wrong(JsonType::Object));
        assert_eq!(doc.items, Field::Wrong(JsonType::Object));
        assert_eq!(doc.nested, Field::Wrong(JsonType::Array));
        let doc = parse(r#"{"flag":1.5,"name":false,"nested":-3}"#);
        assert_eq!(doc.flag, Field::Wrong(JsonType::Number));
        assert_eq!(doc.name, Field::Wrong(JsonType::Boolean));
        assert_eq!(doc.nested, Field::Wrong(JsonType::Number));
    }
}
