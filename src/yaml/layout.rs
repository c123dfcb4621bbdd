//! What a line-by-line look at a YAML text tells before the parser: tabs
//! as the Kubernetes YAML reader takes them, and where a bracket or quote
//! that is never closed was opened.
//!
//! **Tabs.** //! kubectl and the API server read YAML with `sigs.k8s.io/yaml`, Kubernetes'
//! fork of go-yaml v2. It takes a tab after a mapping's `:` as a space
//! (`public:<TAB>true`), which YAML 1.2 parsers such as saphyr refuse, and
//! it refuses tabs that they accept: in the indentation of a line (blank
//! and comment lines too), after a block entry's `-`, after `?` and after a
//! `:` that starts a line, and in a block scalar's indentation. Outside
//! those places a tab between tokens is a space to both.
//!
//! This pass runs before the parser, line by line: it turns the tabs
//! go-yaml reads as separation into spaces (the same length, so every
//! position stays where it is) and finds the first tab go-yaml refuses, to
//! report it at its own line and column. Tabs inside quoted scalars, block
//! scalar content and comments are left alone. The answers are kubectl's
//! own: `tests/fixtures/yaml-tabs` holds the cases with what kubectl 1.37
//! said of each, and the script that asked it.
//!
//! **Unclosed brackets.** A parser notices a `[` or `{` without its closing
//! bracket only where something else no longer fits, often lines later;
//! `unclosed` finds the bracket (or quote) still open there, so the error
//! can point at it.

use std::borrow::Cow;

use crate::diagnostic::Position;

/// A tab go-yaml refuses, and its words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: Position,
    pub message: &'static str,
}

const INDENTATION: &str =
    "found a tab character that violates indentation: YAML indents with spaces";
const AFTER_INDICATOR: &str =
    "found a tab character after a block indicator (-, ? or :), where kubectl needs a space";
const BLOCK_SCALAR: &str =
    "found a tab character where a block scalar's indentation space is expected";

/// The text as the parser should read it, and the first tab kubectl would
/// refuse, if any.
pub fn read(text: &str) -> (Cow<'_, str>, Option<Refusal>) {
    if !text.as_bytes().contains(&b'\t') {
        return (Cow::Borrowed(text), None);
    }
    let mut scan = Scan::default();
    let mut bytes = text.as_bytes().to_vec();
    let mut start = 0;
    let mut line = 1;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        scan.number = line;
        if let Err((at, message)) = scan.line(&mut bytes[start..end]) {
            let at = Position {
                line,
                column: column_of(&text[start..end], at),
            };
            scan.refused.get_or_insert(Refusal { at, message });
        }
        start = end + 1;
        line += 1;
    }
    // Only tabs became spaces: the text is still UTF-8.
    let text = String::from_utf8(bytes).expect("tabs replaced by spaces keep UTF-8");
    (Cow::Owned(text), scan.refused)
}

/// A bracket or quote still open where the parser stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclosed {
    pub at: Position,
    /// `[`, `{`, `"` or `'`.
    pub opener: char,
}

/// The innermost bracket, or the quoted scalar, still open just before
/// `stop`.
pub fn unclosed(text: &str, stop: Position) -> Option<Unclosed> {
    let mut scan = Scan::default();
    let mut lines: Vec<&str> = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let n = n as u32 + 1;
        if n > stop.line {
            break;
        }
        let mut bytes = line.as_bytes().to_vec();
        if n == stop.line {
            let end = line
                .char_indices()
                .nth(stop.column.saturating_sub(1) as usize)
                .map_or(line.len(), |(i, _)| i);
            bytes.truncate(end);
        }
        scan.number = n;
        lines.push(line);
        // A refused tab does not matter here: the parser stopped anyway.
        let _ = scan.line(&mut bytes);
    }
    let (line, at, opener) = match (scan.quote, scan.open.last()) {
        (Some(q), _) => (scan.quote_at.0, scan.quote_at.1, q),
        (None, Some(&open)) => open,
        (None, None) => return None,
    };
    Some(Unclosed {
        at: Position {
            line,
            column: column_of(lines[line as usize - 1], at),
        },
        opener: opener as char,
    })
}

/// The 1-based column (in characters) of byte `i` of `line`.
fn column_of(line: &str, i: usize) -> u32 {
    line.get(..i).map_or(i, |p| p.chars().count()) as u32 + 1
}

