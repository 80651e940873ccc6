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
pub struct DocumentSource {
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

impl DocumentSource {
    /// `file:line:column` of a position in this document's file.
    pub fn locate(&self, at: Position) -> String {
        format!("{}:{at}", self.file)
    }
}

impl fmt::Display for DocumentSource {
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
    pub source: DocumentSource,
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
        let source = DocumentSource {
            file: file.to_owned(),
            document,
            items: Vec::new(),
            at: node.at,
        };
        unfold(source, node, &mut each)
    };
    let body = text.trim_start_matches('\u{feff}');
    if body.trim_start().starts_with(['{', '[']) {
        return super::json_stream::read(file, text, &mut deliver);
    }
    yaml::read_stream(text, Offset::default(), 0, &mut deliver)
        .map_err(|error| parse_error(file, error))
}

/// A stream that could not be read: its syntax error, named by file,
/// document and position, or why a document stopped the run.
pub(super) fn parse_error(file: &str, error: StreamError<String>) -> LoadError {
    match error {
        StreamError::Syntax(error) => LoadError::Parse {
            file: file.to_owned(),
            document: error.document,
            at: error.at,
            message: error.message,
        },
        StreamError::Stopped(message) => LoadError::Stopped(message),
    }
}

/// Hands `node` to `each`, replacing a `List` (any kind ending in `List`
/// with an `items` array, as kubectl does) by its items; null documents are dropped.
fn unfold(
    source: DocumentSource,
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

    /// 1-based line and column, in characters, where `needle` is in `text`.
    fn char_position(text: &str, needle: &str) -> Position {
        let (line, on_line) = text
            .split('\n')
            .enumerate()
            .find(|(_, line)| line.contains(needle))
            .unwrap();
        let byte = on_line.find(needle).unwrap();
        Position {
            line: line + 1,
            column: on_line[..byte].chars().count() + 1,
        }
    }

    #[test]
    fn json_columns_count_characters_after_surrogate_pairs_and_astral_characters() {
        // Escaped pairs (12 characters each, rewritten to 10 for YAML) and a
        // literal astral character (1 character, 4 bytes) before later fields
        // on the same lines; the second document starts on the first's last line.
        let text = concat!(
            r#"{"a": "\ud83d\ude00-\uD83D\uDE00", "b": "😀", "kind": "A","#,
            "\n",
            r#" "c": ["\ud83d\ude00", "😀", 1]}{"x": "\ud83d\ude00", "kind": "B"}"#,
        );
        let mut roots = Vec::new();
        parse_stream("m.json", text, |document| {
            roots.push(document.node);
            Ok(())
        })
        .unwrap();
        let [first, second] = &roots[..] else {
            panic!("{roots:?}")
        };
        let Content::Sequence(items) = &first.get("c").unwrap().content else {
            panic!("{first:?}")
        };
        let found = [
            first.get("b").unwrap().at,
            first.get("kind").unwrap().at,
            first.get("c").unwrap().at,
            items[1].at,
            items[2].at,
            second.at,
            second.get("kind").unwrap().at,
        ];
        let expected = [
            r#""b""#,
            r#""kind": "A""#,
            r#""c""#,
            r#""😀", 1"#,
            "1]",
            r#"{"x""#,
            r#""kind": "B""#,
        ]
        .map(|needle| char_position(text, needle));
        assert_eq!(found, expected);
        assert_eq!(second.get("x").unwrap().to_value(), json!("\u{1f600}"));
    }

    #[test]
    fn json_syntax_errors_count_columns_in_characters() {
        let err = parse("{\"a\": \"\\ud83d\\ude00😀\", x}").unwrap_err();
        let LoadError::Parse { at, message, .. } = &err else {
            panic!("{err}")
        };
        // `x` is the 24th character (and the 27th byte).
        assert_eq!(
            *at,
            Position {
                line: 1,
                column: 24
            },
            "{err}"
        );
        assert!(!message.contains("column"), "{message}");
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
