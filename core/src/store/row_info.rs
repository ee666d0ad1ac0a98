//! A key's info as a stored row holds it: [`KeyInfo`], with the metadata
//! kept as JSON text.
//!
//! A parsed metadata map of a few entries costs a B-tree node of eleven
//! slots (about 640 bytes) plus an allocation per string, most of a cached
//! row's memory for a key with any metadata. As text it costs one
//! allocation of its own length, or none when empty. Every `KeyInfo` handed
//! out parses it again, where it used to copy the map; both allocate the
//! same node and strings. Most metadata is a flat map of strings, which
//! `flat_strings` reads in about 1.5 times what the copy took (for two
//! entries, 210–320 ns against 130–220 ns, measured alone); the JSON
//! parser, which reads the rest, takes about twice the copy's time.

use std::ops::{Deref, DerefMut};

use serde_json::Value;

use super::row::bad_json;
use crate::error::Result;
use crate::model::{KeyInfo, Metadata};

/// [`KeyInfo`] with its metadata as text. It reads as a `KeyInfo` (through
/// `Deref`) for every field but `metadata`, which names the text: the map
/// inside is always empty, and `row.info.metadata` reaches the text, never
/// that map. A `RowInfo` is not a `KeyInfo`, so no row's info leaves the
/// store but through `into_info`, which puts the metadata back, or a copy
/// that parses it (a cached verify's `info_as_proved`).
#[derive(Clone, Debug)]
pub(crate) struct RowInfo {
    fields: KeyInfo,
    /// The key's metadata.
    pub metadata: MetadataText,
}

impl RowInfo {
    /// Holds `info`, its metadata as text.
    pub(crate) fn new(mut info: KeyInfo) -> RowInfo {
        let metadata = MetadataText::new(&std::mem::take(&mut info.metadata));
        RowInfo { fields: info, metadata }
    }

    /// The `KeyInfo` this holds, its metadata parsed.
    pub(crate) fn into_info(self) -> KeyInfo {
        KeyInfo { metadata: self.metadata.parse(), ..self.fields }
    }
}

impl Deref for RowInfo {
    type Target = KeyInfo;

    fn deref(&self) -> &KeyInfo {
        &self.fields
    }
}

impl DerefMut for RowInfo {
    fn deref_mut(&mut self) -> &mut KeyInfo {
        &mut self.fields
    }
}

/// Metadata as compact JSON text; `None` for no metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MetadataText(Option<Box<str>>);

impl MetadataText {
    /// `metadata` as text. The map came from a client or from this type's
    /// own `parse`; either way `parse` reads its text back (see `parse`).
    pub(crate) fn new(metadata: &Metadata) -> MetadataText {
        if metadata.is_empty() {
            return MetadataText(None);
        }
        // Serialising a map of JSON values cannot fail: its keys are strings.
        MetadataText(serde_json::to_string(metadata).ok().map(String::into_boxed_str))
    }

    /// Metadata text from the store: refused unless it is a JSON object,
    /// then held as written (it parses to the same map either way).
    pub(crate) fn from_stored(text: &str) -> Result<MetadataText> {
        let map: Metadata = serde_json::from_str(text).map_err(|e| bad_json("metadata", e))?;
        Ok(if map.is_empty() { MetadataText(None) } else { MetadataText(Some(text.into())) })
    }

    /// The text, as the metadata column holds it.
    pub(crate) fn as_json(&self) -> &str {
        self.0.as_deref().unwrap_or("{}")
    }

    /// The map. Every text held was either read from the store by
    /// `from_stored`, which parsed it, or written by `new` from a map that
    /// `checks::validate_metadata` (or an earlier `parse`) proved reads
    /// back; so this never fails, and an empty map would only ever stand
    /// for a text that cannot exist.
    pub(crate) fn parse(&self) -> Metadata {
        match &self.0 {
            None => Metadata::new(),
            Some(text) => flat_strings(text).or_else(|| serde_json::from_str(text).ok()).unwrap_or_else(|| {
                debug_assert!(false, "metadata text that does not parse: {text}");
                Metadata::new()
            }),
        }
    }
}

/// The map of `text` when it is `{"key":"value",...}` exactly: no
/// whitespace, every value a string, no backslash anywhere (so no escape);
/// `None` for anything else. Every text a `MetadataText` holds is valid
/// JSON (see `parse`), in which a string with no backslash ends at the next
/// quote; so what this accepts, the JSON parser reads as the same map (a
/// key given twice keeps its last value in both).
fn flat_strings(text: &str) -> Option<Metadata> {
    let mut map = Metadata::new();
    let mut rest = text.strip_prefix('{')?;
    if rest == "}" {
        return Some(map);
    }
    loop {
        let (key, after) = quoted(rest)?;
        let (value, after) = quoted(after.strip_prefix(':')?)?;
        map.insert(key.to_owned(), Value::String(value.to_owned()));
        match after.as_bytes().first()? {
            b',' => rest = &after[1..],
            b'}' if after.len() == 1 => return Some(map),
            _ => return None,
        }
    }
}

