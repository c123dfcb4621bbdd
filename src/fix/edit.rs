//! Repairs as textual edits at the spans the loader recorded: only the
//! characters of the repaired node change, so comments, blank lines,
//! quoting, key order, other documents and line endings stay as written.
//! Every planned edit is checked by loading the result again: it must be
//! exactly the object with the repairs applied, or the file is left alone.

use serde_json::Value;

use super::{Change, Fix, Safety};
use crate::diagnostic::Position;
use crate::load::File;
pub use crate::patch::apply_json;
use crate::policy::Policy;
use crate::yaml::{self, Limits, SpanIndex, Stream};

/// Replace `text[start..end]` with `insert` (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextEdit {
    pub start: usize,
    pub end: usize,
    pub insert: String,
}

/// What `fix_text` did to one file.
#[derive(Debug, Default)]
pub struct Fixed {
    /// The new text; `None` when nothing changed.
    pub text: Option<String>,
    /// The repairs applied.
    pub applied: Vec<Fix>,
}

/// The edits planned for one text so far.
#[derive(Default)]
struct Planned {
    edits: Vec<TextEdit>,
    applied: Vec<Fix>,
}

impl Planned {
    /// Plans `change` (made by `fix`); keeps it unless its node cannot be
    /// rewritten or another edit already touches that text.
    fn take(
        &mut self,
        text: &str,
        spans: &SpanIndex,
        base: &str,
        fix: Fix,
        change: &Change,
    ) -> bool {
        let Some(edit) = plan(text, spans, base, change) else {
            return false;
        };
        if self.edits.iter().any(|e| overlaps(e, &edit)) {
            return false;
        }
        self.edits.push(edit);
        self.applied.push(fix);
        true
    }
}

/// Why a text with repairs to make is left as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The file is render output: the fix belongs in its source.
    #[error("rendered from {0}: fix it there and render again (this file is overwritten)")]
    Rendered(String),
    /// The edited text would not load back as the repaired object (a
    /// layout kexpose cannot edit safely).
    #[error("the repaired text would not read back as the repaired object; left unchanged")]
    WouldNotReadBack,
}

/// Applies the repairs of one file read by the loader: planned on the
/// documents it parsed, when those are the text as written (not a rendered
/// template, nothing filled in from the lock), else on the text parsed
/// again as written.
pub fn fix_file(file: &mut File, policy: &Policy, unsafe_fixes: bool) -> Result<Fixed, Refused> {
    file.keep();
    let Some(text) = file.written() else {
        return Ok(Fixed::default());
    };
    match file.as_written() {
        Some(stream) => fix_loaded(text, stream, policy, unsafe_fixes),
        None => fix_text(text, policy, unsafe_fixes),
    }
}

/// Applies the repairs of every APIRule in `text` (the unsafe ones too with
/// `unsafe_fixes`).
pub fn fix_text(text: &str, policy: &Policy, unsafe_fixes: bool) -> Result<Fixed, Refused> {
    let stream = yaml::load_lenient(text, Limits::default());
    fix_loaded(text, &stream, policy, unsafe_fixes)
}

/// `fix_text` on the documents of `text`, parsed already. A text with a
/// document that does not load cleanly (a duplicate key included) is never
/// touched.
fn fix_loaded(
    text: &str,
    stream: &Stream,
    policy: &Policy,
    unsafe_fixes: bool,
) -> Result<Fixed, Refused> {
    let mut documents = Vec::with_capacity(stream.documents.len());
    for doc in &stream.documents {
        match doc {
            Ok(d) if d.problems.is_empty() => documents.push(d),
            _ => return Ok(Fixed::default()),
        }
    }
    // Rendered output is fixed in its source and rendered again.
    let rendered = crate::render::rendered_from(text);
    // A spec with template syntax is not the text its findings are about.
    let literal = !text.contains("{{") && !text.contains("{%");
    let mut planned = Planned::default();
    let mut expected: Vec<Value> = Vec::with_capacity(documents.len());
    for doc in &documents {
        let mut value = doc.value.clone();
        if literal && crate::spec::Kind::of(&doc.value) == Some(crate::spec::Kind::Exposure) {
            let mut changes = Vec::new();
            for (fix, change) in spec_fixes(&doc.value, policy, unsafe_fixes) {
                if planned.take(text, &doc.spans, "", fix, &change) {
                    changes.push(change);
                }
            }
            apply_json(&mut value, &changes);
        }
        for (base, object) in crate::check::objects(&doc.value) {
            if crate::check::classify(object) != crate::check::Kind::ApiRule {
                continue;
            }
            let wanted: Vec<Fix> = super::fixes(object, policy)
                .into_iter()
                .filter(|f| unsafe_fixes || f.safety == Safety::Safe)
                .collect();
            if let Some(source) = rendered
                && !wanted.is_empty()
            {
                return Err(Refused::Rendered(source.to_owned()));
            }
            let mut changes = Vec::new();
            for fix in wanted {
                let change = fix.change.clone();
                if planned.take(text, &doc.spans, &base, fix, &change) {
                    changes.push(change);
                }
            }
            let target = if base.is_empty() {
                &mut value
            } else {
                match value.pointer_mut(&base) {
                    Some(v) => v,
                    None => continue,
                }
            };
            apply_json(target, &changes);
        }
        expected.push(value);
    }
    if planned.edits.is_empty() {
        return Ok(Fixed::default());
    }
    let new = apply(text, planned.edits);
    let again = yaml::load(&new, Limits::default());
    let values: Vec<&Value> = again
        .documents
        .iter()
        .filter_map(|d| d.as_ref().ok().map(|d| &d.value))
        .collect();
    if values.len() != expected.len() || values.iter().zip(&expected).any(|(a, b)| *a != b) {
        return Err(Refused::WouldNotReadBack);
    }
    Ok(Fixed {
        text: Some(new),
        applied: planned.applied,
    })
}

