//! Small text formatters for FHIR datatypes.

use crate::json::Json;

/// A CodeableConcept as text: `text`, else the first coding's `display`, else its `code`.
pub fn concept(v: &Json) -> Option<String> {
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
pub fn code_in(v: &Json, system: &str) -> Option<String> {
    v["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == system)
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
}

/// A number with at most `decimals` places and no trailing zeros: 72, 36.8, 1.05.
///
/// Written out by hand rather than with `format!("{v:.2}")`: Rust's float formatting
/// (Grisu/Dragon4 and their tables) would be the only user of ~20 KB of the download (issue 5).
/// Values beyond 2^128 (never a clinical measurement) print as that bound.
pub fn number(v: f64, decimals: usize) -> String {
    let decimals = decimals.min(9) as u32;
    let scale = 10u128.pow(decimals);
    // `as` saturates and maps NaN to 0, so no input can panic here.
    let scaled = (v.abs() * scale as f64).round() as u128;
    let (int, frac) = (scaled / scale, scaled % scale);
    let mut s = String::new();
    if v < 0.0 && scaled != 0 {
        s.push('-');
    }
    s.push_str(&int.to_string());
    if frac != 0 {
        let digits = frac.to_string();
        s.push('.');
        for _ in digits.len()..decimals as usize {
            s.push('0');
        }
        s.push_str(digits.trim_end_matches('0'));
    }
    s
}

/// A Quantity as "value unit".
pub fn quantity(q: &Json) -> Option<String> {
    let v = q["value"].as_f64()?;
    let unit = q["unit"]
        .as_str()
        .or_else(|| q["code"].as_str())
        .unwrap_or("");
    let comparator = q["comparator"].as_str().unwrap_or("");
    Some(
        format!("{comparator}{} {unit}", number(v, 3))
            .trim()
            .to_string(),
    )
}

/// Capitalises a FHIR code for display: `in-progress` -> `In progress`. FHIR codes are ASCII,
/// so ASCII upper-casing is enough and keeps the Unicode case tables out of the download.
pub fn code_label(code: &str) -> String {
    let mut spaced = code.replace(['-', '_'], " ");
    if let Some(first) = spaced.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    spaced
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;

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
        assert_eq!(
            quantity(&json!({"value":72.0,"unit":"beats/minute"})).as_deref(),
            Some("72 beats/minute")
        );
        assert_eq!(
            quantity(&json!({"value":1.050,"code":"mg/dL","comparator":"<"})).as_deref(),
            Some("<1.05 mg/dL")
        );
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