/// A block scalar being read: the indentation of what holds it, and its
/// own once known.
#[derive(Debug, Clone, Copy)]
struct Block {
    parent: isize,
    indent: Option<usize>,
}

#[derive(Debug, Default)]
struct Scan {
    /// Where each open `[` or `{` is: line, byte in its line, bracket.
    open: Vec<(u32, usize, u8)>,
    /// The number of the line being read.
    number: u32,
    /// The quote of a quoted scalar that goes on past its line, and where
    /// it opened (line, byte in its line).
    quote: Option<u8>,
    quote_at: (u32, usize),
    block: Option<Block>,
    refused: Option<Refusal>,
}

type Refused = (usize, &'static str);

fn blank(b: Option<&u8>) -> bool {
    matches!(b, None | Some(b' ' | b'\t' | b'\r'))
}

impl Scan {
    /// Whether the line is read inside a flow collection.
    fn in_flow(&self) -> bool {
        !self.open.is_empty()
    }

    fn line(&mut self, line: &mut [u8]) -> Result<(), Refused> {
        let spaces = line.iter().take_while(|&&b| b == b' ').count();
        if let Some(block) = self.block {
            let rest = &line[spaces..];
            let empty = rest.iter().all(|&b| b == b'\r');
            match block.indent {
                // The first line with content sets the indentation: a tab
                // before it is refused, whatever follows.
                None if rest.first() == Some(&b'\t') => return Err((spaces, BLOCK_SCALAR)),
                None if empty => return Ok(()),
                None if spaces as isize > block.parent => {
                    self.block = Some(Block {
                        indent: Some(spaces),
                        ..block
                    });
                    return Ok(());
                }
                Some(indent) if spaces >= indent => return Ok(()),
                Some(_) if rest.first() == Some(&b'\t') => return Err((spaces, BLOCK_SCALAR)),
                Some(_) if empty => return Ok(()),
                _ => self.block = None,
            }
        }
        let mut i = 0;
        if let Some(quote) = self.quote {
            // A quoted scalar's line breaks fold, and the white space
            // that starts its next line is not part of it.
            separate(line, 0);
            match closing_quote(line, 0, quote) {
                Some(end) => {
                    self.quote = None;
                    i = end;
                }
                None => return Ok(()),
            }
        } else {
            if (line.starts_with(b"---") || line.starts_with(b"...")) && blank(line.get(3)) {
                self.open.clear();
                return self.rest(line, 3, -1);
            }
            // Indentation: spaces only, except inside a flow collection,
            // where white space is only separation.
            if self.in_flow() {
                i = separate(line, 0);
            }
            while let Some(&b) = line.get(i) {
                match b {
                    b' ' => i += 1,
                    b'\t' => return Err((i, INDENTATION)),
                    _ => break,
                }
            }
            if !self.in_flow() {
                // Block indicators that open the line: `- `, `? `, `: `.
                let mut parent = i as isize;
                while let Some(&b) = line.get(i) {
                    if !matches!(b, b'-' | b'?' | b':') || !blank(line.get(i + 1)) {
                        break;
                    }
                    parent = i as isize;
                    i += 1;
                    while let Some(&b) = line.get(i) {
                        match b {
                            b' ' => i += 1,
                            b'\t' => return Err((i, AFTER_INDICATOR)),
                            _ => break,
                        }
                    }
                }
                if self.block_header(line, i, parent) {
                    return Ok(());
                }
                return self.rest(line, i, i as isize);
            }
        }
        self.rest(line, i, -1)
    }

    /// The rest of a line from byte `i`, where `key` is the column a key
    /// written there would have (for a block scalar's parent).
    fn rest(&mut self, line: &mut [u8], mut i: usize, key: isize) -> Result<(), Refused> {
        let mut key = key;
        let mut token_start = true;
        while i < line.len() {
            let b = line[i];
            let indicator = self.in_flow() && matches!(b, b',' | b'[' | b']' | b'{' | b'}');
            match b {
                b'#' if token_start || i == 0 || blank(line.get(i - 1)) => return Ok(()),
                b'"' | b'\'' if token_start => match closing_quote(line, i + 1, b) {
                    Some(end) => {
                        i = end;
                        token_start = false;
                        continue;
                    }
                    None => {
                        self.quote = Some(b);
                        self.quote_at = (self.number, i);
                        return Ok(());
                    }
                },
                b'[' | b'{' if token_start || indicator => {
                    self.open.push((self.number, i, b));
                }
                b']' | b'}' if self.in_flow() => {
                    self.open.pop();
                }
                b':' if blank(line.get(i + 1))
                    || (self.in_flow()
                        && matches!(line.get(i + 1), Some(b',' | b'[' | b']' | b'{' | b'}'))) =>
                {
                    // The value indicator: a tab after it is a space.
                    let j = separate(line, i + 1);
                    if !self.in_flow() && self.block_header(line, j, key) {
                        return Ok(());
                    }
                    i = j;
                    token_start = true;
                    continue;
                }
                _ => {}
            }
            token_start = blank(Some(&b)) || indicator;
            if !self.in_flow() && !token_start && key < 0 {
                key = i as isize;
            }
            i += 1;
        }
        Ok(())
    }

    /// Whether a block scalar starts at byte `i` (`|` or `>`, its
    /// indicators, then nothing but a comment); it is held by a collection
    /// at column `parent`.
    fn block_header(&mut self, line: &[u8], i: usize, parent: isize) -> bool {
        if !matches!(line.get(i), Some(b'|' | b'>')) {
            return false;
        }
        let mut j = i + 1;
        let mut explicit = None;
        while let Some(&b) = line.get(j) {
            match b {
                b'+' | b'-' => {}
                b'1'..=b'9' => explicit = Some((b - b'0') as usize),
                _ => break,
            }
            j += 1;
        }
        let tail = &line[j..];
        let tail = tail
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
            .map_or(&[][..], |k| &tail[k..]);
        if !(tail.is_empty() || (j < line.len() && tail[0] == b'#')) {
            return false;
        }
        self.block = Some(Block {
            parent,
            indent: explicit.map(|n| (parent.max(0) as usize) + n),
        });
        true
    }
}

/// Turns the tabs of the white space at `from` into spaces; the byte
/// after it.
fn separate(line: &mut [u8], from: usize) -> usize {
    let mut j = from;
    while let Some(&c) = line.get(j) {
        match c {
            b' ' => {}
            b'\t' => line[j] = b' ',
            _ => break,
        }
        j += 1;
    }
    j
}

/// The byte after the quote that closes a scalar opened before `from`.
fn closing_quote(line: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut i = from;
    while i < line.len() {
        match line[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\'' if quote == b'\'' && line.get(i + 1) == Some(&b'\'') => i += 1,
            b if b == quote => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracket_still_open_where_the_parser_stopped() {
        let at = |line, column| Position { line, column };
        let open =
            |text: &str, stop| unclosed(text, stop).map(|u| (u.at.line, u.at.column, u.opener));
        assert_eq!(open("a: [1, 2\nb: c\n", at(2, 2)), Some((1, 4, '[')));
        assert_eq!(open("a: [1, {b: 2]\n", at(1, 13)), Some((1, 8, '{')));
        assert_eq!(open("a: [1, 2]\nb: {c\n", at(3, 1)), Some((2, 4, '{')));
        assert_eq!(open("a: \"x [\nb: c\n", at(2, 2)), Some((1, 4, '"')));
        assert_eq!(open("a: x[1]\nb: '[' # [\n", at(2, 10)), None);
    }

    fn refused(text: &str) -> Option<(u32, u32)> {
        read(text).1.map(|r| (r.at.line, r.at.column))
    }

    #[test]
    fn a_tab_after_a_key_is_a_space_and_nothing_else_moves() {
        let (text, refusal) = read("a:\tb\nc: \"x\ty\"\nd: |\n  e\tf\n# g\th\n");
        assert_eq!(refusal, None);
        assert_eq!(text, "a: b\nc: \"x\ty\"\nd: |\n  e\tf\n# g\th\n");
    }

    #[test]
    fn refused_tabs_are_placed_at_the_tab() {
        assert_eq!(refused("a:\n\tb: c\n"), Some((2, 1)));
        assert_eq!(refused("a:\n  -\tb\n"), Some((2, 4)));
        assert_eq!(refused("a: |\n    \tx\n"), Some((2, 5)));
        assert_eq!(refused("a: |\n    x\n  \ty\n"), Some((3, 3)));
        assert_eq!(refused("a: |\n    x\n    \ty\n"), None);
        assert_eq!(refused("a: [1,\n\t2]\n"), None);
        assert_eq!(refused("é: x\n\t\n"), Some((2, 1)));
    }
}
