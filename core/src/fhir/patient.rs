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

/// A short label for an identifier type code (HL7 v2 table 0203).
fn v2_type_label(code: &str) -> Option<&'static str> {
    Some(match code {
        "MR" => "MRN",
        "SS" => "SSN",
        "DL" => "Driver's licence",
        "PPN" => "Passport",
        "MB" => "Member ID",
        "MA" => "Medicaid",
        "MC" => "Medicare",
        "NI" | "NH" => "National ID",
        "PI" => "Patient ID",
        "PT" => "Patient external ID",
        "AN" => "Account",
        "NPI" => "NPI",
        _ => return None,
    })
}

/// A short label for a well-known identifier system.
fn system_label(system: &str) -> Option<&'static str> {
    Some(match system {
        "http://hl7.org/fhir/sid/us-ssn" | "urn:oid:2.16.840.1.113883.4.1" => "SSN",
        "http://hl7.org/fhir/sid/us-medicare" | "http://hl7.org/fhir/sid/us-mbi" => "Medicare",
        "http://hl7.org/fhir/sid/us-npi" | "urn:oid:2.16.840.1.113883.4.6" => "NPI",
        "https://fhir.nhs.uk/Id/nhs-number" => "NHS number",
        "http://ns.electronichealth.net.au/id/hi/ihi/1.0" => "IHI",
        "http://hl7.org/fhir/sid/passport-USA" => "Passport",
        _ => return None,
    })
}

/// How an identifier is labelled: its type's text, a known type code, the type's display, a
/// known system; never a raw URI (an unknown one reads "ID").
fn identifier_label(i: &Value) -> String {
    let t = &i["type"];
    let codings = t["coding"].as_array();
    t["text"]
        .as_str()
        .filter(|s| !s.trim().is_empty() && !s.contains("://") && !s.starts_with("urn:"))
        .map(str::to_string)
        .or_else(|| {
            codings
                .into_iter()
                .flatten()
                .find_map(|c| c["code"].as_str().and_then(v2_type_label))
                .map(str::to_string)
        })
        .or_else(|| {
            codings
                .into_iter()
                .flatten()
                .find_map(|c| c["display"].as_str().filter(|d| !d.trim().is_empty()))
                .map(str::to_string)
        })
        .or_else(|| {
            i["system"]
                .as_str()
                .and_then(system_label)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "ID".to_string())
}

/// A US Social Security number shows its last four digits only: a banner is read over
/// shoulders and in screenshots, and the number identifies the person everywhere.
fn shown_value(label: &str, value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let ssn_shaped = digits.len() == 9
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
    if label == "SSN" || ssn_shaped {
        let last: String = digits.iter().skip(digits.len().saturating_sub(4)).collect();
        return format!("•••-••-{last}");
    }
    value.to_string()
}

pub fn summarize(patient: &Value) -> PatientSummary {
    let identifiers: Vec<(String, String)> = patient["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        // A retired identifier is not the patient's now.
        .filter(|i| i["use"] != "old")
        .filter_map(|i| {
            let value = i["value"].as_str().filter(|v| !v.trim().is_empty())?;
            let label = identifier_label(i);
            let shown = shown_value(&label, value);
            Some((label, shown))
        })
        .collect();
    // The MRN first, so that it is shown however many identifiers come before it (each group
    // keeps the server's order).
    let (mut identifiers, others): (Vec<_>, Vec<_>) = identifiers
        .into_iter()
        .partition(|(label, _)| label == "MRN");
    identifiers.extend(others);
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
        let p = json!({"id":"p1","gender":"female","birthDate":"1980-02-03","identifier":[
            {"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-12-3456"},
            {"system":"urn:x","value":"9"},
            {"system":"urn:y"},
            {"use":"old","type":{"text":"MRN"},"value":"OLD-1"},
            {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"DL"}]},"value":"D123"},
            {"type":{"text":"http://example.org/type"},"system":"https://example.org/ids","value":"X7"},
            {"value":"123 45 6789"},
            {"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"value":"123"}]});
        let s = summarize(&p);
        assert_eq!(
            s.identifiers,
            vec![
                ("MRN".into(), "123".into()),
                ("SSN".into(), "•••-••-3456".into()),
                ("ID".into(), "9".into()),
                ("Driver's licence".into(), "D123".into()),
                ("ID".into(), "X7".into()),
                ("ID".into(), "•••-••-6789".into()),
            ],
            "MRN first, SSNs masked, never a URI as a label, retired ones left out"
        );
        assert_eq!(s.birth_date.as_deref(), Some("1980-02-03"));
        assert_eq!(s.gender.as_deref(), Some("female"));
    }
}
