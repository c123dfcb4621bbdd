//! A fast reader for the YAML that manifests are made of.
//!
//! Nearly every manifest in a repository, written by hand or by a tool,
//! uses a small part of YAML: block mappings and sequences, scalars on one
//! line (plain, or quoted without escapes), flow sequences and mappings
//! on one line (`[GET, POST]`, `{name: x, port: 80}`), and comments. saphyr
//! reads all of YAML and pays for it on every character; on the 10,000-file
//! check its scanner and parser were a third of the time.
//!
//! This reader takes that part, line by line, and hands the builder the
//! events saphyr would, at the positions saphyr gives them, so values,
//! spans, duplicate keys and budgets come out of the same [`Builder`]. On
//! anything else (anchors, tags, block scalars, multi-line scalars,
//! escapes, flow collections over several lines, explicit keys, merge
//! keys, empty documents, tabs, non-ASCII text, or a mistake) it gives up
//! before its result is seen, and saphyr reads the text from the start:
//! what it accepts it must read exactly as saphyr does, and what it does
//! not know it never guesses. `tests.rs` holds the two readers to each
//! other on every YAML file in the repository and on generated text.

use std::borrow::Cow;

use saphyr_parser::{Event, Marker, ScalarStyle, Span};

use super::build::Builder;
use super::{Limits, Stream};

/// Reads `text` as saphyr would, or gives up (`None`) on anything outside
/// the part of YAML described above.
pub(super) fn load(text: &str, limits: Limits, record: bool, lenient: bool) -> Option<Stream> {
    // Printable ASCII and newlines only: columns are then byte offsets, and
    // no tab, carriage return or control character needs YAML's rules.
    if !text
        .bytes()
        .all(|b| (b' '..0x7f).contains(&b) || b == b'\n')
    {
        return None;
    }
    let fresh = move || Builder::new(limits, record, lenient, text.len());
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        line: Line::default(),
        pos: 0,
        next: Next::End,
        builder: fresh(),
    };
    let mut stream = Stream::default();
    reader.stream(&mut stream, fresh).ok()?;
    Some(stream)
}

/// One line with content: not blank, not only a comment.
#[derive(Debug, Clone, Copy, Default)]
struct Line {
    /// Byte offsets of its first character and of its end (the newline).
    start: usize,
    end: usize,
    indent: usize,
    /// 1-based, as saphyr counts.
    number: usize,
}

/// What follows the line being read.
#[derive(Debug, Clone, Copy)]
enum Next {
    Content(Line),
    /// A `---` line.
    DocumentStart(Line),
    End,
}

/// The text is outside what this reader takes: saphyr reads it.
struct GiveUp;

type Read<T> = Result<T, GiveUp>;

/// saphyr's limit on an implicit key.
const MAX_KEY: usize = 1024;

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// The line being read, and the cursor in it.
    line: Line,
    pos: usize,
    /// The first content line after `line`, once `line` is finished.
    next: Next,
    builder: Builder,
}

/// What a plain scalar's next byte does to it.
enum Plain {
    Goes,
    Ends,
    GivesUp,
}

struct Scalar<'a> {
    text: &'a str,
    style: ScalarStyle,
    start: usize,
    /// Whether a `:` followed it: a mapping key (the cursor is after the `:`).
    key: bool,
}

impl<'a> Reader<'a> {
    /// Every document of the text; `fresh` gives each its builder.
    fn stream(&mut self, stream: &mut Stream, fresh: impl Fn() -> Builder) -> Read<()> {
        self.next = self.scan(0, 1)?;
        loop {
            let (first, start) = match self.next {
                Next::End => return Ok(()),
                Next::DocumentStart(marker) => {
                    self.line = marker;
                    self.next = self.scan(marker.end + 1, marker.number + 1)?;
                    // An empty document: saphyr's null and its place are left to saphyr.
                    let Next::Content(first) = self.next else {
                        return Err(GiveUp);
                    };
                    (first, marker_at(marker, 0))
                }
                Next::Content(first) => (first, marker_at(first, first.indent)),
            };
            self.goto(first);
            self.block_node()?;
            if matches!(self.next, Next::Content(_)) {
                return Err(GiveUp);
            }
            let builder = std::mem::replace(&mut self.builder, fresh());
            stream
                .documents
                .push(Ok(builder.finish(super::position(&Span::empty(start)))));
        }
    }