/// The text of the string `s` starts with, and what follows it; `None` if
/// `s` does not start with a string, or the string has an escape.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('"')?;
    let end = s.find(['"', '\\'])?;
    (s.as_bytes()[end] == b'"').then(|| (&s[..end], &s[end + 1..]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn metadata_reads_back_as_it_was_given() {
        let given = json!({ "plan": "pro", "nested": { "a": [1, 2.5, null, true], "é": "\u{1F511}\n" } });
        let map = given.as_object().unwrap().clone();
        let text = MetadataText::new(&map);
        assert_eq!(text.parse(), map);
        assert_eq!(MetadataText::from_stored(text.as_json()).unwrap(), text);
        assert_eq!(MetadataText::new(&Metadata::new()), MetadataText(None), "no allocation when empty");
        assert_eq!(MetadataText(None).as_json(), "{}");
        assert_eq!(MetadataText::from_stored("{}").unwrap(), MetadataText(None));
        // Text another tool wrote is held as written and reads as its map.
        let spaced = MetadataText::from_stored("{ \"b\": 1, \"a\": 2 }").unwrap();
        assert_eq!(spaced.as_json(), "{ \"b\": 1, \"a\": 2 }");
        assert_eq!(spaced.parse(), json!({ "a": 2, "b": 1 }).as_object().unwrap().clone());
        for bad in ["[]", "1", "{", "", "{\"a\":1}x"] {
            assert_eq!(MetadataText::from_stored(bad).unwrap_err().code().as_str(), "STORE_ERROR", "{bad:?}");
        }
    }

    /// Strings a client might put in metadata, escapes and all.
    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("([a-z:_\\-]|\"|\\\\|\n|\u{0}|é|🔑| ){0,12}").unwrap()
    }

    proptest::proptest! {
        #[test]
        fn flat_strings_reads_what_the_json_parser_reads(
            entries in proptest::collection::vec((text(), text(), 0..3, proptest::num::f64::ANY), 0..6)
        ) {
            // String values, and some numbers among them (floats must come
            // back to the bit: serde_json's `float_roundtrip`), as the store writes them.
            let map: Metadata = entries
                .into_iter()
                .map(|(k, v, kind, x)| {
                    let value = match kind {
                        0 => Value::String(v),
                        1 => Value::from(v.len()),
                        // Not a number and the infinities are no JSON; `from_f64` refuses them.
                        _ => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
                    };
                    (k, value)
                })
                .collect();
            let text = serde_json::to_string(&map).unwrap();
            if let Some(flat) = flat_strings(&text) {
                proptest::prop_assert_eq!(&flat, &map);
            }
            proptest::prop_assert_eq!(MetadataText::new(&map).parse(), map);
        }
    }

    #[test]
    fn flat_strings_takes_only_plain_flat_maps() {
        let flat = |t: &str| flat_strings(t).map(|m| serde_json::to_string(&m).unwrap());
        assert_eq!(flat(r#"{"b":"x y","a":""}"#).as_deref(), Some(r#"{"a":"","b":"x y"}"#));
        assert_eq!(flat(r#"{"a":"1","a":"2"}"#), flat(r#"{"a":"2"}"#), "the last of a key given twice, as the parser");
        assert_eq!(serde_json::from_str::<Metadata>(r#"{"a":"1","a":"2"}"#).unwrap()["a"], "2");
        for other in [r#"{"a":1}"#, r#"{"a":"\n"}"#, r#"{ "a":"b"}"#, r#"{"a":"b" }"#, r#"{"a":{"b":"c"}}"#, "[]"] {
            assert_eq!(flat(other), None, "{other}");
        }
    }

    #[test]
    fn a_row_info_gives_back_the_info_it_took() {
        let mut info = crate::store::row::KeyRow::for_tests("abc", 3).info.into_info();
        info.metadata = json!({ "team": "billing" }).as_object().unwrap().clone();
        let row = RowInfo::new(info.clone());
        assert!(row.fields.metadata.is_empty(), "the map inside stays empty");
        assert_eq!(row.usage_count, 3);
        assert_eq!(row.into_info(), info);
    }
}
