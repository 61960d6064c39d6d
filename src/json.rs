//! JSON (RFC 8259): one small reader and writer for everything the app exchanges: SMART
//! configuration, token responses, JWKS and id_token claims, FHIR resources, the app's own
//! configuration and what it keeps in sessionStorage.
//!
//! Why not serde_json: it and the derived (de)serialisers were ~100 KB of the wasm download,
//! more than the whole budget allows for the protocol code (issue 5, transfer size). Everything
//! here reads a document into a [`Json`] tree and picks fields out of it, which is also how FHIR
//! resources are best handled: open-ended, with unknown fields kept.
//!
//! The reader is strict: the RFC grammar, no trailing commas or comments, no control characters
//! or lone surrogates in strings, nesting limited to [`MAX_DEPTH`] so a hostile document cannot
//! exhaust the stack. A repeated member name keeps the last value, as `JSON.parse` does and
//! RFC 7519 §4 allows.

use std::fmt;
use std::ops::{Index, IndexMut};

/// Deeper documents are refused (serde_json's default limit too).
pub const MAX_DEPTH: usize = 128;

/// A JSON value. Objects keep their members in document order; equality ignores that order.
#[derive(Clone, Debug, Default)]
pub enum Json {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

/// An object's member names, sorted, each once.
fn names(m: &[(String, Json)]) -> Vec<&str> {
    let mut n: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
    n.sort_unstable();
    n.dedup();
    n
}

impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Null, Json::Null) => true,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Number(a), Json::Number(b)) => a == b,
            (Json::String(a), Json::String(b)) => a == b,
            (Json::Array(a), Json::Array(b)) => a == b,
            (Json::Object(a), Json::Object(b)) => {
                // Compared by the value each name reads as (the last of repeated names).
                let (na, nb) = (names(a), names(b));
                na == nb && na.into_iter().all(|k| self.get(k) == other.get(k))
            }
            _ => false,
        }
    }
}

/// Why a text is not JSON, and where (a byte offset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub expected: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not valid JSON: {} at byte {}",
            self.expected, self.offset
        )
    }
}

impl std::error::Error for JsonError {}

impl Json {
    /// Reads a whole document; anything after the value but whitespace is an error.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut r = Reader {
            text,
            s: text.as_bytes(),
            i: 0,
        };
        let v = r.value(0)?;
        r.ws();
        if r.i != r.s.len() {
            return Err(r.err("the end of the document"));
        }
        Ok(v)
    }

    /// [`Json::parse`] of bytes that must be UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Json, JsonError> {
        let text = std::str::from_utf8(bytes).map_err(|e| JsonError {
            offset: e.valid_up_to(),
            expected: "UTF-8 text",
        })?;
        Json::parse(text)
    }

    /// An object from `(name, value)` pairs.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A member of an object (the last one of that name); `None` for other values.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// For reading back what the app stored: `Some(None)` for a missing or null member,
    /// `Some(Some(..))` for a string, `None` (tampered) for anything else.
    pub fn opt_string(&self, name: &str) -> Option<Option<String>> {
        match &self[name] {
            Json::Null => Some(None),
            Json::String(s) => Some(Some(s.clone())),
            _ => None,
        }
    }

    /// For reading back what the app stored: a required string member.
    pub fn string(&self, name: &str) -> Option<String> {
        self[name].as_str().map(str::to_string)
    }

    /// A member to change or move out (the last one of that name).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Json> {
        match self {
            Json::Object(m) => m.iter_mut().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A whole non-negative number that an f64 holds exactly (below 2^53).
    pub fn as_u64(&self) -> Option<u64> {
        let n = self.as_f64()?;
        (n >= 0.0 && n.fract() == 0.0 && n < 9_007_199_254_740_992.0).then_some(n as u64)
    }

    /// A whole number that an f64 holds exactly (magnitude below 2^53).
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.as_f64()?;
        (n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0).then_some(n as i64)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Json::String(_))
    }

    /// Moves the value out, leaving `null`.
    pub fn take(&mut self) -> Json {
        std::mem::take(self)
    }

    /// Sets (or replaces) a member; turns a non-object into an empty object first.
    pub fn set(&mut self, name: &str, value: Json) {
        if !self.is_object() {
            *self = Json::Object(Vec::new());
        }
        if let Json::Object(m) = self {
            match m.iter_mut().rev().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = value,
                None => m.push((name.to_string(), value)),
            }
        }
    }

    /// The compact JSON text of this value.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => write_number(*n, out),
            Json::String(s) => write_string(s, out),
            Json::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Whole numbers (all the app writes: times in milliseconds) are written exactly; others with
