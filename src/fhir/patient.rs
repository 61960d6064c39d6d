//! Pure display of people (Patient, Practitioner, RelatedPerson): the banner's name, birth date,
//! gender and identifiers. Everything returned is plain text for the UI to render as text.

use serde_json::Value;

/// A HumanName (FHIR R4 §2.24.0.9) as one line: `text` if given, else prefix, given, family, suffix.
pub fn human_name(name: &Value) -> Option<String> {
    if let Some(t) = name["text"].as_str().filter(|t| !t.trim().is_empty()) {
        return Some(t.trim().to_string());
    }
    let list = |k: &str| -> Vec<&str> {
        name[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    let mut parts: Vec<&str> = list("prefix");
    parts.extend(list("given"));
    if let Some(f) = name["family"].as_str() {
        parts.push(f);
    }
    parts.extend(list("suffix"));
    let s = parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!s.is_empty()).then_some(s)
}

/// The person's name: the `official` one if any, else `usual`, else the first.
pub fn display_name(resource: &Value) -> String {
    let names = resource["name"].as_array().cloned().unwrap_or_default();
    let by_use = |u: &str| names.iter().find(|n| n["use"] == u);
    by_use("official")
        .or_else(|| by_use("usual"))
        .or_else(|| names.first())
        .and_then(human_name)
        .unwrap_or_else(|| "(no name recorded)".to_string())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientSummary {
    pub id: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    /// `(label, value)`, e.g. `("MRN", "MRN100000")`.
    pub identifiers: Vec<(String, String)>,
}

pub fn summarize(patient: &Value) -> PatientSummary {
    let identifiers = patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            let value = i["value"].as_str()?.to_string();
            let label = i["type"]["text"]
                .as_str()
                .or_else(|| i["type"]["coding"][0]["code"].as_str())
                .or_else(|| i["system"].as_str())
                .unwrap_or("ID")
                .to_string();
            Some((label, value))
        })
        .collect();
    PatientSummary {
        id: patient["id"].as_str().unwrap_or_default().to_string(),
        name: display_name(patient),
        birth_date: patient["birthDate"].as_str().map(str::to_string),
        gender: patient["gender"].as_str().map(str::to_string),
        identifiers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        let p = json!({"name":[{"use":"nickname","given":["Bob"]},{"use":"official","family":"Smith","given":["Robert","J"],"prefix":["Mr."]}]});
        assert_eq!(display_name(&p), "Mr. Robert J Smith");
        assert_eq!(
            display_name(&json!({"name":[{"text":"  Dr. Who "}]})),
            "Dr. Who"
        );
        assert_eq!(display_name(&json!({})), "(no name recorded)");
        assert_eq!(
            display_name(&json!({"name":[{"given":[42]}]})),
            "(no name recorded)"
        );
        let odd = json!({"name":[{"family":"O'Connor-Ñúñez","given":["<b>Zoë</b>","نور"]}]});
        assert_eq!(display_name(&odd), "<b>Zoë</b> نور O'Connor-Ñúñez");
    }

    #[test]
    fn summary() {
        let p = json!({"id":"p1","gender":"female","birthDate":"1980-02-03","identifier":[{"type":{"text":"MRN"},"value":"123"},{"system":"urn:x","value":"9"},{"system":"urn:y"}]});
        let s = summarize(&p);
        assert_eq!(
            s.identifiers,
            vec![("MRN".into(), "123".into()), ("urn:x".into(), "9".into())]
        );
        assert_eq!(s.birth_date.as_deref(), Some("1980-02-03"));
        assert_eq!(s.gender.as_deref(), Some("female"));
    }
}
