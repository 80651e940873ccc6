//! YAML read as Kubernetes reads it (sigs.k8s.io/yaml over go-yaml), with the
//! line and column of every node, from one parser (saphyr-parser's events):
//! values and positions cannot disagree.
//!
//! As kubectl: a byte-order mark is accepted, merge keys (`<<`) are applied,
//! numbers and booleans used as keys become strings, `yes`/`no`/`on`/`off`
//! are booleans (YAML 1.1; single-letter `y`/`n` stay strings), and a local tag (`!foo`) does not change a map or
//! a sequence (a tagged scalar stays a string). The work is bounded while
//! parsing: nesting deeper than [`MAX_DEPTH`] fails at once, and aliases may
//! copy at most [`ALIAS_NODE_BUDGET`] nodes per stream (no "billion laughs").

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

mod emit;
mod scalar;
mod steps;

pub use emit::to_yaml;
use scalar::resolve;
pub use steps::{Step, field_steps, pointer_steps};

/// Deepest nesting of maps and sequences in one document (serde_json's own limit).
pub const MAX_DEPTH: usize = 128;
/// Most nodes that aliases may copy in one stream (file).
pub const ALIAS_NODE_BUDGET: usize = 1 << 20;

/// Where a node starts in its file: 1-based line and column. Columns count
/// characters (Unicode scalar values, as SARIF's default `unicodeCodePoints`),
/// not bytes, for YAML and JSON input alike: JSON read through this reader
/// has its rewritten surrogate pairs counted as written (`load`), and
/// serde_json's byte columns of a JSON syntax error are converted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A parsed node and where it is written. For a map entry, the position is
/// that of its key (the line a reader looks for).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub at: Position,
    pub content: Content,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// Null, boolean, number or string.
    Scalar(Value),
    Sequence(Vec<Node>),
    Map(BTreeMap<String, Node>),
}

impl Node {
    /// The node as JSON, as the apiserver would receive it.
    pub fn to_value(&self) -> Value {
        match &self.content {
            Content::Scalar(value) => value.clone(),
            Content::Sequence(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Content::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, node)| (key.clone(), node.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }

    /// The map entry `key`, if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.content {
            Content::Map(entries) => entries.get(key),
            _ => None,
        }
    }

    /// The node at `steps`, or the deepest one that exists on the way.
    pub fn nearest(&self, steps: &[Step]) -> &Node {
        let mut node = self;
        for step in steps {
            let next = match (&node.content, step) {
                (Content::Map(entries), Step::Key(key)) => entries.get(key),
                (Content::Map(entries), Step::Index(index)) => entries.get(&index.to_string()),
                (Content::Sequence(items), Step::Index(index)) => items.get(*index),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => break,
            }
        }
        node
    }

    /// Levels of maps and sequences in this node (0 for a scalar).
    fn depth(&self) -> usize {
        match &self.content {
            Content::Scalar(_) => 0,
            Content::Sequence(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Content::Map(entries) => 1 + entries.values().map(Node::depth).max().unwrap_or(0),
        }
    }

    fn size(&self) -> usize {
        match &self.content {
            Content::Scalar(_) => 1,
            Content::Sequence(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Content::Map(entries) => 1 + entries.values().map(Node::size).sum::<usize>(),
        }
    }
}

/// Why a stream could not be read: the 0-based document and where.
#[derive(Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub document: usize,
    pub at: Position,
    pub message: String,
}

/// Where a text starts in its file, so that positions count from the file's start.
#[derive(Clone, Copy, Debug, Default)]
pub struct Offset {
    /// Lines before the text.
    pub lines: usize,
    /// Characters before the text on its first line.
    pub columns: usize,
}

impl Offset {
    fn position(self, marker: &Marker) -> Position {
        let column = if marker.line() <= 1 {
            marker.col() + self.columns
        } else {
            marker.col()
        };
        Position {
            line: marker.line() + self.lines,
            column: column + 1,
        }
    }
}

/// Reads a YAML stream, calling `each(index, root)` for every document as
/// soon as it is complete (empty documents included, as a null scalar), so
/// that only one document is held at a time. Stops at the first error,
/// whether the parser's or the one `each` returns.
pub fn read_stream<E>(
    text: &str,
    offset: Offset,
    first_document: usize,
    mut each: impl FnMut(usize, Node) -> Result<(), E>,
) -> Result<(), StreamError<E>> {
    let mut builder = Builder {
        offset,
        document: first_document,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        merge_key: false,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            StreamError::Syntax(SyntaxError {
                document: builder.document,
                at: offset.position(e.marker()),
                message: e.info().to_owned(),
            })
        })?;
        match builder.event(event, span) {
            Ok(Some(root)) => {
                each(builder.document, root).map_err(StreamError::Stopped)?;
            }
            Ok(None) => {}
            Err((at, message)) => {
                return Err(StreamError::Syntax(SyntaxError {
                    document: builder.document,
                    at,
                    message,
                }));
            }
        }
    }
    Ok(())
}