/// up to nine decimals, which avoids Rust's float formatting code (see the module docs). JSON
/// has no NaN or infinity: they are written as `null`.
fn write_number(n: f64, out: &mut String) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        out.push_str(&(n as i64).to_string());
    } else {
        out.push_str(&crate::chart::format::number(n, 9));
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Index<&str> for Json {
    type Output = Json;
    /// Like a JavaScript property read: a missing member, or a non-object, gives `null`.
    fn index(&self, name: &str) -> &Json {
        self.get(name).unwrap_or(&NULL)
    }
}

impl fmt::Display for Json {
    /// The compact JSON text, as [`Json::to_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl IndexMut<&str> for Json {
    /// Like serde_json: a missing member is added as `null`, a non-object becomes `{}` first.
    fn index_mut(&mut self, name: &str) -> &mut Json {
        if self.get(name).is_none() {
            self.set(name, Json::Null);
        }
        match self.get_mut(name) {
            Some(v) => v,
            None => unreachable!("set makes an object with the member"),
        }
    }
}

impl Index<usize> for Json {
    type Output = Json;
    fn index(&self, i: usize) -> &Json {
        match self {
            Json::Array(a) => a.get(i).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
}

impl PartialEq<str> for Json {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Json {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(s.to_string())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<u64> for Json {
    fn from(n: u64) -> Json {
        Json::Number(n as f64)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}

/// Test documents are written with serde_json's `json!` (a native dev-dependency) and converted.
#[cfg(test)]
impl From<serde_json::Value> for Json {
    fn from(v: serde_json::Value) -> Json {
        use serde_json::Value as V;
        match v {
            V::Null => Json::Null,
            V::Bool(b) => Json::Bool(b),
            V::Number(n) => Json::Number(n.as_f64().unwrap_or(f64::NAN)),
            V::String(s) => Json::String(s),
            V::Array(a) => Json::Array(a.into_iter().map(Json::from).collect()),
            V::Object(m) => Json::Object(m.into_iter().map(|(k, v)| (k, Json::from(v))).collect()),
        }
    }
}

/// `json!({...})` for unit tests: serde_json's macro, converted to [`Json`].
#[cfg(test)]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::json::Json::from(serde_json::json!($($t)+))
    };
}
#[cfg(test)]
pub(crate) use json;

struct Reader<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn err(&self, expected: &'static str) -> JsonError {
        JsonError {
            offset: self.i,
            expected,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&b);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn literal(&mut self, word: &'static str, v: Json) -> Result<Json, JsonError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("less nesting"));
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat(b'}') {
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("a member name"));
                    }
                    let name = self.string()?;
                    self.ws();
                    if !self.eat(b':') {
                        return Err(self.err("`:`"));
                    }
                    let v = self.value(depth + 1)?;
                    members.push((name, v));
                    self.ws();
                    if self.eat(b'}') {
                        return Ok(Json::Object(members));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("`,` or `}`"));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']') {
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(b']') {
                        return Ok(Json::Array(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("`,` or `]`"));
                    }
                }
            }
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("a value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.i;
        self.eat(b'-');
        if self.eat(b'0') {
            if self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                return Err(self.err("no leading zero"));
            }
        } else if self.digits() == 0 {
            return Err(self.err("a digit"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            return Err(self.err("a digit after `.`"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return Err(self.err("an exponent"));
            }
        }
        // The slice is ASCII by construction and matches Rust's float grammar.
        let text = self
            .text
            .get(start..self.i)
            .ok_or_else(|| self.err("a number"))?;
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Json::Number(n)),
            _ => Err(JsonError {
                offset: start,
                expected: "a number within range",
            }),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.s.get(self.i) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("four hex digits")),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            // Copy the run of plain characters at once: it starts and ends next to ASCII bytes,
            // so both ends are character boundaries.
            let start = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(
                self.text
                    .get(start..self.i)
                    .ok_or_else(|| self.err("UTF-8"))?,
            );
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.err("the second half of a surrogate pair"));
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("the second half of a surrogate pair"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(
                                char::from_u32(code)
                                    .ok_or_else(|| self.err("a character, not a lone surrogate"))?,
                            );
                            continue;
                        }
                        _ => return Err(self.err("an escape")),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.err("no control characters in a string")),
                None => return Err(self.err("the end of the string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rfc_grammar() {
        let v = Json::parse(
            r#" {"a": [1, -2.5, 3e2, 0, -0.0, 1E-2], "b": {"c": null, "d": true, "e": false},
                "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "": ""} "#,
        )
        .unwrap();
        assert_eq!(v["a"][1].as_f64(), Some(-2.5));
        assert_eq!(v["a"][2].as_u64(), Some(300));
        assert_eq!(v["a"][5].as_f64(), Some(0.01));
        assert_eq!(v["b"]["c"], Json::Null);
        assert_eq!(v["b"]["d"].as_bool(), Some(true));
        assert_eq!(v["s"], "x\"\\/\u{8}\u{c}\n\r\té😀");
        assert_eq!(v[""], "");
        assert!(v["missing"]["deeper"][3].is_null());
        assert_eq!(Json::parse("\"é😀\"").unwrap(), "é😀");
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "'x'",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "NaN",
            "Infinity",
            "1e400",
            "tru",
            "nul",
            "[1 2]",
            "{\"a\" 1}",
            "\"\\x\"",
            "\"a",
            "\"\t\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "{} x",
            "// c\n{}",
            "[1]]",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(Json::parse_bytes(b"\"\xff\"").is_err());
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(Json::parse(&deep).unwrap_err().expected, "less nesting");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(Json::parse(&ok).is_ok());
        assert_eq!(
            Json::parse("[1, x]").unwrap_err().to_string(),
            "not valid JSON: a value at byte 4"
        );
    }

    #[test]
    fn repeated_names_keep_the_last_value() {
        let v = Json::parse(r#"{"iss":"a","iss":"b"}"#).unwrap();
        assert_eq!(v["iss"], "b");
        assert_eq!(v, Json::parse(r#"{"iss":"b"}"#).unwrap());
    }

    #[test]
    fn object_equality_ignores_member_order() {
        let a = Json::parse(r#"{"a":1,"b":[1,2]}"#).unwrap();
        assert_eq!(a, Json::parse(r#"{"b":[1,2],"a":1}"#).unwrap());
        assert_ne!(a, Json::parse(r#"{"b":[2,1],"a":1}"#).unwrap());
        assert_ne!(a, Json::parse(r#"{"a":1}"#).unwrap());
        assert_ne!(a, Json::parse(r#"{"a":1,"b":[1,2],"c":null}"#).unwrap());
    }

    #[test]
    fn numbers_outside_the_exact_range_are_not_integers() {
        assert_eq!(Json::Number(1.5).as_u64(), None);
        assert_eq!(Json::Number(-1.0).as_u64(), None);
        assert_eq!(Json::Number(-1.0).as_i64(), Some(-1));
        assert_eq!(Json::Number(9.1e15).as_u64(), None);
        assert_eq!(Json::String("1".into()).as_u64(), None);
    }

    #[test]
    fn writes_what_it_reads() {
        let text = r#"{"a":[1,-2.5,true,null,"q\"\\\n\u0001é"],"b":{},"c":1700000000000}"#;
        let v = Json::parse(text).unwrap();
        assert_eq!(v.to_text(), text);
        assert_eq!(Json::parse(&v.to_text()).unwrap(), v);
        assert_eq!(Json::Number(f64::NAN).to_text(), "null");
        let mut o = Json::Null;
        o.set("x", "1".into());
        o.set("y", Json::from(Some(2u64)));
        o.set("x", Json::from(None::<String>));
        assert_eq!(o.to_text(), r#"{"x":null,"y":2}"#);
    }

    #[test]
    fn agrees_with_serde_json_on_a_fhir_bundle() {
        let text = r#"{"resourceType":"Bundle","total":2,"link":[{"relation":"next","url":"https://x/fhir/Observation?page=2"}],
            "entry":[{"resource":{"resourceType":"Observation","valueQuantity":{"value":120.5,"unit":"mm[Hg]"},
            "code":{"text":"Blood \u2013 pressure"}}}]}"#;
        let ours = Json::parse(text).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, Json::from(theirs.clone()));
        assert_eq!(
            Json::from(serde_json::from_str::<serde_json::Value>(&ours.to_text()).unwrap()),
            ours
        );
    }
}
