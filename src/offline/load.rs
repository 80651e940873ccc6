//! Reading manifests: files, directories and standard input, as YAML or JSON
//! streams, with `List` objects unfolded into their items.
//!
//! Documents are handed on one at a time as they are parsed, so memory holds
//! one file's text and one document, never every object of a run. A broken
//! document still stops the run before anything is printed: the reports are
//! written only at the end.

use super::yaml::{self, Content, Node, Offset, Position, StreamError};
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The argument that stands for standard input.
pub const STDIN: &str = "-";
/// Largest file (or standard input) `check` reads, unless `--max-file-size` says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 32 << 20;

/// Where a document came from: `file#document` (0-based), plus the index in
/// `items` for an object unfolded from a `List`, and where it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The path as found (`-` for standard input).
    pub file: String,
    /// 0-based index of the document in the file's stream.
    pub document: usize,
    /// Index path into nested `List` items, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<usize>,
    /// Where the object starts in the file.
    #[serde(flatten)]
    pub at: Position,
}

impl Source {
    /// `file:line:column` of a position in this document's file.
    pub fn locate(&self, at: Position) -> String {
        format!("{}:{at}", self.file)
    }
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
    pub node: Node,
}

/// Why the input could not be read; always names the file, and the document
/// and line when the file was readable.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {file}: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("{file} is {what}, not a regular file or directory: refused, not read")]
    NotRegular { file: String, what: &'static str },
    #[error("{file} is larger than {limit} bytes (--max-file-size)")]
    TooLarge { file: String, limit: u64 },
    #[error("{file} is not UTF-8 text")]
    NotText { file: String },
    #[error("cannot parse {file}:{at}, document {document}: {message}")]
    Parse {
        file: String,
        document: usize,
        at: Position,
        message: String,
    },
    /// The caller stopped at a document.
    #[error("{0}")]
    Stopped(String),
}

/// One input: a file found, or standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// Resolves the command line's paths into the files to read, in order: `-`
/// is standard input; a directory is walked recursively in name order for
/// `*.yaml`, `*.yml` and `*.json`, following symbolic links (each real
/// directory once, so link loops end); any other path is read as a manifest
/// whatever its name. FIFOs, devices and sockets are refused, never opened.
pub fn inputs(paths: &[PathBuf]) -> Result<Vec<Input>, LoadError> {
    let mut found = Vec::new();
    let mut visited = HashSet::new();
    for path in paths {
        if path.as_os_str() == STDIN {
            found.push(Input::Stdin);
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|error| read_error(path, error))?;
        if metadata.is_dir() {
            walk(path, &mut visited, &mut found)?;
        } else {
            check_regular(path, &metadata)?;
            found.push(Input::File(path.clone()));
        }
    }
    Ok(found)
}

fn walk(
    dir: &Path,
    visited: &mut HashSet<PathBuf>,
    found: &mut Vec<Input>,
) -> Result<(), LoadError> {
    let real = std::fs::canonicalize(dir).map_err(|error| read_error(dir, error))?;
    if !visited.insert(real) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|error| read_error(dir, error))? {
        entries.push(entry.map_err(|error| read_error(dir, error))?.path());
    }
    entries.sort();
    for path in entries {
        // Follows symbolic links; a dangling one is an error only where a manifest was meant.
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(_) if !is_manifest_name(&path) => continue,
            Err(error) => return Err(read_error(&path, error)),
        };
        if metadata.is_dir() {
            walk(&path, visited, found)?;
        } else {
            check_regular(&path, &metadata)?;
            if is_manifest_name(&path) {
                found.push(Input::File(path));
            }
        }
    }
    Ok(())
}

fn check_regular(path: &Path, metadata: &std::fs::Metadata) -> Result<(), LoadError> {
    use std::os::unix::fs::FileTypeExt;
    let file_type = metadata.file_type();
    let what = if file_type.is_file() {
        return Ok(());
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "a device"
    } else {
        "a special file"
    };
    Err(LoadError::NotRegular {
        file: path.display().to_string(),
        what,
    })
}

