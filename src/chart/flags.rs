//! Abnormal-value flags, for labs and vital signs alike: the server's own `interpretation` first
//! (HL7 v3 ObservationInterpretation codes), then the Observation's `referenceRange`, then, for
//! vital signs only, a documented adult range (`chart::vitals`). Each flag has a word and a
//! symbol, so it never rests on colour alone.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    Normal,
    High,
    Low,
    CriticalHigh,
    CriticalLow,
    Abnormal,
    Positive,
    Negative,
}

impl Flag {
    /// HL7 v3 ObservationInterpretation (http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation).
    fn from_v3(code: &str) -> Option<Flag> {
        Some(match code {
            "H" | "HU" | ">" => Flag::High,
            "HH" | "HX" => Flag::CriticalHigh,
            "L" | "LU" | "<" => Flag::Low,
            "LL" | "LX" => Flag::CriticalLow,
            "A" | "AA" => Flag::Abnormal,
            "N" => Flag::Normal,
            "POS" | "DET" => Flag::Positive,
            "NEG" | "ND" => Flag::Negative,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Flag::Normal => "Normal",
            Flag::High => "High",
            Flag::Low => "Low",
            Flag::CriticalHigh => "Critical high",
            Flag::CriticalLow => "Critical low",
            Flag::Abnormal => "Abnormal",
            Flag::Positive => "Positive",
            Flag::Negative => "Negative",
        }
    }

    /// A symbol beside the word: ▲ above the range, ▼ below it, ! otherwise abnormal.
    pub fn symbol(self) -> &'static str {
        match self {
            Flag::High | Flag::CriticalHigh => "▲",
            Flag::Low | Flag::CriticalLow => "▼",
            Flag::Abnormal | Flag::Positive => "!",
            Flag::Normal | Flag::Negative => "",
        }
    }

    /// Below the range: its marker points down (▼); every other abnormal one points up.
    pub fn is_below(self) -> bool {
        matches!(self, Flag::Low | Flag::CriticalLow)
    }

    /// Whether a clinician's eye should be drawn to it.
    pub fn is_abnormal(self) -> bool {
        !matches!(self, Flag::Normal | Flag::Negative)
    }

    /// "High ▲", "Normal".
    pub fn text(self) -> String {
        match self.symbol() {
            "" => self.label().to_string(),
            s => format!("{} {s}", self.label()),
        }
    }
}

/// The flag a server gave (the first interpretation it codes, or its text).
pub fn interpretation(element: &Value) -> Option<Flag> {
    element["interpretation"].as_array()?.iter().find_map(|i| {
        i["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|c| c["code"].as_str().and_then(Flag::from_v3))
    })
}

/// The flag of `value` against the element's first `referenceRange` with a low or high value
/// (assumed in the unit of the value, as FHIR asks).
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn against_reference_range(element: &Value, value: f64) -> Option<Flag> {
    let r = element["referenceRange"]
        .as_array()?
        .iter()
        .find(|r| r["low"]["value"].is_number() || r["high"]["value"].is_number())?;
    let finite = |v: &Value| v.as_f64().filter(|f| f.is_finite());
    Some(against(
        finite(&r["low"]["value"]),
        finite(&r["high"]["value"]),
        value,
    ))
}

/// Below `low` is Low, above `high` is High, else Normal.
pub fn against(low: Option<f64>, high: Option<f64>, value: f64) -> Flag {
    match (low, high) {
        (Some(l), _) if value < l => Flag::Low,
        (_, Some(h)) if value > h => Flag::High,
        _ => Flag::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn interpretation_then_reference_range() {
        let o = json!({"interpretation":[{"text":"odd"},{"coding":[{"system":"x","code":"HH"}]}],
                       "referenceRange":[{"text":"see lab"},{"low":{"value":70},"high":{"value":99}}]});
        assert_eq!(interpretation(&o), Some(Flag::CriticalHigh));
        assert_eq!(against_reference_range(&o, 60.0), Some(Flag::Low));
        assert_eq!(against_reference_range(&o, 99.0), Some(Flag::Normal));
        assert_eq!(against_reference_range(&o, 99.5), Some(Flag::High));
        assert_eq!(interpretation(&json!({})), None);
        assert_eq!(
            against_reference_range(&json!({"referenceRange":[{"text":"x"}]}), 1.0),
            None
        );
        assert_eq!(Flag::High.text(), "High ▲");
        assert_eq!(Flag::Normal.text(), "Normal");
        assert!(!Flag::Negative.is_abnormal() && Flag::Abnormal.is_abnormal());
    }
}
