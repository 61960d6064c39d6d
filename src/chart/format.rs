//! Small text formatters for FHIR datatypes.

use serde_json::Value;

/// A CodeableConcept as text: `text`, else the first coding's `display`, else its `code`.
pub fn concept(v: &Value) -> Option<String> {
    if let Some(t) = v["text"].as_str().filter(|t| !t.trim().is_empty()) {
        return Some(t.to_string());
    }
    let codings = v["coding"].as_array()?;
    codings
        .iter()
        .find_map(|c| c["display"].as_str().filter(|d| !d.is_empty()))
        .or_else(|| codings.iter().find_map(|c| c["code"].as_str()))
        .map(str::to_string)
}

/// The first coding's code of a CodeableConcept with the given system.
pub fn code_in(v: &Value, system: &str) -> Option<String> {
    v["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == system)
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
}

/// A number with at most `decimals` places and no trailing zeros: 72, 36.8, 1.05. Halves round
/// away from zero (-7.25 → -7.3), as a clinician rounds; what is not a number reads as 0.
pub fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let decimals = decimals.min(9);
    let scale = 10f64.powi(decimals as i32);
    // `+ 0.0` turns a rounded -0 into 0.
    let rounded = (v * scale).round() / scale + 0.0;
    let s = format!("{rounded:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A Quantity as "value unit", the value as the server wrote it: a decimal's trailing zeros
/// are its recorded precision (4.0 mmol/L is not 4 mmol/L; FHIR R4 §2.1.28.0.1 "decimal").
/// serde_json keeps each number's text (its `arbitrary_precision` feature); a number in
/// exponent form, or absurdly long, is shown rounded instead.
pub fn quantity(q: &Value) -> Option<String> {
    let n = q["value"].as_number()?;
    let v = n.as_f64().filter(|v| v.is_finite())?;
    let written = n.to_string();
    let shown = if written.len() <= 24
        && written
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        written
    } else {
        number(v, 3)
    };
    let unit = q["unit"]
        .as_str()
        .or_else(|| q["code"].as_str())
        .unwrap_or("");
    let comparator = q["comparator"].as_str().unwrap_or("");
    Some(format!("{comparator}{shown} {unit}").trim().to_string())
}

/// Capitalises a FHIR code for display: `in-progress` -> `In progress`.
pub fn code_label(code: &str) -> String {
    let spaced = code.replace(['-', '_'], " ");
    let mut c = spaced.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn concepts_and_quantities() {
        assert_eq!(
            concept(&json!({"text":"Hypertension","coding":[{"display":"x"}]})).as_deref(),
            Some("Hypertension")
        );
        assert_eq!(
            concept(&json!({"coding":[{"code":"a"},{"display":"B"}]})).as_deref(),
            Some("B")
        );
        assert_eq!(
            concept(&json!({"coding":[{"code":"a"}]})).as_deref(),
            Some("a")
        );
        assert_eq!(concept(&json!({})), None);
        let q = |text: &str| quantity(&serde_json::from_str(text).unwrap());
        assert_eq!(
            q(r#"{"value":72,"unit":"beats/minute"}"#).as_deref(),
            Some("72 beats/minute")
        );
        assert_eq!(
            q(r#"{"value":1.050,"code":"mg/dL","comparator":"<"}"#).as_deref(),
            Some("<1.050 mg/dL"),
            "the recorded precision"
        );
        assert_eq!(
            q(r#"{"value":4.0,"unit":"mmol/L"}"#).as_deref(),
            Some("4.0 mmol/L")
        );
        assert_eq!(q(r#"{"value":1.5e2,"unit":"x"}"#).as_deref(), Some("150 x"));
        assert_eq!(q(r#"{"value":1e999,"unit":"x"}"#), None);
        assert_eq!(quantity(&json!({"unit":"x"})), None);
        assert_eq!(number(36.80, 2), "36.8");
        assert_eq!(number(100.0, 1), "100");
        assert_eq!(number(1.05, 3), "1.05");
        assert_eq!(number(0.004, 2), "0");
        assert_eq!(number(-0.004, 2), "0");
        assert_eq!(number(-7.25, 1), "-7.3");
        assert_eq!(number(120.049, 1), "120");
        assert_eq!(number(0.0625, 4), "0.0625");
        assert_eq!(number(3.5, 0), "4");
        assert_eq!(number(f64::NAN, 1), "0");
        assert_eq!(code_label("in-progress"), "In progress");
        assert_eq!(
            code_in(
                &json!({"coding":[{"system":"a","code":"1"},{"system":"b","code":"2"}]}),
                "b"
            )
            .as_deref(),
            Some("2")
        );
    }
}
