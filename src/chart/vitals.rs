//! Vital signs (FHIR R4 Vital Signs profile, LOINC codes): one series per kind the profile
//! names, blood pressure as systolic and diastolic, each reading flagged; every other
//! Observation of the category (another code, or no usable value or time) listed as an "other"
//! reading, so nothing the server sent is left out. Built page by page so the raw resources can
//! be dropped as they come.

use serde_json::Value;

use crate::chart::flags::{self, Flag};
use crate::chart::format::{code_in, concept, quantity};
use crate::chart::graph::Point;
use crate::chart::sort::sort_by_key;
use crate::chart::time::parse_ms;

const LOINC: &str = "http://loinc.org";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vital {
    BloodPressure,
    HeartRate,
    RespiratoryRate,
    Temperature,
    SpO2,
    Weight,
    Height,
    Bmi,
    HeadCircumference,
    Pain,
}

/// Adult ranges for vital signs without a range of their own; a reading outside is flagged.
/// Blood pressure: below 90/60 is low, 140/90 and above high (stage 2 hypertension, ACC/AHA
/// 2017; NICE NG136). Heart rate 60–100 /min and SpO2 ≥ 95 % (AHA). Respiratory rate 12–20
/// /min and temperature 36.1–38.0 °C (NEWS2, Royal College of Physicians 2017). BMI 18.5–24.9
/// (WHO). Pain 0–6 on the 0–10 scale (7–10 is severe). Weight, height and head circumference
/// have no adult range.
const RANGES: [(Vital, &[(f64, f64)]); 7] = [
    (Vital::BloodPressure, &[(90.0, 139.0), (60.0, 89.0)]),
    (Vital::HeartRate, &[(60.0, 100.0)]),
    (Vital::RespiratoryRate, &[(12.0, 20.0)]),
    (Vital::Temperature, &[(36.1, 38.0)]),
    (Vital::SpO2, &[(95.0, 100.0)]),
    (Vital::Bmi, &[(18.5, 24.9)]),
    (Vital::Pain, &[(0.0, 6.0)]),
];

impl Vital {
    /// In the order a clinician reads them.
    pub const ALL: [Vital; 10] = [
        Vital::BloodPressure,
        Vital::HeartRate,
        Vital::RespiratoryRate,
        Vital::Temperature,
        Vital::SpO2,
        Vital::Weight,
        Vital::Height,
        Vital::Bmi,
        Vital::HeadCircumference,
        Vital::Pain,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Vital::BloodPressure => "Blood pressure",
            Vital::HeartRate => "Heart rate",
            Vital::RespiratoryRate => "Respiratory rate",
            Vital::Temperature => "Body temperature",
            Vital::SpO2 => "Oxygen saturation",
            Vital::Weight => "Body weight",
            Vital::Height => "Body height",
            Vital::Bmi => "Body mass index",
            Vital::HeadCircumference => "Head circumference",
            Vital::Pain => "Pain score",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Vital::BloodPressure => "blood-pressure",
            Vital::HeartRate => "heart-rate",
            Vital::RespiratoryRate => "respiratory-rate",
            Vital::Temperature => "temperature",
            Vital::SpO2 => "spo2",
            Vital::Weight => "weight",
            Vital::Height => "height",
            Vital::Bmi => "bmi",
            Vital::HeadCircumference => "head-circumference",
            Vital::Pain => "pain",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Vital::BloodPressure => "mmHg",
            Vital::HeartRate | Vital::RespiratoryRate => "/min",
            Vital::Temperature => "°C",
            Vital::SpO2 => "%",
            Vital::Weight => "kg",
            Vital::Height | Vital::HeadCircumference => "cm",
            Vital::Bmi => "kg/m²",
            Vital::Pain => "/10",
        }
    }

    /// The adult range of each series (for blood pressure: systolic, then diastolic); empty
    /// when there is none.
    pub fn bands(self) -> &'static [(f64, f64)] {
        RANGES
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, r)| *r)
            .unwrap_or(&[])
    }

    /// Values that cannot be exceeded (a percentage), for the chart's axis.
    pub fn ceiling(self) -> Option<f64> {
        match self {
            Vital::SpO2 => Some(100.0),
            Vital::Pain => Some(10.0),
            _ => None,
        }
    }

    /// The kind and series of a LOINC code (the profile's codes and their common siblings).
    fn from_loinc(code: &str) -> Option<(Vital, usize)> {
        Some(match code {
            "85354-9" | "55284-4" => (Vital::BloodPressure, 0),
            "8480-6" => (Vital::BloodPressure, 0),
            "8462-4" => (Vital::BloodPressure, 1),
            "8867-4" => (Vital::HeartRate, 0),
            "9279-1" => (Vital::RespiratoryRate, 0),
            "8310-5" | "8331-1" | "8332-9" | "8333-7" | "8328-7" => (Vital::Temperature, 0),
            "59408-5" | "2708-6" | "59417-6" => (Vital::SpO2, 0),
            "29463-7" | "3141-9" | "8350-1" => (Vital::Weight, 0),
            "8302-2" | "8306-3" | "8308-9" => (Vital::Height, 0),
            "39156-5" => (Vital::Bmi, 0),
            "9843-4" | "8287-5" => (Vital::HeadCircumference, 0),
            "72514-3" | "38208-5" => (Vital::Pain, 0),
            _ => return None,
        })
    }
}

