//! Vital signs (FHIR R4 Vital Signs profile, LOINC codes): one series per vital, blood pressure as
//! systolic and diastolic, built page by page so the raw resources can be dropped as they come.

use serde_json::Value;

use crate::chart::format::code_in;
use crate::chart::plot::Point;
use crate::chart::sort::sort_by_key;
use crate::chart::time::parse_ms;

const LOINC: &str = "http://loinc.org";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vital {
    HeartRate,
    BloodPressure,
    Weight,
    Bmi,
    Temperature,
    SpO2,
}

impl Vital {
    pub const ALL: [Vital; 6] = [
        Vital::HeartRate,
        Vital::BloodPressure,
        Vital::Weight,
        Vital::Bmi,
        Vital::Temperature,
        Vital::SpO2,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Vital::HeartRate => "Heart rate",
            Vital::BloodPressure => "Blood pressure",
            Vital::Weight => "Body weight",
            Vital::Bmi => "Body mass index",
            Vital::Temperature => "Body temperature",
            Vital::SpO2 => "Oxygen saturation",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Vital::HeartRate => "heart-rate",
            Vital::BloodPressure => "blood-pressure",
            Vital::Weight => "weight",
            Vital::Bmi => "bmi",
            Vital::Temperature => "temperature",
            Vital::SpO2 => "spo2",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Vital::HeartRate => "/min",
            Vital::BloodPressure => "mmHg",
            Vital::Weight => "kg",
            Vital::Bmi => "kg/m²",
            Vital::Temperature => "°C",
            Vital::SpO2 => "%",
        }
    }

    /// Adult reference bands per series (for blood pressure: systolic, then diastolic).
    pub fn bands(self) -> &'static [(f64, f64)] {
        match self {
            Vital::HeartRate => &[(60.0, 100.0)],
            Vital::BloodPressure => &[(90.0, 120.0), (60.0, 80.0)],
            Vital::Weight => &[],
            Vital::Bmi => &[(18.5, 25.0)],
            Vital::Temperature => &[(36.1, 37.2)],
            Vital::SpO2 => &[(95.0, 100.0)],
        }
    }

    fn from_loinc(code: &str) -> Option<Vital> {
        Some(match code {
            "8867-4" => Vital::HeartRate,
            "85354-9" | "55284-4" => Vital::BloodPressure,
            "29463-7" | "3141-9" => Vital::Weight,
            "39156-5" => Vital::Bmi,
            "8310-5" | "8331-1" => Vital::Temperature,
            "59408-5" | "2708-6" => Vital::SpO2,
            _ => return None,
        })
    }
}

/// One vital: its series (one, or systolic and diastolic).
#[derive(Clone, Debug, PartialEq)]
pub struct VitalSeries {
    pub vital: Vital,
    pub series: Vec<(&'static str, Vec<Point>)>,
}

impl VitalSeries {
    pub fn count(&self) -> usize {
        self.series.first().map(|(_, p)| p.len()).unwrap_or(0)
    }
}

/// A quantity in the vital's display unit (°F and lb converted), or `None` if unusable.
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
        _ => v,
    })
}

/// Collects vital-sign points page by page.
#[derive(Default)]
pub struct VitalsBuilder {
    points: Vec<(Vital, usize, Point)>,
}

impl VitalsBuilder {
    pub fn add_page(&mut self, observations: &[Value]) {
        for o in observations {
            if matches!(o["status"].as_str(), Some("entered-in-error" | "cancelled")) {
                continue;
            }
            let Some(vital) = code_in(&o["code"], LOINC)
                .as_deref()
                .and_then(Vital::from_loinc)
            else {
                continue;
            };
            let Some(t) = o["effectiveDateTime"]
                .as_str()
                .or_else(|| o["effectivePeriod"]["start"].as_str())
                .or_else(|| o["effectiveInstant"].as_str())
                .and_then(parse_ms)
            else {
                continue;
            };
            if vital == Vital::BloodPressure {
                for c in o["component"].as_array().into_iter().flatten() {
                    let series = match code_in(&c["code"], LOINC).as_deref() {
                        Some("8480-6") => 0,
                        Some("8462-4") => 1,
                        _ => continue,
                    };
                    if let Some(v) = value_in(vital, &c["valueQuantity"]) {
                        self.points.push((vital, series, Point { t, v }));
                    }
                }
            } else if let Some(v) = value_in(vital, &o["valueQuantity"]) {
                self.points.push((vital, 0, Point { t, v }));
            }
        }
    }

    /// The series, each sorted by time, in [`Vital::ALL`] order; vitals without data omitted.
    pub fn finish(self) -> Vec<VitalSeries> {
        let mut out = Vec::new();
        for vital in Vital::ALL {
            let names: &[&'static str] = if vital == Vital::BloodPressure {
                &["Systolic", "Diastolic"]
            } else {
                &[vital.title()]
            };
            let series: Vec<(&'static str, Vec<Point>)> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let mut pts: Vec<Point> = self
                        .points
                        .iter()
                        .filter(|(v, s, _)| *v == vital && *s == i)
                        .map(|(_, _, p)| *p)
                        .collect();
                    sort_by_key(&mut pts, |p| p.t);
                    (*name, pts)
                })
                .collect();
            if series.iter().any(|(_, p)| !p.is_empty()) {
                out.push(VitalSeries { vital, series });
            }
        }
        out
    }
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

    #[test]
    fn series_per_vital_with_units_converted() {
        let mut b = VitalsBuilder::default();
        b.add_page(&[
            obs("8867-4", "2024-01-02", json!({"value":80,"unit":"/min"})),
            obs("8867-4", "2024-01-01", json!({"value":70,"unit":"/min"})),
            obs("8310-5", "2024-01-01", json!({"value":98.6,"code":"[degF]"})),
            obs("29463-7", "2024-01-01", json!({"value":100,"code":"[lb_av]"})),
            obs("1234-5", "2024-01-01", json!({"value":1})),
            obs("8867-4", "not a date", json!({"value":1})),
            json!({"status":"entered-in-error","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"effectiveDateTime":"2024-01-03","valueQuantity":{"value":999}}),
        ]);
        b.add_page(&[json!({"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectiveDateTime":"2024-01-01",
            "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120}},
                         {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80}}]})]);
        let s = b.finish();
        let kinds: Vec<Vital> = s.iter().map(|v| v.vital).collect();
        assert_eq!(
            kinds,
            [
                Vital::HeartRate,
                Vital::BloodPressure,
                Vital::Weight,
                Vital::Temperature
            ]
        );
        let hr: Vec<f64> = s[0].series[0].1.iter().map(|p| p.v).collect();
        assert_eq!(hr, [70.0, 80.0], "sorted by time, bad data dropped");
        assert_eq!(s[1].series[0].0, "Systolic");
        assert_eq!(s[1].series[1].1[0].v, 80.0);
        assert!((s[2].series[0].1[0].v - 45.359).abs() < 0.01);
        assert!((s[3].series[0].1[0].v - 37.0).abs() < 0.01);
    }
}
