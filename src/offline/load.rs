//! Reading manifests: files, directories and standard input, as YAML or JSON
//! streams, with `List` objects unfolded into their items.
//!
//! Everything is read and parsed before any object is admitted, so a broken
//! document stops the run before a single verdict is printed.

use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The argument that stands for standard input.
pub const STDIN: &str = "-";

/// Where a document came from: `file#document` (0-based), plus the index in
/// `items` for an object unfolded from a `List`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The path as found (`-` for standard input).
    pub file: String,
    /// 0-based index of the document in the file's stream.
    pub document: usize,
    /// Index path into nested `List` items, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<usize>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.document)?;
        for item in &self.items {
            write!(f, ".items[{item}]")?;
        }
        Ok(())
    }
}

/// One parsed object (or any other non-empty document) and where it came from.
#[derive(Clone, Debug)]
pub struct Document {
    pub source: Source,
    pub value: Value,
}

/// Why the input could not be read; always names the file, and the document
/// when the file was readable.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {file}: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("cannot parse {file}, document {document}: {message}")]
    Parse {
        file: String,
        document: usize,
        message: String,
    },
}

/// Reads every path in order: `-` is standard input, a directory is walked
/// recursively (in name order) for `*.yaml`, `*.yml` and `*.json`, any other
/// path is read as a manifest whatever its name.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Document>, LoadError> {
    let mut documents = Vec::new();
    for path in paths {
        if path.as_os_str() == STDIN {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| LoadError::Read {
                    file: STDIN.to_owned(),
                    error,
                })?;
            parse_stream(STDIN, &text, &mut documents)?;
        } else {
            let metadata = std::fs::metadata(path).map_err(|error| read_error(path, error))?;
            if metadata.is_dir() {
                for file in manifest_files(path)? {
                    load_file(&file, &mut documents)?;
                }
            } else {
                load_file(path, &mut documents)?;
            }
        }
    }
    Ok(documents)
}

fn read_error(path: &Path, error: std::io::Error) -> LoadError {
    LoadError::Read {
        file: path.display().to_string(),
        error,
    }
}

fn load_file(path: &Path, documents: &mut Vec<Document>) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| read_error(path, error))?;
    parse_stream(&path.display().to_string(), &text, documents)
}

/// The manifest files under `dir`, sorted so that runs are reproducible.
/// Symbolic links to directories are not followed (no cycles).
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|error| read_error(&dir, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| read_error(&dir, error))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|error| read_error(&path, error))?;
            if file_type.is_dir() {
                pending.push(path);
            } else if is_manifest_name(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Parses one stream: JSON when it starts with `{` or `[` (like kubectl's
/// YAML-or-JSON decoder), YAML documents separated by `---` otherwise.
/// Empty documents are dropped; their indexes still count.
fn parse_stream(file: &str, text: &str, documents: &mut Vec<Document>) -> Result<(), LoadError> {
    let parse_error = |document: usize, message: String| LoadError::Parse {
        file: file.to_owned(),
        document,
        message,
    };
    let mut values = Vec::new();
    if text.trim_start().starts_with(['{', '[']) {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        for (index, value) in stream.enumerate() {
            values.push(value.map_err(|e| parse_error(index, e.to_string()))?);
        }
    } else {
        // The iterator repeats a syntax error forever: stop at the first one.
        for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            values.push(yaml_to_json(document).map_err(|e| parse_error(index, e))?);
        }
    }
    for (index, value) in values.into_iter().enumerate() {
        let source = Source {
            file: file.to_owned(),
            document: index,
            items: Vec::new(),
        };
        unfold(source, value, documents);
    }
    Ok(())
}

/// One YAML document as JSON, the way kubectl reads it: merge keys (`<<`)
/// applied, and numbers or booleans used as keys turned into strings.
fn yaml_to_json(document: serde_yaml_ng::Deserializer<'_>) -> Result<Value, String> {
    let mut yaml: serde_yaml_ng::Value =
        serde::Deserialize::deserialize(document).map_err(|e| e.to_string())?;
    yaml.apply_merge().map_err(|e| e.to_string())?;
    serde_json::to_value(yaml).map_err(|e| e.to_string())
}

/// Adds `value` to `documents`, replacing a `List` (any kind ending in `List`
/// with an `items` array, as kubectl does) by its items.
fn unfold(source: Source, value: Value, documents: &mut Vec<Document>) {
    if value.is_null() {
        return;
    }
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    match value {
        Value::Object(mut map) if is_list => {
            let Some(Value::Array(items)) = map.remove("items") else {
                return;
            };
            for (index, item) in items.into_iter().enumerate() {
                let mut source = source.clone();
                source.items.push(index);
                unfold(source, item, documents);
            }
        }
        value => documents.push(Document { source, value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Vec<Document>, LoadError> {
        let mut documents = Vec::new();
        parse_stream("m.yaml", text, &mut documents).map(|()| documents)
    }

    #[test]
    fn yaml_stream_skips_empty_documents_but_keeps_their_index() {
        let docs = parse("---\n# only a comment\n---\nkind: A\n---\n---\nkind: B\n").unwrap();
        let found: Vec<_> = docs
            .iter()
            .map(|d| (d.source.to_string(), d.value.clone()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("m.yaml#1".to_owned(), json!({"kind": "A"})),
                ("m.yaml#3".to_owned(), json!({"kind": "B"})),
            ]
        );
    }

    #[test]
    fn lists_are_unfolded_recursively() {
        let text = "kind: A\n---\napiVersion: v1\nkind: List\nitems:\n- kind: B\n- kind: List\n  items:\n  - kind: C\n";
        let docs = parse(text).unwrap();
        let sources: Vec<_> = docs.iter().map(|d| d.source.to_string()).collect();
        assert_eq!(
            sources,
            [
                "m.yaml#0",
                "m.yaml#1.items[0]",
                "m.yaml#1.items[1].items[0]"
            ]
        );
        assert_eq!(docs[2].value, json!({"kind": "C"}));
    }

    #[test]
    fn json_streams_are_read_as_json() {
        let docs =
            parse(" {\"kind\": \"A\", \"n\": 12345678901234567890}\n{\"kind\": \"B\"}").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].value["n"], json!(12345678901234567890u64));
    }

    #[test]
    fn syntax_errors_name_the_document() {
        let err = parse("kind: A\n---\nkind: [unclosed\n---\nkind: C\n").unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("cannot parse m.yaml, document 1: "),
            "{message}"
        );
        let err = parse("{\"kind\": \"A\"}\n{\"kind\": ").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot parse m.yaml, document 1: "),
            "{err}"
        );
    }

    #[test]
    fn merge_keys_and_non_string_keys_read_as_kubectl_reads_them() {
        let text = "defaults: &d {image: ray, replicas: 1}\nworker:\n  <<: *d\n  replicas: 2\nports: {8080: http, true: x}\n";
        let docs = parse(text).unwrap();
        assert_eq!(
            docs[0].value["worker"],
            json!({"image": "ray", "replicas": 2})
        );
        assert_eq!(docs[0].value["ports"], json!({"8080": "http", "true": "x"}));
    }

    #[test]
    fn empty_input_has_no_documents() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\n# nothing\n").unwrap().is_empty());
    }
}