    /// The first content line at or after byte `start`, line `number`.
    fn scan(&self, mut start: usize, mut number: usize) -> Read<Next> {
        let bytes = self.bytes;
        while start < bytes.len() {
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |i| start + i);
            let text = &bytes[start..end];
            let indent = text.iter().take_while(|&&b| b == b' ').count();
            if indent < text.len() && text[indent] != b'#' {
                let line = Line {
                    start,
                    end,
                    indent,
                    number,
                };
                if indent > 0 {
                    return Ok(Next::Content(line));
                }
                if text.starts_with(b"---") {
                    let rest = trim_spaces(&text[3..]);
                    // `---` alone (or with a comment) starts a document; `--- value`,
                    // `---x` and the like are left to saphyr.
                    let alone = rest.is_empty() || (rest[0] == b'#' && text.len() > 3 + rest.len());
                    return if alone {
                        Ok(Next::DocumentStart(line))
                    } else {
                        Err(GiveUp)
                    };
                }
                if text.starts_with(b"...") || text[0] == b'%' {
                    return Err(GiveUp);
                }
                return Ok(Next::Content(line));
            }
            start = end + 1;
            number += 1;
        }
        Ok(Next::End)
    }

    /// The byte at `i` on the current line; a newline past its end.
    fn byte(&self, i: usize) -> u8 {
        if i < self.line.end {
            self.bytes[i]
        } else {
            b'\n'
        }
    }

    fn goto(&mut self, line: Line) {
        self.line = line;
        self.pos = line.start + line.indent;
    }

    /// The first byte at or after `i` that is not a space.
    fn past_spaces(&self, mut i: usize) -> usize {
        while self.byte(i) == b' ' {
            i += 1;
        }
        i
    }

    fn skip_spaces(&mut self) {
        self.pos = self.past_spaces(self.pos);
    }

    /// Whether only spaces and a comment are left on the line.
    fn at_line_end(&mut self) -> bool {
        self.skip_spaces();
        self.pos >= self.line.end
            || (self.bytes[self.pos] == b'#'
                && self.pos > self.line.start
                && self.bytes[self.pos - 1] == b' ')
    }

    /// Ends the current line, which must hold nothing more, and looks ahead.
    fn finish_line(&mut self) -> Read<()> {
        if !self.at_line_end() {
            return Err(GiveUp);
        }
        self.next = self.scan(self.line.end + 1, self.line.number + 1)?;
        Ok(())
    }

    fn emit(&mut self, event: Event<'a>, at: usize) -> Read<()> {
        let span = Span::empty(marker_at(self.line, at - self.line.start));
        self.builder.on_event(event, &span).map_err(|_| GiveUp)
    }

    fn emit_scalar(&mut self, s: &Scalar<'a>) -> Read<()> {
        let event = Event::Scalar(Cow::Borrowed(s.text), s.style, 0, None);
        self.emit(event, s.start)
    }

    fn is_entry(&self, line: Line) -> bool {
        let at = line.start + line.indent;
        self.bytes[at] == b'-' && (at + 1 == line.end || self.bytes[at + 1] == b' ')
    }

    /// A block mapping or sequence starting at the cursor, the first thing
    /// on its line.
    fn block_node(&mut self) -> Read<()> {
        if self.is_entry(self.line) {
            self.sequence(false)
        } else {
            self.mapping()
        }
    }

    /// A block mapping whose first key is at the cursor.
    fn mapping(&mut self) -> Read<()> {
        let column = self.pos - self.line.start;
        self.emit(Event::MappingStart(0, None), self.pos)?;
        loop {
            self.entry(column)?;
            match self.next {
                Next::Content(line) if line.indent == column && !self.is_entry(line) => {
                    self.goto(line)
                }
                Next::Content(line) if line.indent >= column => return Err(GiveUp),
                _ => break,
            }
        }
        self.emit(Event::MappingEnd, self.pos)
    }

    /// One `key: value` of a mapping at `column`.
    fn entry(&mut self, column: usize) -> Read<()> {
        let key = self.scalar()?;
        // The merge key and long keys have rules of their own.
        if !key.key || key.text.len() > MAX_KEY || key.text == "<<" {
            return Err(GiveUp);
        }
        self.emit_scalar(&key)?;
        let colon = self.pos - 1;
        if !self.at_line_end() {
            return self.inline_value(column);
        }
        self.finish_line()?;
        match self.next {
            Next::Content(line) if line.indent > column => {
                self.goto(line);
                self.block_node()
            }
            Next::Content(line) if line.indent == column && self.is_entry(line) => {
                self.goto(line);
                self.sequence(true)
            }
            // Nothing: saphyr's empty plain scalar, at the colon.
            _ => self.emit(
                Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None),
                colon,
            ),
        }
    }

    /// A block sequence whose first `-` is at the cursor. An indentless one
    /// (`key:` then `- item` at the key's column) starts where its first
    /// item does, as saphyr places it.
    fn sequence(&mut self, indentless: bool) -> Read<()> {
        let column = self.pos - self.line.start;
        let mut start = self.pos;
        if indentless {
            self.pos += 1;
            if self.at_line_end() {
                return Err(GiveUp);
            }
            start = self.pos;
            self.pos = self.line.start + column;
        }
        self.emit(Event::SequenceStart(0, None), start)?;
        loop {
            self.pos += 1;
            if self.at_line_end() {
                // The item on the lines below its `-`.
                self.finish_line()?;
                match self.next {
                    Next::Content(line) if line.indent > column => {
                        self.goto(line);
                        self.block_node()?;
                    }
                    // An empty item: saphyr's null and its place are left to saphyr.
                    _ => return Err(GiveUp),
                }
            } else {
                self.item(column)?;
            }
            match self.next {
                Next::Content(line) if line.indent == column && self.is_entry(line) => {
                    self.goto(line)
                }
                Next::Content(line) if line.indent > column => return Err(GiveUp),
                _ => break,
            }
        }
        self.emit(Event::SequenceEnd, self.pos)
    }

    /// The item after a `- `, at the cursor.
    fn item(&mut self, column: usize) -> Read<()> {
        let here = self.pos;
        if matches!(self.byte(here), b'[' | b'{') {
            return self.inline_value(column);
        }
        if self.byte(here) == b'-' && matches!(self.byte(here + 1), b' ' | b'\n') {
            return Err(GiveUp);
        }
        let first = self.scalar()?;
        if first.key {
            // A mapping that starts on the `- ` line, its keys at this column.
            self.pos = here;
            return self.mapping();
        }
        self.emit_scalar(&first)?;
        self.after_inline(column)
    }

    /// A value on the line of its key or `-`, in a block at `column`.
    fn inline_value(&mut self, column: usize) -> Read<()> {
        match self.byte(self.pos) {
            b'[' => self.flow_sequence()?,
            b'{' => self.flow_mapping()?,
            _ => {
                let value = self.scalar()?;
                if value.key {
                    return Err(GiveUp);
                }
                self.emit_scalar(&value)?;
            }
        }
        self.after_inline(column)
    }

    /// Ends the line of an inline value. A deeper line after it would
    /// continue a multi-line scalar (or be a mistake): saphyr's to read.
    fn after_inline(&mut self, column: usize) -> Read<()> {
        self.finish_line()?;
        match self.next {
            Next::Content(line) if line.indent > column => Err(GiveUp),
            _ => Ok(()),
        }
    }

    /// A scalar at the cursor in block context, on one line; the cursor
    /// ends after it, or after its `:` when it is a key.
    fn scalar(&mut self) -> Read<Scalar<'a>> {
        let mut scalar = self.token(|r, i| match r.byte(i) {
            b'\n' => Plain::Ends,
            b':' if matches!(r.byte(i + 1), b' ' | b'\n') => Plain::Ends,
            b' ' if r.byte(i + 1) == b'#' => Plain::Ends,
            _ => Plain::Goes,
        })?;
        let colon = self.past_spaces(self.pos);
        scalar.key = self.byte(colon) == b':' && matches!(self.byte(colon + 1), b' ' | b'\n');
        if scalar.key {
            self.pos = colon + 1;
        }
        Ok(scalar)
    }

    /// A quoted scalar, or a plain one that `plain` says where it ends, at
    /// the cursor and on its line; the cursor ends after it.
    fn token(&mut self, plain: impl Fn(&Self, usize) -> Plain) -> Read<Scalar<'a>> {
        let start = self.pos;
        let (text, style) = match self.byte(start) {
            quote @ (b'"' | b'\'') => self.quoted(quote)?,
            c if plain_start(c, self.byte(start + 1)) => {
                let mut end = start;
                loop {
                    match plain(self, end) {
                        Plain::Goes => end += 1,
                        Plain::Ends => break,
                        Plain::GivesUp => return Err(GiveUp),
                    }
                }
                self.pos = end;
                let text = self.text[start..end].trim_end_matches(' ');
                (text, ScalarStyle::Plain)
            }
            _ => return Err(GiveUp),
        };
        Ok(Scalar {
            text,
            style,
            start,
            key: false,
        })
    }

    /// A quoted scalar at the cursor that closes on its line and has no
    /// escapes; the cursor ends after the closing quote.
    fn quoted(&mut self, quote: u8) -> Read<(&'a str, ScalarStyle)> {
        let open = self.pos;
        let close = self.bytes[open + 1..self.line.end]
            .iter()
            .position(|&b| b == quote)
            .ok_or(GiveUp)?
            + open
            + 1;
        let body = &self.text[open + 1..close];
        let style = if quote == b'"' {
            if body.contains('\\') {
                return Err(GiveUp);
            }
            ScalarStyle::DoubleQuoted
        } else {
            // `''` is an escaped quote.
            if self.byte(close + 1) == b'\'' {
                return Err(GiveUp);
            }
            ScalarStyle::SingleQuoted
        };
        self.pos = close + 1;
        Ok((body, style))
    }
}

/// Whether `c` (followed by `next`) may start a plain scalar. Indicators
/// cannot; `-` can when it is not a block entry. `?` and `:` could in
/// places, which is left to saphyr.
fn plain_start(c: u8, next: u8) -> bool {
    match c {
        b'-' => !matches!(next, b' ' | b'\n'),
        b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
        | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' | b'\n' => false,
        _ => true,
    }
}

fn trim_spaces(text: &[u8]) -> &[u8] {
    let skip = text.iter().take_while(|&&b| b == b' ').count();
    &text[skip..]
}

fn marker_at(line: Line, column: usize) -> Marker {
    Marker::new(line.start + column, line.number, column)
}

mod flow;

#[cfg(test)]
mod tests;
