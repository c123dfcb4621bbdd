//! Flow collections on one line: `[a, "b"]`, `{a: b}`, nested.

use saphyr_parser::Event;

use super::{GiveUp, Plain, Read, Reader};

impl Reader<'_> {
    /// `[a, "b", {c: d}]` on one line.
    pub(super) fn flow_sequence(&mut self) -> Read<()> {
        self.emit(Event::SequenceStart(0, None), self.pos)?;
        self.flow_entries(b']', |r| r.flow_node(b']'))?;
        self.emit(Event::SequenceEnd, self.pos)?;
        self.pos += 1;
        Ok(())
    }

    /// `{a: b, "c": [1]}` on one line, its keys scalars.
    pub(super) fn flow_mapping(&mut self) -> Read<()> {
        self.emit(Event::MappingStart(0, None), self.pos)?;
        self.flow_entries(b'}', |r| {
            // A key: plain up to `: `, or quoted and then `:`.
            let quoted = matches!(r.byte(r.pos), b'"' | b'\'');
            if !r.flow_scalar(b':')? {
                return Err(GiveUp);
            }
            r.skip_spaces();
            if r.byte(r.pos) != b':' || !(quoted || r.byte(r.pos + 1) == b' ') {
                return Err(GiveUp);
            }
            r.pos += 1;
            r.skip_spaces();
            r.flow_node(b'}')
        })?;
        self.emit(Event::MappingEnd, self.pos)?;
        self.pos += 1;
        Ok(())
    }

    /// A value inside brackets that close with `close`.
    fn flow_node(&mut self, close: u8) -> Read<()> {
        match self.byte(self.pos) {
            b'[' => self.flow_sequence(),
            b'{' => self.flow_mapping(),
            _ => self.flow_scalar(close).map(|_| ()),
        }
    }

    /// The entries between an opening bracket at the cursor and `close`,
    /// separated by commas, all on this line; the cursor ends at `close`.
    fn flow_entries(
        &mut self,
        close: u8,
        mut entry: impl FnMut(&mut Self) -> Read<()>,
    ) -> Read<()> {
        self.pos += 1;
        self.skip_spaces();
        if self.byte(self.pos) == close {
            return Ok(());
        }
        loop {
            entry(self)?;
            self.skip_spaces();
            match self.byte(self.pos) {
                b',' => {
                    self.pos += 1;
                    self.skip_spaces();
                }
                b if b == close => return Ok(()),
                _ => return Err(GiveUp),
            }
        }
    }

    /// A scalar inside brackets, ended by `,` or `stop` (`]`, `}`, or the
    /// `:` after a key); whether `stop` ended it.
    fn flow_scalar(&mut self, stop: u8) -> Read<bool> {
        let scalar = self.token(|r, i| match r.byte(i) {
            b':' => match r.byte(i + 1) {
                b' ' if stop == b':' => Plain::Ends,
                // `https://…`: a colon before a safe character is part of
                // the scalar.
                b' ' | b'\n' | b',' | b'[' | b']' | b'{' | b'}' => Plain::GivesUp,
                _ => Plain::Goes,
            },
            b',' | b']' | b'}' if stop != b':' => Plain::Ends,
            // A comment, a line break, a key or a nested collection inside
            // the brackets.
            b'\n' | b'[' | b']' | b'{' | b'}' | b'#' | b',' => Plain::GivesUp,
            _ => Plain::Goes,
        })?;
        self.emit_scalar(&scalar)?;
        Ok(self.byte(self.past_spaces(self.pos)) == stop)
    }
}
