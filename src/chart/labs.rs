//! Laboratory results grouped by test (LOINC code): the latest value with unit, reference range
//! and flag, and the history for a small trend chart.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::chart::flags::{self, Flag};
use crate::chart::format::{code_in, concept, number, quantity};
use crate::chart::graph::Point;
use crate::chart::sort::sort_by_key;
use crate::chart::time::fhir_date;

#[derive(Clone, Debug, PartialEq)]
pub struct LabGroup {
    pub code: String,
    pub name: String,
    pub latest: String,
    pub latest_date: String,
    pub unit: String,
    /// The reference range with its unit once ("70–99 mg/dL"), or "—".
    pub range: String,
    pub flag: Option<Flag>,
    pub points: Vec<Point>,
}

struct Latest {
    t: i64,
    /// As [`fhir_date`] shows it.
    date: String,
    text: String,
    unit: String,
    range: String,
    flag: Option<Flag>,
}

/// One lab Observation as a report's result line shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LabResult {
    pub name: String,
    pub value: String,
    pub flag: Option<Flag>,
    pub date: String,
}

/// The labs section: one group per test, and each result by its Observation id (what a
/// DiagnosticReport's `result` points to).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labs {
    pub groups: Vec<LabGroup>,
    pub by_id: BTreeMap<String, LabResult>,
}

#[derive(Default)]
pub struct LabsBuilder {
    groups: BTreeMap<String, (String, Vec<Point>, Option<Latest>)>,
    by_id: BTreeMap<String, LabResult>,
}

/// The first reference range, as the server words it (`text`) or as low–high with the unit
/// once: the range's own unit, else the value's.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
fn range_text(o: &Value, value_unit: &str) -> String {
    let r = &o["referenceRange"][0];
    if let Some(t) = r["text"].as_str().filter(|t| !t.trim().is_empty()) {
        return t.to_string();
    }
    let unit = r["low"]["unit"]
        .as_str()
        .or_else(|| r["high"]["unit"].as_str())
        .unwrap_or(value_unit);
    let finite = |v: &Value| v.as_f64().filter(|f| f.is_finite());
    let span = match (finite(&r["low"]["value"]), finite(&r["high"]["value"])) {
        (Some(l), Some(h)) => format!("{}–{}", number(l, 3), number(h, 3)),
        (Some(l), None) => format!("≥ {}", number(l, 3)),
        (None, Some(h)) => format!("≤ {}", number(h, 3)),
        _ => return "—".into(),
    };
    format!("{span} {unit}").trim().to_string()
}

impl LabsBuilder {
    pub fn add_page(&mut self, observations: &[Value]) {
        for o in observations {
            if matches!(o["status"].as_str(), Some("entered-in-error" | "cancelled")) {
                continue;
            }
            let Some(code) = code_in(&o["code"], "http://loinc.org") else {
                continue;
            };
            let Some((date, t)) = o["effectiveDateTime"]
                .as_str()
                .or_else(|| o["issued"].as_str())
                .and_then(fhir_date)
            else {
                continue;
            };
            let name = concept(&o["code"]).unwrap_or_else(|| code.clone());
            let q = &o["valueQuantity"];
            let value = q["value"].as_f64().filter(|v| v.is_finite());
            let text = quantity(q)
                .or_else(|| o["valueString"].as_str().map(str::to_string))
                .or_else(|| concept(&o["valueCodeableConcept"]))
                .unwrap_or_else(|| "—".into());
            let flag = flags::interpretation(o)
                .or_else(|| value.and_then(|v| flags::against_reference_range(o, v)));
            let unit = q["unit"]
                .as_str()
                .or_else(|| q["code"].as_str())
                .unwrap_or("")
                .to_string();
            if let Some(id) = o["id"].as_str() {
                self.by_id.insert(
                    id.to_string(),
                    LabResult {
                        name: name.clone(),
                        value: text.clone(),
                        flag,
                        date: date.clone(),
                    },
                );
            }
            let entry = self
                .groups
                .entry(code)
                .or_insert_with(|| (name, Vec::new(), None));
            if let Some(v) = value {
                entry.1.push(Point { t, v });
            }
            if entry.2.as_ref().is_none_or(|l| t >= l.t) {
                entry.2 = Some(Latest {
                    t,
                    date,
                    text,
                    range: range_text(o, &unit),
                    unit,
                    flag,
                });
            }
        }
    }

    /// Groups ordered by test name.
    pub fn finish(self) -> Labs {
        let mut out: Vec<LabGroup> = self
            .groups
            .into_iter()
            .filter_map(|(code, (name, mut points, latest))| {
                let latest = latest?;
                sort_by_key(&mut points, |p| p.t);
                Some(LabGroup {
                    code,
                    name,
                    latest: latest.text,
                    latest_date: latest.date,
                    unit: latest.unit,
                    range: latest.range,
                    flag: latest.flag,
                    points,
                })
            })
            .collect();
        sort_by_key(&mut out, |g| g.name.to_lowercase());
        Labs {
            groups: out,
            by_id: self.by_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lab(code: &str, name: &str, t: &str, v: f64, interp: Option<&str>) -> Value {
        let mut o = json!({"id":format!("{code}-{t}"),"status":"final","code":{"coding":[{"system":"http://loinc.org","code":code}],"text":name},"effectiveDateTime":t,
            "valueQuantity":{"value":v,"unit":"mg/dL"},"referenceRange":[{"low":{"value":70},"high":{"value":99}}]});
        if let Some(i) = interp {
            o["interpretation"] = json!([{"coding":[{"code":i}]}]);
        }
        o
    }

    #[test]
    fn groups_by_code_with_latest_and_flag() {
        let mut b = LabsBuilder::default();
        b.add_page(&[
            lab("2345-7", "Glucose", "2024-01-01", 120.0, Some("H")),
            lab("2345-7", "Glucose", "2023-01-01", 80.0, None),
        ]);
        b.add_page(&[
            lab("2160-0", "Creatinine", "2024-02-01", 50.0, None),
            lab("2345-7", "Glucose", "2022-01-01", 90.0, None),
        ]);
        let labs = b.finish();
        let g = &labs.groups;
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "Creatinine");
        assert_eq!(
            g[0].flag,
            Some(Flag::Low),
            "computed from the range when not given"
        );
        let glucose = &g[1];
        assert_eq!(
            (
                glucose.latest.as_str(),
                glucose.latest_date.as_str(),
                glucose.flag.map(Flag::label).unwrap_or("—")
            ),
            ("120.0 mg/dL", "2024-01-01", "High"),
            "as the server wrote it (json! writes 120.0)"
        );
        assert_eq!(glucose.range, "70–99 mg/dL", "the unit once");
        assert_eq!(
            glucose.points.iter().map(|p| p.v).collect::<Vec<_>>(),
            [90.0, 80.0, 120.0]
        );
        // Each result by its id, for the reports that point to it.
        let r = &labs.by_id["2345-7-2023-01-01"];
        assert_eq!(
            (r.name.as_str(), r.value.as_str(), r.date.as_str()),
            ("Glucose", "80.0 mg/dL", "2023-01-01")
        );
        assert_eq!(labs.by_id.len(), 4);
    }
}