/// Whether two edits touch the same text (an insertion counts as one
/// character wide, so two insertions at one place overlap).
fn overlaps(a: &TextEdit, b: &TextEdit) -> bool {
    a.start < b.end.max(b.start + 1) && b.start < a.end.max(a.start + 1)
}

/// The repairs of the APIRule a spec compiles to, carried back to the spec
/// node each repaired value came from. Only a value the spec holds
/// literally is repaired there; a repair that would not make the finding
/// go away when the spec is compiled again is dropped.
fn spec_fixes(spec: &Value, policy: &Policy, unsafe_fixes: bool) -> Vec<(Fix, Change)> {
    let Some(compiled) = crate::exposure::compile_alone(spec, policy) else {
        return Vec::new();
    };
    let object = compiled.apirule.to_value();
    let mut out = Vec::new();
    for fix in super::fixes(&object, policy) {
        if fix.safety == Safety::Unsafe && !unsafe_fixes {
            continue;
        }
        let (_, at) = compiled.origin(fix.change.pointer());
        let change = match &fix.change {
            Change::Replace(p, v)
                if spec.pointer(&at).is_some() && spec.pointer(&at) == object.pointer(p) =>
            {
                Change::Replace(at, v.clone())
            }
            Change::Remove(p)
                if spec.pointer(&at).is_some()
                    && spec.pointer(&at) == object.pointer(p)
                    && at
                        .rsplit_once('/')
                        .and_then(|(list, _)| spec.pointer(list))
                        .is_some_and(Value::is_array) =>
            {
                Change::Remove(at)
            }
            _ => continue,
        };
        // The repaired spec must compile to an APIRule without this repair.
        let mut repaired = spec.clone();
        apply_json(&mut repaired, std::slice::from_ref(&change));
        let still = crate::exposure::compile_alone(&repaired, policy)
            .map(|c| super::fixes(&c.apirule.to_value(), policy))
            .unwrap_or_default();
        if still.iter().any(|f| f.code == fix.code && f.at == fix.at) {
            continue;
        }
        out.push((fix, change));
    }
    out
}

/// The 1-based position of a byte offset.
pub fn position(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: u32::try_from(before.matches('\n').count() + 1).unwrap_or(u32::MAX),
        column: u32::try_from(before[line_start..].chars().count() + 1).unwrap_or(u32::MAX),
    }
}

/// The repairs `findings` about the object at `base` of a document carry,
/// as edits of its text.
pub fn attach(
    text: &str,
    spans: &SpanIndex,
    base: &str,
    findings: &mut [crate::diagnostic::Finding],
) {
    for finding in findings.iter_mut() {
        let Some(repair) = &finding.repair else {
            continue;
        };
        if let Some(e) = plan(text, spans, base, &repair.change) {
            finding.fix = Some(Box::new(crate::diagnostic::FixView {
                safety: repair.safety,
                title: repair.title.clone(),
                start: position(text, e.start),
                end: position(text, e.end),
                insert: e.insert,
            }));
        }
    }
}

/// Applies non-overlapping edits.
pub fn apply(text: &str, mut edits: Vec<TextEdit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.start));
    let mut out = text.to_owned();
    for e in edits {
        out.replace_range(e.start..e.end, &e.insert);
    }
    out
}