/// A stream stopped: by a syntax error or by the caller.
#[derive(Debug)]
pub enum StreamError<E> {
    Syntax(SyntaxError),
    Stopped(E),
}

enum Frame {
    Sequence {
        at: Position,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        at: Position,
        anchor: usize,
        entries: BTreeMap<String, Node>,
        /// The key read, waiting for its value (`None` for a merge key `<<`).
        key: Option<(Option<String>, Position)>,
        /// Maps named by merge keys, applied when the map ends.
        merges: Vec<Node>,
    },
}

struct Builder {
    offset: Offset,
    document: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    /// The scalar being placed is the merge key `<<`.
    merge_key: bool,
}

type BuildResult = Result<Option<Node>, (Position, String)>;

impl Builder {
    /// Takes one event; returns a document's root when it is complete.
    fn event(&mut self, event: Event<'_>, span: Span) -> BuildResult {
        let at = self.offset.position(&span.start);
        match event {
            Event::DocumentStart(_) => {
                self.anchors.clear();
                Ok(None)
            }
            Event::DocumentEnd => {
                self.document += 1;
                Ok(None)
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve(&text, style, tag.as_deref());
                // Only a plain, untagged `<<` is the merge key; `"<<"` is a key like any other.
                self.merge_key = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                self.complete(
                    Node {
                        at,
                        content: Content::Scalar(value),
                    },
                    anchor,
                )
            }
            Event::SequenceStart(anchor, _tag) => {
                self.open(Frame::Sequence {
                    at,
                    anchor,
                    items: Vec::new(),
                })?;
                Ok(None)
            }
            Event::MappingStart(anchor, _tag) => {
                self.open(Frame::Map {
                    at,
                    anchor,
                    entries: BTreeMap::new(),
                    key: None,
                    merges: Vec::new(),
                })?;
                Ok(None)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err((at, "unbalanced end of a collection".into()));
                };
                let (node, anchor) = match frame {
                    Frame::Sequence { at, anchor, items } => (
                        Node {
                            at,
                            content: Content::Sequence(items),
                        },
                        anchor,
                    ),
                    Frame::Map {
                        at,
                        anchor,
                        mut entries,
                        merges,
                        ..
                    } => {
                        // Keys written in the map win; of the merged maps, the first wins.
                        for merged in merges {
                            if let Content::Map(merged) = merged.content {
                                for (key, value) in merged {
                                    entries.entry(key).or_insert(value);
                                }
                            }
                        }
                        (
                            Node {
                                at,
                                content: Content::Map(entries),
                            },
                            anchor,
                        )
                    }
                };
                self.complete(node, anchor)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id) else {
                    return Err((at, "unknown alias".into()));
                };
                self.alias_nodes = self.alias_nodes.saturating_add(node.size());
                if self.alias_nodes > ALIAS_NODE_BUDGET {
                    return Err((
                        at,
                        format!(
                            "aliases expand to more than {ALIAS_NODE_BUDGET} nodes in this stream"
                        ),
                    ));
                }
                // An alias nested in its own kind could build depth without limit.
                if self.stack.len() + node.depth() > MAX_DEPTH {
                    return Err((at, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                let node = node.clone();
                self.complete(node, 0)
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(None),
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), (Position, String)> {
        if self.stack.len() >= MAX_DEPTH {
            let at = match &frame {
                Frame::Sequence { at, .. } | Frame::Map { at, .. } => *at,
            };
            return Err((at, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Places a finished node in its parent, or returns it as the document's root.
    fn complete(&mut self, node: Node, anchor: usize) -> BuildResult {
        let merge_key = std::mem::take(&mut self.merge_key);
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Frame::Sequence { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => {
                    let name = if merge_key {
                        None
                    } else {
                        Some(map_key(&node)?)
                    };
                    *key = Some((name, node.at));
                    Ok(None)
                }
                Some((None, at)) => {
                    match node.content {
                        Content::Map(_) => merges.push(node),
                        Content::Sequence(items)
                            if items.iter().all(|i| matches!(i.content, Content::Map(_))) =>
                        {
                            merges.extend(items)
                        }
                        _ => {
                            return Err((
                                at,
                                "a merge key (<<) needs a map or a list of maps".into(),
                            ));
                        }
                    }
                    Ok(None)
                }
                Some((Some(name), at)) => {
                    if entries.contains_key(&name) {
                        return Err((at, format!("duplicate key {name:?}")));
                    }
                    entries.insert(name, Node { at, ..node });
                    Ok(None)
                }
            },
        }
    }
}

/// A map key as a string; collections cannot be keys.
fn map_key(node: &Node) -> Result<String, (Position, String)> {
    match &node.content {
        Content::Scalar(Value::String(key)) => Ok(key.clone()),
        Content::Scalar(Value::Null) => Ok("null".to_owned()),
        Content::Scalar(other) => Ok(other.to_string()),
        _ => Err((node.at, "a map or a list cannot be a key".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn documents(text: &str) -> Result<Vec<(usize, Node)>, SyntaxError> {
        let mut out = Vec::new();
        read_stream::<()>(text, Offset::default(), 0, |index, node| {
            out.push((index, node));
            Ok(())
        })
        .map_err(|e| match e {
            StreamError::Syntax(e) => e,
            StreamError::Stopped(()) => unreachable!(),
        })?;
        Ok(out)
    }

    fn values(text: &str) -> Vec<Value> {
        documents(text)
            .unwrap()
            .into_iter()
            .map(|(_, node)| node.to_value())
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2000))]
        /// Any text, however broken: an answer (documents or an error), never a panic.
        #[test]
        fn any_text_is_read_or_refused_without_panicking(
            text in "(\\PC|[ \n\t:\\-\\[\\]{},&*!<>|'\"#%@`?~])*"
        ) {
            let _ = documents(&text);
            let _ = documents(&format!("a:\n  - {text}\n---\n{text}"));
        }
    }

    fn json_values() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            "(\\PC|[ \n\t:#'\"-]){0,12}".prop_map(Value::String),
            prop_oneof![
                Just("on"),
                Just("yes"),
                Just("No"),
                Just("~"),
                Just("null"),
                Just("1e3"),
                Just("0x1F"),
                Just("0o17"),
                Just(".5"),
                Just("- a"),
                Just("a: b"),
                Just("*x"),
                Just("|"),
                Just("text\n"),
                Just("two\nlines\n\n"),
                Just(" lead"),
                Just("<<"),
                Just("2024-01-01"),
                Just("12345678901234567890"),
                Just("")
            ]
            .prop_map(|s| Value::String(s.to_owned())),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z0-9./~-]{0,8}|on|1|true|<<", inner, 0..5)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(1000))]
        /// What check writes (`--patched`), its own reader (kubectl's rules) reads back unchanged.
        #[test]
        fn written_yaml_reads_back_as_the_same_value(value in json_values()) {
            let text = to_yaml(&value).unwrap();
            let read = documents(&text).unwrap();
            proptest::prop_assert_eq!(read.len(), 1, "{}", text);
            proptest::prop_assert_eq!(&read[0].1.to_value(), &value, "{}", text);
        }
    }

    #[test]
    fn positions_count_lines_across_documents() {
        let text = "a: 1\n---\nspec:\n  workerGroupSpecs:\n  - groupName: x\n    replicas: 2\n";
        let docs = documents(text).unwrap();
        assert_eq!(docs.len(), 2);
        let (index, root) = &docs[1];
        assert_eq!(*index, 1);
        let group = root.nearest(&field_steps("spec.workerGroupSpecs[0].groupName"));
        assert_eq!(group.at, Position { line: 5, column: 5 });
        let list = root.nearest(&field_steps("spec.workerGroupSpecs"));
        assert_eq!(list.at, Position { line: 4, column: 3 });
        // A field that does not exist: its nearest parent.
        let added = root.nearest(&pointer_steps("/spec/suspend"));
        assert_eq!(added.at, Position { line: 3, column: 1 });
    }

    #[test]
    fn label_keys_with_dots_and_slashes_are_one_step() {
        assert_eq!(
            field_steps("metadata.labels[kueue.x-k8s.io/queue-name]"),
            [
                Step::Key("metadata".into()),
                Step::Key("labels".into()),
                Step::Key("kueue.x-k8s.io/queue-name".into())
            ]
        );
        assert_eq!(
            pointer_steps("/metadata/labels/kueue.x-k8s.io~1queue-name"),
            field_steps("metadata.labels[kueue.x-k8s.io/queue-name]")
        );
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        assert_eq!(values("\u{feff}kind: A\n"), [json!({"kind": "A"})]);
    }

    #[test]
    fn local_tags_keep_the_value_and_core_tags_apply() {
        assert_eq!(
            values("spec: !local {enable: true}\nlist: !seq [1]\nn: !!str 1\ns: !x 2\n"),
            [json!({"spec": {"enable": true}, "list": [1], "n": "1", "s": "2"})]
        );
    }

    #[test]
    fn scalars_resolve_as_go_yaml_does() {
        assert_eq!(
            values(
                "a: yes\nb: off\nc: ~\nd: 0x10\ne: -3\nf: 1.5\ng: '1'\nh: 1.2.3\ni: 12345678901234567890\n\
                 j: 0777\nk: 0\nl: -010\nm: '0777'\n"
            ),
            [
                json!({"a": true, "b": false, "c": null, "d": 16, "e": -3, "f": 1.5, "g": "1",
                "h": "1.2.3", "i": 12345678901234567890u64, "j": 511, "k": 0, "l": -8, "m": "0777"})
            ]
        );
    }

    #[test]
    fn deep_nesting_fails_while_parsing() {
        let text = format!("x: {}", "[".repeat(200_000));
        let error = documents(&text).unwrap_err();
        // saphyr-parser's own recursion limit may stop it first: either way, at once.
        assert!(
            error.message.contains("nesting deeper than 128")
                || error.message.contains("recursion limit"),
            "{error:?}"
        );
        assert_eq!(error.at.line, 1);
    }

    #[test]
    fn aliases_cannot_nest_deeper_than_the_limit() {
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..200 {
            text.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        let error = documents(&text).unwrap_err();
        assert!(
            error.message.contains("nesting deeper than 128"),
            "{error:?}"
        );
        assert_eq!(error.at.line, 128);
    }

    #[test]
    fn alias_expansion_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let error = documents(&text).unwrap_err();
        assert!(error.message.contains("aliases expand"), "{error:?}");
    }

    #[test]
    fn merge_keys_and_non_string_keys() {
        assert_eq!(
            values(
                "d: &d {image: ray, replicas: 1}\nw:\n  <<: *d\n  replicas: 2\np: {8080: http, true: x}\n"
            ),
            [
                json!({"d": {"image": "ray", "replicas": 1}, "w": {"image": "ray", "replicas": 2},
                "p": {"8080": "http", "true": "x"}})
            ]
        );
    }

    #[test]
    fn errors_name_the_document_and_line() {
        let error = documents("kind: A\n---\nkind: [unclosed\n---\nkind: C\n").unwrap_err();
        assert_eq!(error.document, 1);
        assert!(error.at.line >= 3, "{error:?}");
        let error = documents("a: 1\na: 2\n").unwrap_err();
        assert_eq!(
            (error.at.line, error.message.as_str()),
            (2, "duplicate key \"a\"")
        );
    }

    #[test]
    fn empty_documents_keep_their_index() {
        let docs = documents("---\n# only a comment\n---\nkind: A\n---\n---\nkind: B\n").unwrap();
        let found: Vec<_> = docs
            .into_iter()
            .map(|(i, n)| (i, n.to_value()))
            .filter(|(_, v)| !v.is_null())
            .collect();
        assert_eq!(
            found,
            [(1, json!({"kind": "A"})), (3, json!({"kind": "B"}))]
        );
    }
}
