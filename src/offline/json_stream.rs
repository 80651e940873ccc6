//! JSON streams read with the YAML reader: serde_json finds where each
//! concatenated document ends, the YAML reader reads it with positions. JSON's
//! surrogate-pair escapes, which YAML forbids, are rewritten first, and the
//! positions moved back to where they are in the file.

use super::load::{LoadError, parse_error};
use super::yaml::{self, Content, Node, Offset, Position, StreamError};

/// Calls `deliver` with each document of the JSON stream `text` (of `file`)
/// and its index.
pub(super) fn read(
    file: &str,
    text: &str,
    deliver: &mut impl FnMut(usize, Node) -> Result<(), String>,
) -> Result<(), LoadError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    let mut index = 0;
    while let Some(next) = stream.next() {
        next.map_err(|e| syntax_error(file, text, index, &e))?;
        let end = stream.byte_offset();
        let offset = offset_of(text, start);
        let (slice, pairs) = surrogate_pairs_as_yaml(text.get(start..end).unwrap_or_default());
        let pairs = pairs.shifts_from(offset);
        yaml::read_stream(&slice, offset, index, |_, mut node| {
            pairs.correct_node(&mut node);
            deliver(index, node)
        })
        .map_err(|error| match error {
            StreamError::Syntax(mut error) => {
                error.at = pairs.correct(error.at);
                StreamError::Syntax(error)
            }
            stopped => stopped,
        })
        .map_err(|error| parse_error(file, error))?;
        start = end;
        index += 1;
    }
    Ok(())
}

/// serde_json's syntax error in document `index`, its column in characters.
fn syntax_error(file: &str, text: &str, index: usize, e: &serde_json::Error) -> LoadError {
    LoadError::Parse {
        file: file.to_owned(),
        document: index,
        at: Position {
            line: e.line(),
            column: char_column(text, e.line(), e.column()),
        },
        // Without serde_json's own " at line L column C" (C in bytes).
        message: {
            let message = e.to_string();
            let at = format!(" at line {} column {}", e.line(), e.column());
            message
                .strip_suffix(&at)
                .map_or(message.clone(), str::to_owned)
        },
    }
}

/// JSON text as YAML reads it: JSON writes a character beyond the BMP as a
/// surrogate pair (`\ud83d\ude00`, Python's `json.dumps` does), which YAML
/// forbids; it becomes the one escape YAML has for it (`\U0001f600`). The
/// value is the same, but the escape is 2 characters shorter: the places of
/// the rewritten pairs are returned, so that positions read from the
/// rewritten text are moved back to where they are in the file
/// ([`PairShifts`]). Anything else, including lone surrogates, is left for
/// the reader to refuse.
fn surrogate_pairs_as_yaml(json: &str) -> (std::borrow::Cow<'_, str>, RewrittenPairs) {
    let mut pairs = RewrittenPairs::default();
    if !json.contains("\\u") {
        return (std::borrow::Cow::Borrowed(json), pairs);
    }
    let hex = |s: &str| {
        s.get(..4)
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let mut out = String::with_capacity(json.len());
    let mut rest = json;
    while let Some(at) = rest.find('\\') {
        let before = rest.get(..at).unwrap_or_default();
        pairs.advance(before);
        out.push_str(before);
        let escape = rest.get(at..).unwrap_or_default();
        let high = escape.strip_prefix("\\u").and_then(hex);
        let low = escape
            .get(6..)
            .and_then(|s| s.strip_prefix("\\u"))
            .and_then(hex);
        match (high, low) {
            (Some(high @ 0xD800..=0xDBFF), Some(low @ 0xDC00..=0xDFFF)) => {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                let yaml = format!("\\U{code:08x}");
                pairs.rewritten(&yaml);
                out.push_str(&yaml);
                rest = escape.get(12..).unwrap_or_default();
            }
            _ => {
                // Any other escape is two characters (`\\`, `\"`, `\u` + its digits are copied on).
                let len = escape.chars().take(2).map(char::len_utf8).sum::<usize>();
                let copied = escape.get(..len).unwrap_or_default();
                pairs.advance(copied);
                out.push_str(copied);
                rest = escape.get(len..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    (std::borrow::Cow::Owned(out), pairs)
}

/// Characters a rewritten surrogate pair (12 in JSON) loses as a YAML escape (10).
const PAIR_SHIFT: usize = "\\ud83d\\ude00".len() - "\\U0001f600".len();

/// Where [`surrogate_pairs_as_yaml`] rewrote pairs, in the rewritten text:
/// 0-based line and the character column just after the YAML escape.
#[derive(Debug, Default)]
struct RewrittenPairs {
    line: usize,
    column: usize,
    ends: Vec<(usize, usize)>,
}

impl RewrittenPairs {
    /// Moves past `text`, copied unchanged.
    fn advance(&mut self, text: &str) {
        match text.rfind('\n') {
            Some(newline) => {
                self.line += text.matches('\n').count();
                self.column = text.get(newline + 1..).unwrap_or_default().chars().count();
            }
            None => self.column += text.chars().count(),
        }
    }

    /// Records a pair rewritten as `escape` (one line, ASCII).
    fn rewritten(&mut self, escape: &str) {
        self.advance(escape);
        self.ends.push((self.line, self.column));
    }

    /// The same places as file positions (as [`Offset`] makes them) of a
    /// text that starts at `offset`.
    fn shifts_from(self, offset: Offset) -> PairShifts {
        let ends = self
            .ends
            .into_iter()
            .map(|(line, column)| Position {
                line: line + 1 + offset.lines,
                column: column + 1 + if line == 0 { offset.columns } else { 0 },
            })
            .collect();
        PairShifts { ends }
    }
}

/// Rewritten surrogate pairs, as the positions (in the rewritten text) just
/// after each; a position after `n` of them on its line is `n *`
/// [`PAIR_SHIFT`] characters further right in the file. Columns count
/// characters, as every [`Position`] of `check` does (YAML's and JSON's alike).
#[derive(Debug, Default)]
struct PairShifts {
    ends: Vec<Position>,
}

impl PairShifts {
    /// `at`, read in the rewritten text, as it is in the file.
    fn correct(&self, at: Position) -> Position {
        // `ends` are in file order (sorted): those on `at`'s line up to `at`.
        let line_start = Position {
            line: at.line,
            column: 0,
        };
        let before = self
            .ends
            .partition_point(|end| *end <= at)
            .saturating_sub(self.ends.partition_point(|end| *end < line_start));
        Position {
            column: at.column + before * PAIR_SHIFT,
            ..at
        }
    }

    /// Corrects the position of `node` and of everything in it.
    fn correct_node(&self, node: &mut Node) {
        if self.ends.is_empty() {
            return;
        }
        node.at = self.correct(node.at);
        match &mut node.content {
            Content::Scalar(_) => {}
            Content::Sequence(items) => items.iter_mut().for_each(|item| self.correct_node(item)),
            Content::Map(entries) => entries
                .values_mut()
                .for_each(|entry| self.correct_node(entry)),
        }
    }
}

/// serde_json's column (bytes on the line up to and including where it
/// stopped) as characters, as every other [`Position`] counts them.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(on_line) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    let mut end = byte_column.min(on_line.len());
    while !on_line.is_char_boundary(end) {
        end += 1;
    }
    on_line
        .get(..end)
        .map_or(byte_column, |s| s.chars().count())
}

/// Lines and columns before byte `at` of `text`.
fn offset_of(text: &str, at: usize) -> Offset {
    let before = text.get(..at).unwrap_or_default();
    let lines = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let columns = before.get(line_start..).unwrap_or_default().chars().count();
    Offset { lines, columns }
}
