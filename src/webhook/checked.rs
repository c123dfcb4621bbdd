//! The object of a review, read as the check core needs it: what the
//! rules read is built, the rest (managed fields, the last-applied copy,
//! `status`) is read past without being built.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// An object as a plain value, holding only what the check core reads:
/// everything but `metadata` and `status` as sent; of `metadata`, `name`,
/// `namespace`, `generateName` and the `kexpose.dev/suppress` annotation.
///
/// The rest of `metadata` (managedFields, labels, the last-applied
/// annotation that repeats the whole object) and the controller's `status`
/// often outweigh the spec, no rule reads them, and the API server has
/// already validated them as ObjectMeta (maps of strings) and against the
/// CRD, so the schema finds nothing in them either: leaving them out
/// changes no finding, and they are skipped without being built.
pub(super) struct Checked(pub(super) Value);

/// How one level of the object is read.
#[derive(Clone, Copy)]
enum Level {
    /// The object itself.
    Object,
    /// `metadata`.
    Metadata,
    /// `metadata.annotations`.
    Annotations,
}

/// What becomes of one member of a mapping.
enum Member {
    /// Kept as sent.
    Keep,
    /// Kept, its members chosen in turn.
    Within(Level),
    /// Read past, never built.
    Skip,
}

impl Level {
    fn member(self, key: &str) -> Member {
        match (self, key) {
            (Level::Object, "metadata") => Member::Within(Level::Metadata),
            (Level::Object, "status") => Member::Skip,
            (Level::Object, _) => Member::Keep,
            (Level::Metadata, "annotations") => Member::Within(Level::Annotations),
            (Level::Metadata, "name" | "namespace" | "generateName") => Member::Keep,
            (Level::Metadata, _) => Member::Skip,
            (Level::Annotations, crate::check::organisation::SUPPRESS) => Member::Keep,
            (Level::Annotations, _) => Member::Skip,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Level::Object).map(Checked)
    }
}

impl<'de> Visitor<'de> for Level {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Value, M::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let value = match self.member(&key) {
                Member::Skip => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Member::Within(level) => map.next_value_seed(level)?,
                Member::Keep => map.next_value()?,
            };
            out.insert(key.into_owned(), value);
        }
        Ok(Value::Object(out))
    }
    // Anything but a mapping is kept as it is, for the check to refuse.
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<Value, S::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}