/// One vital: its series (one, or systolic and diastolic) and each reading's flag.
#[derive(Clone, Debug, PartialEq)]
pub struct VitalSeries {
    pub vital: Vital,
    pub series: Vec<(&'static str, Vec<Point>)>,
    /// Per series, per point (same order): the reading's flag, if one could be told.
    pub flags: Vec<Vec<Option<Flag>>>,
}

impl VitalSeries {
    /// The first series' points (systolic for blood pressure; the only one otherwise).
    pub fn primary(&self) -> &[Point] {
        self.series.first().map_or(&[], |(_, p)| p.as_slice())
    }

    pub fn count(&self) -> usize {
        self.series.iter().map(|(_, p)| p.len()).max().unwrap_or(0)
    }

    /// The flag of point `i` of series `s`.
    pub fn flag(&self, s: usize, i: usize) -> Option<Flag> {
        self.flags.get(s)?.get(i).copied().flatten()
    }
}

/// A vital-sign Observation that is not charted: another code, or no value or time the chart
/// can use. Shown as text in the "Other vital signs" table.
#[derive(Clone, Debug, PartialEq)]
pub struct OtherReading {
    pub name: String,
    /// Epoch ms, when the Observation gives a time.
    pub t: Option<i64>,
    pub value: String,
    pub flag: Option<Flag>,
}

/// Everything of the vital-signs category.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vitals {
    pub charted: Vec<VitalSeries>,
    /// Newest first; undated last.
    pub other: Vec<OtherReading>,
}

impl Vitals {
    pub fn is_empty(&self) -> bool {
        self.charted.is_empty() && self.other.is_empty()
    }
}

/// A quantity in the vital's display unit (°F, lb, in, m converted), or `None` if unusable.
fn value_in(vital: Vital, q: &Value) -> Option<f64> {
    let v = q["value"].as_f64().filter(|v| v.is_finite())?;
    let code = q["code"]
        .as_str()
        .or_else(|| q["unit"].as_str())
        .unwrap_or("");
    Some(match (vital, code) {
        (Vital::Temperature, "[degF]" | "°F" | "degF") => (v - 32.0) * 5.0 / 9.0,
        (Vital::Weight, "[lb_av]" | "lb" | "lbs") => v * 0.453_592_37,
        (Vital::Weight, "g") => v / 1000.0,
        (Vital::Height | Vital::HeadCircumference, "[in_i]" | "in" | "[in_us]") => v * 2.54,
        (Vital::Height | Vital::HeadCircumference, "m") => v * 100.0,
        (Vital::Height | Vital::HeadCircumference, "mm") => v / 10.0,
        _ => v,
    })
}