fn read_error(path: &Path, error: std::io::Error) -> LoadError {
    LoadError::Read {
        file: path.display().to_string(),
        error,
    }
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Reads one input whole, refusing more than `max_size` bytes.
pub fn read_input(input: &Input, max_size: u64) -> Result<(String, String), LoadError> {
    let (name, reader): (String, Box<dyn Read>) = match input {
        Input::Stdin => (STDIN.to_owned(), Box::new(std::io::stdin())),
        Input::File(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            // Non-blocking, and checked on the handle: a FIFO swapped in after
            // `inputs` looked is refused here, not waited on.
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
                .map_err(|error| read_error(path, error))?;
            let metadata = file.metadata().map_err(|error| read_error(path, error))?;
            check_regular(path, &metadata)?;
            (path.display().to_string(), Box::new(file))
        }
    };
    let mut bytes = Vec::new();
    reader
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|error| LoadError::Read {
            file: name.clone(),
            error,
        })?;
    if bytes.len() as u64 > max_size {
        return Err(LoadError::TooLarge {
            file: name,
            limit: max_size,
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText { file: name.clone() })?;
    Ok((name, text))
}

/// Parses one stream and calls `each` for every non-empty document (and
/// every item of a `List`), in order. JSON when it starts with `{` or `[`
/// (like kubectl's YAML-or-JSON decoder; serde_json only finds where each
/// concatenated document ends, the YAML reader reads it), YAML documents
/// separated by `---` otherwise. Empty documents still count in the indexes.
pub fn parse_stream(
    file: &str,
    text: &str,
    mut each: impl FnMut(Document) -> Result<(), String>,
) -> Result<(), LoadError> {
    let mut deliver = |document: usize, node: Node| -> Result<(), String> {
        let source = Source {
            file: file.to_owned(),
            document,
            items: Vec::new(),
            at: node.at,
        };
        unfold(source, node, &mut each)
    };
    let parse_error = |error: StreamError<String>| match error {
        StreamError::Syntax(error) => LoadError::Parse {
            file: file.to_owned(),
            document: error.document,
            at: error.at,
            message: error.message,
        },
        StreamError::Stopped(message) => LoadError::Stopped(message),
    };
    let body = text.trim_start_matches('\u{feff}');
    if !body.trim_start().starts_with(['{', '[']) {
        return yaml::read_stream(text, Offset::default(), 0, &mut deliver).map_err(parse_error);
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    let mut index = 0;
    while let Some(next) = stream.next() {
        next.map_err(|e| LoadError::Parse {
            file: file.to_owned(),
            document: index,
            at: Position {
                line: e.line(),
                column: e.column(),
            },
            message: e.to_string(),
        })?;
        let end = stream.byte_offset();
        let slice = surrogate_pairs_as_yaml(text.get(start..end).unwrap_or_default());
        yaml::read_stream(&slice, offset_of(text, start), index, |_, node| {
            deliver(index, node)
        })
        .map_err(parse_error)?;
        start = end;
        index += 1;
    }
    Ok(())
}

/// JSON text as YAML reads it: JSON writes a character beyond the BMP as a
/// surrogate pair (`\ud83d\ude00`, Python's `json.dumps` does), which YAML
/// forbids; it becomes the one escape YAML has for it (`\U0001f600`). The
/// value is the same; a node after it on the same line is reported 2 columns
/// early per pair. Anything else, including lone surrogates, is left for the
/// reader to refuse.
fn surrogate_pairs_as_yaml(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains("\\u") {
        return std::borrow::Cow::Borrowed(json);
    }
    let hex = |s: &str| {
        s.get(..4)
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(at) = rest.find('\\') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let escape = rest.get(at..).unwrap_or_default();
        let high = escape.strip_prefix("\\u").and_then(hex);
        let low = escape
            .get(6..)
            .and_then(|s| s.strip_prefix("\\u"))
            .and_then(hex);
        match (high, low) {
            (Some(high @ 0xD800..=0xDBFF), Some(low @ 0xDC00..=0xDFFF)) => {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                out.push_str(&format!("\\U{code:08x}"));
                rest = escape.get(12..).unwrap_or_default();
            }
            _ => {
                // Any other escape is two characters (`\\`, `\"`, `\u` + its digits are copied on).
                let len = escape.chars().take(2).map(char::len_utf8).sum::<usize>();
                out.push_str(escape.get(..len).unwrap_or_default());
                rest = escape.get(len..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Lines and columns before byte `at` of `text`.
fn offset_of(text: &str, at: usize) -> Offset {
    let before = text.get(..at).unwrap_or_default();
    let lines = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let columns = before.get(line_start..).unwrap_or_default().chars().count();
    Offset { lines, columns }
}

/// Hands `node` to `each`, replacing a `List` (any kind ending in `List`
/// with an `items` array, as kubectl does) by its items; null documents are dropped.
fn unfold(
    source: Source,
    node: Node,
    each: &mut impl FnMut(Document) -> Result<(), String>,
) -> Result<(), String> {
    if matches!(node.content, Content::Scalar(serde_json::Value::Null)) {
        return Ok(());
    }
    let is_list = node
        .get("kind")
        .is_some_and(|kind| matches!(&kind.content, Content::Scalar(serde_json::Value::String(k)) if k.ends_with("List")))
        && node
            .get("items")
            .is_some_and(|items| matches!(items.content, Content::Sequence(_)));
    match node.content {
        Content::Map(mut map) if is_list => {
            let Some(Node {
                content: Content::Sequence(items),
                ..
            }) = map.remove("items")
            else {
                return Ok(());
            };
            for (index, item) in items.into_iter().enumerate() {
                let mut source = source.clone();
                source.items.push(index);
                source.at = item.at;
                unfold(source, item, each)?;
            }
            Ok(())
        }
        content => each(Document {
            source,
            node: Node {
                at: node.at,
                content,
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(text: &str) -> Result<Vec<(String, Value)>, LoadError> {
        let mut documents = Vec::new();
        parse_stream("m.yaml", text, |document| {
            documents.push((document.source.to_string(), document.node.to_value()));
            Ok(())
        })
        .map(|()| documents)
    }

    #[test]
    fn yaml_stream_skips_empty_documents_but_keeps_their_index() {
        let docs = parse("---\n# only a comment\n---\nkind: A\n---\n---\nkind: B\n").unwrap();
        assert_eq!(
            docs,
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
        let sources: Vec<_> = docs.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(
            sources,
            [
                "m.yaml#0",
                "m.yaml#1.items[0]",
                "m.yaml#1.items[1].items[0]"
            ]
        );
        assert_eq!(docs[2].1, json!({"kind": "C"}));
    }

    #[test]
    fn json_streams_are_read_with_positions_from_the_start_of_the_file() {
        let text = " {\"kind\": \"A\", \"n\": 12345678901234567890}\n{\n  \"kind\": \"B\"}";
        let mut found = Vec::new();
        parse_stream("m.json", text, |document| {
            let kind = document.node.get("kind").map(|k| k.at);
            found.push((document.source.document, document.node.to_value(), kind));
            Ok(())
        })
        .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1["n"], json!(12345678901234567890u64));
        assert_eq!(found[0].2, Some(Position { line: 1, column: 3 }));
        assert_eq!(found[1].0, 1);
        assert_eq!(found[1].2, Some(Position { line: 3, column: 3 }));
    }

    #[test]
    fn json_escapes_mean_what_json_means_surrogate_pairs_too() {
        let text =
            r#"{"kind": "A", "a": "t\u00e9st-\ud83d\ude00", "b": "\\ud83d", "c": "a\/b\"\\"}"#;
        let docs = parse(text).unwrap();
        assert_eq!(
            docs[0].1,
            json!({"kind": "A", "a": "t\u{e9}st-\u{1f600}", "b": "\\ud83d", "c": "a/b\"\\"})
        );
        assert_eq!(docs[0].1, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn syntax_errors_name_the_document_and_line() {
        let err = parse("kind: A\n---\nkind: [unclosed\n---\nkind: C\n").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("cannot parse m.yaml:"), "{message}");
        assert!(message.contains(", document 1: "), "{message}");
        let err = parse("{\"kind\": \"A\"}\n{\"kind\": ").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot parse m.yaml:2:"),
            "{err}"
        );
        assert!(err.to_string().contains(", document 1: "), "{err}");
    }

    #[test]
    fn a_fifo_that_was_not_there_when_listed_is_refused_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("late.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // As if `inputs` had seen a regular file there: no writer, yet no wait.
        let error = read_input(&Input::File(fifo), 1024).unwrap_err();
        assert!(
            matches!(error, LoadError::NotRegular { what: "a FIFO", .. }),
            "{error}"
        );
    }

    #[test]
    fn empty_input_has_no_documents() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\n# nothing\n").unwrap().is_empty());
    }
}