/// The textual edit for one change in the document whose spans are `spans`
/// (`base` prefixes the change's pointer for `kind: List` items), or `None`
/// when the node's source is not one kexpose can rewrite safely.
pub fn plan(text: &str, spans: &SpanIndex, base: &str, change: &Change) -> Option<TextEdit> {
    let pointer = format!("{base}{}", change.pointer());
    let (parent, _) = pointer.rsplit_once('/')?;
    match change {
        Change::Replace(_, value) => {
            let start = offset(text, spans.get(&pointer)?.value)?;
            let flow = in_flow(text, spans, parent);
            let end = scalar_end(text, start, flow)?;
            let style = text[start..].chars().next()?;
            Some(TextEdit {
                start,
                end,
                insert: scalar(value, style, flow)?,
            })
        }
        Change::Remove(_) => {
            let start = offset(text, spans.get(&pointer)?.value)?;
            if in_flow(text, spans, parent) {
                let end = scalar_end(text, start, true)?;
                let before = text[..start].trim_end();
                if let Some(comma) = before.strip_suffix(',') {
                    // `[GET, GET]`: the comma before the entry goes with it.
                    Some(TextEdit {
                        start: comma.len(),
                        end,
                        insert: String::new(),
                    })
                } else {
                    // The first entry: the comma after it goes instead.
                    let rest = &text[end..];
                    let after = rest.trim_start();
                    let comma = after.strip_prefix(',')?;
                    let gap = comma.len() - comma.trim_start().len();
                    Some(TextEdit {
                        start,
                        end: end + (rest.len() - after.len()) + 1 + gap,
                        insert: String::new(),
                    })
                }
            } else {
                // A block entry: its whole line, if the line is only `- value`.
                let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                if text[line_start..start].trim() != "-" {
                    return None;
                }
                let end = scalar_end(text, start, false)?;
                let rest = &text[end..];
                if !rest
                    .trim_start_matches([' ', '\t'])
                    .starts_with(['\n', '\r', '#'])
                    && !rest.trim().is_empty()
                {
                    return None;
                }
                let line_end = rest.find('\n').map_or(text.len(), |i| end + i + 1);
                Some(TextEdit {
                    start: line_start,
                    end: line_end,
                    insert: String::new(),
                })
            }
        }
        Change::Add(_, value) => {
            let key = pointer.rsplit_once('/')?.1;
            let at = spans.get(parent)?.value;
            let start = offset(text, at)?;
            let key = scalar(&Value::from(key), 'k', false)?;
            if text[start..].starts_with('{') {
                let inner = text[start + 1..].trim_start();
                let member = format!("{key}: {}", scalar(value, 'p', true)?);
                let insert = if inner.starts_with('}') {
                    member
                } else {
                    format!("{member}, ")
                };
                let at = start + 1 + (text[start + 1..].len() - inner.len());
                return Some(TextEdit {
                    start: at,
                    end: at,
                    insert,
                });
            }
            if text[start..].starts_with(['[', '-', '|', '>', '"', '\'']) {
                return None;
            }
            // A block mapping starts at its first key: the new member goes
            // before it, at the same column.
            let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
            let indent = " ".repeat(at.column.saturating_sub(1) as usize);
            Some(TextEdit {
                start,
                end: start,
                insert: format!("{key}: {}{newline}{indent}", scalar(value, 'p', false)?),
            })
        }
    }
}

/// Whether the node at `pointer` is a flow collection (`[...]`, `{...}`).
fn in_flow(text: &str, spans: &SpanIndex, pointer: &str) -> bool {
    spans
        .get(pointer)
        .and_then(|s| offset(text, s.value))
        .is_some_and(|o| text[o..].starts_with(['[', '{']))
}

/// The byte offset of a 1-based line and character column.
fn offset(text: &str, at: Position) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..at.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line = &text[line_start..];
    let column = at.column.checked_sub(1)? as usize;
    match line.char_indices().nth(column) {
        Some((i, _)) => Some(line_start + i),
        None => (line.chars().count() == column).then_some(line_start + line.len()),
    }
}

/// Where the one-line scalar starting at `start` ends.
fn scalar_end(text: &str, start: usize, flow: bool) -> Option<usize> {
    let rest = &text[start..];
    let first = rest.chars().next()?;
    let end = match first {
        '"' => {
            let mut escaped = false;
            let mut close = None;
            for (i, c) in rest.char_indices().skip(1) {
                match c {
                    '\n' => return None,
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        close = Some(i + 1);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            close?
        }
        '\'' => {
            let bytes = rest.as_bytes();
            let mut i = 1;
            loop {
                match bytes.get(i)? {
                    b'\n' => return None,
                    b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
                    b'\'' => break i + 1,
                    _ => i += 1,
                }
            }
        }
        '|' | '>' | '[' | '{' | '&' | '*' | '!' => return None,
        _ => {
            let line_end = rest.find(['\n', '\r']).unwrap_or(rest.len());
            let mut end = line_end;
            if let Some(comment) = rest[..line_end].find(" #") {
                end = end.min(comment);
            }
            if flow && let Some(stop) = rest[..line_end].find([',', ']', '}']) {
                end = end.min(stop);
            }
            rest[..end].trim_end().len()
        }
    };
    Some(start + end)
}

/// A scalar written in the style of the one it replaces: `"` and `'`
/// keep their quotes, plain stays plain where YAML reads it back as the
/// same string (`k` is a mapping key, `p` a new plain value).
fn scalar(value: &Value, style: char, flow: bool) -> Option<String> {
    let Value::String(s) = value else {
        return None;
    };
    let plain_ok =
        crate::yaml::emit::plain_is_safe(s) && !(flow && s.contains([',', '[', ']', '{', '}']));
    Some(match style {
        '\'' => format!("'{}'", s.replace('\'', "''")),
        '"' => serde_json::to_string(s).ok()?,
        _ if plain_ok => s.clone(),
        _ => serde_json::to_string(s).ok()?,
    })
}