/// The server's flag, else its reference range (in the value's own unit), else the adult range.
fn flag_of(
    element: &Value,
    raw: Option<f64>,
    shown: f64,
    band: Option<(f64, f64)>,
) -> Option<Flag> {
    flags::interpretation(element)
        .or_else(|| raw.and_then(|v| flags::against_reference_range(element, v)))
        .or_else(|| band.map(|(lo, hi)| flags::against(Some(lo), Some(hi), shown)))
}

/// What an uncharted reading shows as its value.
fn value_text(o: &Value) -> String {
    quantity(&o["valueQuantity"])
        .or_else(|| o["valueString"].as_str().map(str::to_string))
        .or_else(|| concept(&o["valueCodeableConcept"]))
        .or_else(|| {
            let parts: Vec<String> = o["component"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let v = quantity(&c["valueQuantity"])
                        .or_else(|| c["valueString"].as_str().map(str::to_string))?;
                    Some(match concept(&c["code"]) {
                        Some(n) => format!("{n}: {v}"),
                        None => v,
                    })
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        })
        .or_else(|| concept(&o["dataAbsentReason"]).map(|r| format!("not recorded ({r})")))
        .unwrap_or_else(|| "no value given".into())
}

/// Collects vital-sign readings page by page.
#[derive(Default)]
pub struct VitalsBuilder {
    points: Vec<(Vital, usize, Point, Option<Flag>)>,
    other: Vec<OtherReading>,
}

impl VitalsBuilder {
    pub fn add_page(&mut self, observations: &[Value]) {
        for o in observations {
            // Recorded in error or never done: not a reading (FHIR Observation.status).
            if matches!(o["status"].as_str(), Some("entered-in-error" | "cancelled")) {
                continue;
            }
            if !self.chart(o) {
                self.other.push(OtherReading {
                    name: concept(&o["code"]).unwrap_or_else(|| "Unnamed observation".into()),
                    t: time_of(o),
                    value: value_text(o),
                    flag: flags::interpretation(o),
                });
            }
        }
    }

    /// Adds the readings of `o` to the charts; false when it has none to add.
    fn chart(&mut self, o: &Value) -> bool {
        let Some((vital, series)) = code_in(&o["code"], LOINC)
            .as_deref()
            .and_then(Vital::from_loinc)
        else {
            return false;
        };
        let Some(t) = time_of(o) else {
            return false;
        };
        let bands = vital.bands();
        let before = self.points.len();
        if vital == Vital::BloodPressure && o["component"].is_array() {
            for c in o["component"].as_array().into_iter().flatten() {
                let series = match code_in(&c["code"], LOINC).as_deref() {
                    Some("8480-6") => 0,
                    Some("8462-4") => 1,
                    _ => continue,
                };
                let q = &c["valueQuantity"];
                if let Some(v) = value_in(vital, q) {
                    let flag = flag_of(c, q["value"].as_f64(), v, bands.get(series).copied())
                        .or_else(|| flags::interpretation(o));
                    self.points.push((vital, series, Point { t, v }, flag));
                }
            }
        } else {
            let q = &o["valueQuantity"];
            if let Some(v) = value_in(vital, q) {
                let flag = flag_of(o, q["value"].as_f64(), v, bands.get(series).copied());
                self.points.push((vital, series, Point { t, v }, flag));
            }
        }
        self.points.len() > before
    }

    pub fn finish(self) -> Vitals {
        let mut charted = Vec::new();
        for vital in Vital::ALL {
            let names: &[&'static str] = if vital == Vital::BloodPressure {
                &["Systolic", "Diastolic"]
            } else {
                &[vital.title()]
            };
            let mut series = Vec::new();
            let mut flags = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let mut pts: Vec<(Point, Option<Flag>)> = self
                    .points
                    .iter()
                    .filter(|(v, s, _, _)| *v == vital && *s == i)
                    .map(|(_, _, p, f)| (*p, *f))
                    .collect();
                sort_by_key(&mut pts, |(p, _)| p.t);
                flags.push(pts.iter().map(|(_, f)| *f).collect());
                series.push((*name, pts.into_iter().map(|(p, _)| p).collect::<Vec<_>>()));
            }
            if series.iter().any(|(_, p)| !p.is_empty()) {
                charted.push(VitalSeries {
                    vital,
                    series,
                    flags,
                });
            }
        }
        let mut other = self.other;
        // Newest first, undated last.
        sort_by_key(&mut other, |r| std::cmp::Reverse(r.t.unwrap_or(i64::MIN)));
        Vitals { charted, other }
    }
}

