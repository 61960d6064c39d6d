//! Typed records from JSON documents with serde, and errors that name the field at fault
//! without echoing its value: a token response's values are secrets, and an administrator
//! fixing `config.json` needs the entry and the field, not serde's wording.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// One step of the path to the value that did not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Member(String),
    Index(usize),
}

/// Where a document did not fit its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// From the document's root to the value that did not fit (or to the object that lacks a
    /// required member).
    pub path: Vec<Step>,
    /// The required member that is missing, if that was the fault.
    pub missing: Option<String>,
}

impl FieldError {
    /// The member at fault directly below the object at `path[..depth]`: a missing one, or the
    /// one whose value did not fit.
    pub fn field_at(&self, depth: usize) -> Option<&str> {
        match self.path.get(depth) {
            Some(Step::Member(m)) => Some(m),
            Some(Step::Index(_)) => None,
            None if self.path.len() == depth => self.missing.as_deref(),
            None => None,
        }
    }
}

/// Deserialises `value` into `T`, reporting where it did not fit.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|s| match s {
                serde_path_to_error::Segment::Map { key } => Some(Step::Member(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        // serde words a missing member as "missing field `name`" (`de::Error::missing_field`).
        let message = e.into_inner().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        FieldError { path, missing }
    })
}

/// A boolean, or a boolean written as a string (`"false"`, any case), as some EHRs write them
/// (Epic's `need_patient_banner`); absent or `null` is `None`, anything else is refused. For
/// `#[serde(default, deserialize_with = "fields::lenient_bool")]` on an `Option<bool>`.
pub fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    use serde::de::Error as _;
    use serde::Deserialize as _;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(D::Error::custom("not a boolean")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        list: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        on: Option<bool>,
    }

    #[test]
    fn names_the_field_and_never_the_value() {
        let e = from_value::<Doc>(
            serde_json::json!({"list":[{"name":"a"},{"name":"SECRET","on":"SECRET"}]}),
        )
        .unwrap_err();
        assert_eq!(
            e.path,
            vec![
                Step::Member("list".into()),
                Step::Index(1),
                Step::Member("on".into())
            ]
        );
        assert_eq!(e.field_at(2), Some("on"));
        assert!(!format!("{e:?}").contains("SECRET"));
        let e = from_value::<Doc>(serde_json::json!({"list":[{"on":true}]})).unwrap_err();
        assert_eq!(e.missing.as_deref(), Some("name"));
        assert_eq!(e.field_at(2), Some("name"));
        assert_eq!(e.field_at(1), None);
        let e = from_value::<Doc>(serde_json::json!({"list":[7]})).unwrap_err();
        assert_eq!(e.path.len(), 2);
        assert_eq!(e.field_at(2), None);
    }
}