#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
fn time_of(o: &Value) -> Option<i64> {
    o["effectiveDateTime"]
        .as_str()
        .or_else(|| o["effectivePeriod"]["start"].as_str())
        .or_else(|| o["effectiveInstant"].as_str())
        .and_then(parse_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obs(code: &str, t: &str, value: Value) -> Value {
        let mut o = json!({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":code}]},"effectiveDateTime":t});
        o["valueQuantity"] = value;
        o
    }

    fn bp(t: &str, sys: f64, dia: f64) -> Value {
        json!({"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":t,
            "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":sys}},
                         {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":dia}}]})
    }

    #[test]
    fn series_per_vital_with_units_converted() {
        let mut b = VitalsBuilder::default();
        b.add_page(&[
            obs("8867-4", "2024-01-02", json!({"value":80,"unit":"/min"})),
            obs("8867-4", "2024-01-01", json!({"value":70,"unit":"/min"})),
            obs("8310-5", "2024-01-01", json!({"value":98.6,"code":"[degF]"})),
            obs("29463-7", "2024-01-01", json!({"value":100,"code":"[lb_av]"})),
            obs("8302-2", "2024-01-01", json!({"value":70,"code":"[in_i]"})),
            json!({"status":"entered-in-error","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2024-01-03","valueQuantity":{"value":999}}),
        ]);
        b.add_page(&[bp("2024-01-01", 120.0, 80.0)]);
        let v = b.finish();
        let kinds: Vec<Vital> = v.charted.iter().map(|s| s.vital).collect();
        assert_eq!(
            kinds,
            [
                Vital::BloodPressure,
                Vital::HeartRate,
                Vital::Temperature,
                Vital::Weight,
                Vital::Height
            ]
        );
        let s = &v.charted;
        assert_eq!(s[0].series[0].0, "Systolic");
        assert_eq!(s[0].series[1].1[0].v, 80.0);
        let hr: Vec<f64> = s[1].series[0].1.iter().map(|p| p.v).collect();
        assert_eq!(
            hr,
            [70.0, 80.0],
            "sorted by time; entered-in-error left out"
        );
        assert!((s[2].series[0].1[0].v - 37.0).abs() < 0.01);
        assert!((s[3].series[0].1[0].v - 45.359).abs() < 0.01);
        assert!((s[4].series[0].1[0].v - 177.8).abs() < 0.01);
        assert!(v.other.is_empty());
    }

    /// Every Observation of the vital-signs category is charted or listed: each of the
    /// profile's kinds, another code, a reading without a usable value or time. Only what the
    /// server marks entered-in-error or cancelled is left out.
    #[test]
    fn no_vital_sign_observation_is_dropped() {
        let t = "2024-03-01T08:00:00Z";
        let page = vec![
            bp(t, 146.0, 80.0),
            obs("8867-4", t, json!({"value":72})),
            obs("9279-1", t, json!({"value":16})),
            obs("8310-5", t, json!({"value":36.8})),
            obs("59408-5", t, json!({"value":97})),
            obs("29463-7", t, json!({"value":80})),
            obs("8302-2", t, json!({"value":175})),
            obs("39156-5", t, json!({"value":33.1})),
            obs("9843-4", t, json!({"value":54})),
            obs("72514-3", t, json!({"value":3})),
            // Standalone systolic: charted with the panels.
            obs("8480-6", "2024-03-02", json!({"value":118})),
            // Another code of the category: listed.
            json!({"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8478-0","display":"Mean blood pressure"}]},"effectiveDateTime":t,"valueQuantity":{"value":95,"unit":"mm[Hg]"}}),
            // A charted kind without a value, or without a time: listed.
            json!({"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Pulse"},"effectiveDateTime":t,"dataAbsentReason":{"text":"Patient refused"}}),
            json!({"status":"final","code":{"text":"Heart rate"},"valueQuantity":{"value":70}}),
            json!({"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"9279-1"}]},"effectiveDateTime":"yesterday","valueQuantity":{"value":18}}),
            json!({"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":t,"valueString":"unrecordable"}),
            json!({"status":"cancelled","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":t,"valueQuantity":{"value":1}}),
        ];
        let mut b = VitalsBuilder::default();
        b.add_page(&page[..8]);
        b.add_page(&page[8..]);
        let v = b.finish();
        assert_eq!(v.charted.len(), Vital::ALL.len(), "every kind charted");
        let charted_obs: usize = v
            .charted
            .iter()
            .map(|s| {
                if s.vital == Vital::BloodPressure {
                    2
                } else {
                    s.count()
                }
            })
            .sum();
        assert_eq!(
            charted_obs + v.other.len(),
            page.len() - 1,
            "all but the cancelled one"
        );
        let names: Vec<&str> = v.other.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Mean blood pressure",
                "Pulse",
                "85354-9",
                "Heart rate",
                "9279-1"
            ],
            "newest first, undated last"
        );
        assert_eq!(v.other[0].value, "95 mm[Hg]");
        assert_eq!(v.other[1].value, "not recorded (Patient refused)");
        assert_eq!(v.other[2].value, "unrecordable");
        assert_eq!(v.other[3].t, None);
    }

    /// The server's interpretation, then its reference range, then the adult range.
    #[test]
    fn readings_are_flagged() {
        let t = "2024-03-01T08:00:00Z";
        let mut low_hr = obs("8867-4", t, json!({"value":72}));
        low_hr["interpretation"] = json!([{"coding":[{"code":"L"}]}]);
        let mut ranged = obs("8867-4", "2024-03-02", json!({"value":72}));
        ranged["referenceRange"] = json!([{"low":{"value":80},"high":{"value":120}}]);
        let mut b = VitalsBuilder::default();
        b.add_page(&[
            bp(t, 146.0, 80.0),
            bp("2024-03-02", 85.0, 55.0),
            low_hr,
            ranged,
            obs("8867-4", "2024-03-03", json!({"value":72})),
            obs("39156-5", t, json!({"value":33.1})),
            obs("29463-7", t, json!({"value":80})),
            obs("8310-5", t, json!({"value":100.9, "code":"[degF]"})),
        ]);
        let v = b.finish();
        let find = |k: Vital| v.charted.iter().find(|s| s.vital == k).unwrap();
        let bp = find(Vital::BloodPressure);
        assert_eq!(
            (bp.flag(0, 0), bp.flag(1, 0)),
            (Some(Flag::High), Some(Flag::Normal))
        );
        assert_eq!(
            (bp.flag(0, 1), bp.flag(1, 1)),
            (Some(Flag::Low), Some(Flag::Low))
        );
        let hr = find(Vital::HeartRate);
        assert_eq!(
            (hr.flag(0, 0), hr.flag(0, 1), hr.flag(0, 2)),
            (Some(Flag::Low), Some(Flag::Low), Some(Flag::Normal))
        );
        assert_eq!(find(Vital::Bmi).flag(0, 0), Some(Flag::High));
        assert_eq!(find(Vital::Weight).flag(0, 0), None, "no adult range");
        assert_eq!(
            find(Vital::Temperature).flag(0, 0),
            Some(Flag::High),
            "38.3 °C, compared after conversion"
        );
    }
}
