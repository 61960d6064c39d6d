//! Rows of the clinical list sections: problems (Condition), medications (MedicationRequest),
//! allergies (AllergyIntolerance) and encounters (Encounter).

use serde_json::Value;

use crate::chart::format::{code_label, concept};
use crate::chart::sort::{sort_by, sort_by_key};
use crate::chart::time::{date_time, fhir_date, parse_ms};

/// What a cell shows when the server gave nothing.
pub(crate) const UNKNOWN: &str = "—";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub active: bool,
    pub onset: String,
    onset_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MedicationRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub dosage: String,
    pub authored: String,
    active: bool,
    /// Stopped, cancelled, completed or entered in error: shown greyed, like a resolved problem.
    pub ended: bool,
    authored_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllergyRow {
    pub id: String,
    pub substance: String,
    pub criticality: String,
    /// `criticality` is `high`: listed first and marked.
    pub critical: bool,
    pub reactions: String,
    pub status: String,
    /// Onset, else the date it was recorded: tells two entries of one substance apart.
    pub date: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncounterRow {
    pub id: String,
    pub date: String,
    pub kind: String,
    pub class: String,
    pub status: String,
    pub location: String,
    /// The clinicians who took part.
    pub participants: String,
    pub reason: String,
    start_ms: Option<i64>,
}

/// A resource's `id`, or empty.
pub(crate) fn id(r: &Value) -> String {
    r["id"].as_str().unwrap_or_default().to_string()
}

#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
fn status_of(v: &Value) -> Option<String> {
    v["coding"][0]["code"].as_str().map(str::to_string)
}

fn day(s: Option<&str>) -> (String, Option<i64>) {
    match s.and_then(fhir_date) {
        Some((text, ms)) => (text, Some(ms)),
        None => (s.unwrap_or(UNKNOWN).to_string(), None),
    }
}

/// Active problems first, then by onset, newest first.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn problems(resources: &[Value]) -> Vec<ProblemRow> {
    let mut rows: Vec<ProblemRow> = resources
        .iter()
        .map(|r| {
            let status = status_of(&r["clinicalStatus"]);
            let active = matches!(status.as_deref(), Some("active" | "recurrence" | "relapse"));
            let onset_raw = r["onsetDateTime"]
                .as_str()
                .or_else(|| r["onsetPeriod"]["start"].as_str())
                .or_else(|| r["recordedDate"].as_str());
            let (onset, onset_ms) = day(onset_raw);
            let onset = r["onsetString"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(onset);
            ProblemRow {
                id: id(r),
                name: concept(&r["code"]).unwrap_or_else(|| "(unnamed problem)".into()),
                status: status
                    .map(|s| code_label(&s))
                    .unwrap_or_else(|| UNKNOWN.into()),
                active,
                onset,
                onset_ms,
            }
        })
        .collect();
    sort_by(&mut rows, |a, b| {
        b.active.cmp(&a.active).then(b.onset_ms.cmp(&a.onset_ms))
    });
    rows
}

/// Active orders first, then newest first.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn medications(resources: &[Value]) -> Vec<MedicationRow> {
    let mut rows: Vec<MedicationRow> = resources
        .iter()
        .map(|r| {
            let status = r["status"].as_str().unwrap_or("");
            let (authored, authored_ms) = day(r["authoredOn"].as_str());
            let dosage: Vec<String> = r["dosageInstruction"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| {
                    d["text"]
                        .as_str()
                        .or_else(|| d["patientInstruction"].as_str())
                        .map(str::to_string)
                })
                .collect();
            MedicationRow {
                id: id(r),
                name: concept(&r["medicationCodeableConcept"])
                    .or_else(|| {
                        r["medicationReference"]["display"]
                            .as_str()
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "(unnamed medication)".into()),
                status: if status.is_empty() {
                    UNKNOWN.into()
                } else {
                    code_label(status)
                },
                dosage: if dosage.is_empty() {
                    UNKNOWN.into()
                } else {
                    dosage.join("; ")
                },
                authored,
                active: status == "active",
                ended: matches!(
                    status,
                    "stopped" | "cancelled" | "completed" | "entered-in-error"
                ),
                authored_ms,
            }
        })
        .collect();
    sort_by(&mut rows, |a, b| {
        b.active
            .cmp(&a.active)
            .then(b.authored_ms.cmp(&a.authored_ms))
    });
    rows
}

/// High criticality first.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn allergies(resources: &[Value]) -> Vec<AllergyRow> {
    let mut rows: Vec<AllergyRow> = resources
        .iter()
        .map(|r| {
            let reactions: Vec<String> = r["reaction"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|rx| {
                    let severity = rx["severity"]
                        .as_str()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    rx["manifestation"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(move |m| concept(m).map(|c| format!("{c}{severity}")))
                        .collect::<Vec<_>>()
                })
                .collect();
            AllergyRow {
                id: id(r),
                substance: concept(&r["code"]).unwrap_or_else(|| "(unnamed substance)".into()),
                criticality: r["criticality"]
                    .as_str()
                    .map(code_label)
                    .unwrap_or_else(|| UNKNOWN.into()),
                critical: r["criticality"] == "high",
                reactions: if reactions.is_empty() {
                    UNKNOWN.into()
                } else {
                    reactions.join(", ")
                },
                status: status_of(&r["clinicalStatus"])
                    .map(|s| code_label(&s))
                    .unwrap_or_else(|| UNKNOWN.into()),
                date: day(r["onsetDateTime"]
                    .as_str()
                    .or_else(|| r["onsetPeriod"]["start"].as_str())
                    .or_else(|| r["recordedDate"].as_str()))
                .0,
            }
        })
        .collect();
    sort_by_key(&mut rows, |r| !r.critical);
    rows
}

/// Newest first.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn encounters(resources: &[Value]) -> Vec<EncounterRow> {
    let mut rows: Vec<EncounterRow> = resources
        .iter()
        .map(|r| {
            let start = r["period"]["start"].as_str();
            // With its time when the server gives one (a date alone stays a date).
            let (date, start_ms) = match start.and_then(parse_ms) {
                Some(ms) if start.is_some_and(|s| s.contains('T')) => (date_time(ms), Some(ms)),
                _ => day(start),
            };
            let joined = |items: Vec<String>| {
                if items.is_empty() {
                    UNKNOWN.to_string()
                } else {
                    items.join(", ")
                }
            };
            let list = |key: &str, f: &dyn Fn(&Value) -> Option<String>| -> Vec<String> {
                r[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(f)
                    .collect()
            };
            let kind = r["type"]
                .as_array()
                .and_then(|t| t.iter().find_map(concept));
            EncounterRow {
                id: id(r),
                date,
                kind: kind.unwrap_or_else(|| UNKNOWN.into()),
                class: r["class"]["display"]
                    .as_str()
                    .or_else(|| r["class"]["code"].as_str())
                    .map(code_label)
                    .unwrap_or_else(|| UNKNOWN.into()),
                status: r["status"]
                    .as_str()
                    .map(code_label)
                    .unwrap_or_else(|| UNKNOWN.into()),
                location: joined(list("location", &|l| {
                    l["location"]["display"].as_str().map(str::to_string)
                })),
                participants: joined(list("participant", &|p| {
                    p["individual"]["display"].as_str().map(str::to_string)
                })),
                reason: joined(
                    list("reasonCode", &concept)
                        .into_iter()
                        .chain(list("reasonReference", &|x| {
                            x["display"].as_str().map(str::to_string)
                        }))
                        .collect(),
                ),
                start_ms,
            }
        })
        .collect();
    sort_by_key(&mut rows, |r| std::cmp::Reverse(r.start_ms));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problems_active_first_then_newest() {
        let rows = problems(&[
            json!({"id":"1","code":{"text":"Old resolved"},"clinicalStatus":{"coding":[{"code":"resolved"}]},"onsetDateTime":"2024-01-01"}),
            json!({"id":"2","code":{"text":"Asthma"},"clinicalStatus":{"coding":[{"code":"active"}]},"onsetDateTime":"2010-05-01"}),
            json!({"id":"3","code":{"text":"HTN"},"clinicalStatus":{"coding":[{"code":"active"}]},"onsetDateTime":"2020-05-01T10:00:00Z"}),
            json!({"id":"4"}),
        ]);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["HTN", "Asthma", "Old resolved", "(unnamed problem)"]
        );
        assert_eq!(rows[0].onset, "2020-05-01");
        assert_eq!(rows[0].status, "Active");
        assert_eq!(rows[3].status, "—");
    }

    #[test]
    fn medications_allergies_encounters() {
        let m = medications(&[
            json!({"id":"a","status":"stopped","authoredOn":"2025-01-01","medicationCodeableConcept":{"coding":[{"display":"x"}]}}),
            json!({"id":"b","status":"active","authoredOn":"2020-01-01","medicationCodeableConcept":{"text":"lisinopril"},"dosageInstruction":[{"text":"daily"}]}),
        ]);
        assert_eq!(
            (
                m[0].name.as_str(),
                m[0].dosage.as_str(),
                m[0].status.as_str()
            ),
            ("lisinopril", "daily", "Active")
        );
        assert_eq!(m[1].dosage, "—");
        let a = allergies(&[
            json!({"id":"1","code":{"text":"Latex"},"criticality":"low"}),
            json!({"id":"2","code":{"text":"Peanut"},"criticality":"high","reaction":[{"severity":"severe","manifestation":[{"text":"Anaphylaxis"}]}]}),
        ]);
        assert_eq!(a[0].substance, "Peanut");
        assert!(a[0].critical && !a[1].critical);
        assert_eq!(a[0].reactions, "Anaphylaxis (severe)");
        let e = encounters(&[
            json!({"id":"1","status":"finished","class":{"code":"AMB"},"period":{"start":"2020-01-01T10:00:00Z"}}),
            json!({"id":"2","status":"in-progress","class":{"display":"emergency"},"type":[{"text":"ER"}],"period":{"start":"2021-01-01"}}),
        ]);
        assert_eq!(
            (
                e[0].date.as_str(),
                e[0].kind.as_str(),
                e[0].class.as_str(),
                e[0].status.as_str()
            ),
            ("2021-01-01", "ER", "Emergency", "In progress")
        );
        assert_eq!(e[1].class, "AMB");
        assert_eq!(e[1].date, "2020-01-01 10:00", "with its time");
        let e = encounters(&[
            json!({"status":"finished","period":{"start":"2020-01-01T10:00:00Z"},
            "location":[{"location":{"display":"Clinic A"}}],
            "participant":[{"individual":{"display":"Dr. Adams"}},{"individual":{"reference":"Practitioner/x"}},{"individual":{"display":"Dr. Lee"}}],
            "reasonCode":[{"text":"Follow-up"}],"reasonReference":[{"display":"Hypertension"}]}),
        ]);
        assert_eq!(
            (
                e[0].location.as_str(),
                e[0].participants.as_str(),
                e[0].reason.as_str()
            ),
            ("Clinic A", "Dr. Adams, Dr. Lee", "Follow-up, Hypertension")
        );
        let a = allergies(&[
            json!({"code":{"text":"Penicillin"},"onsetDateTime":"2001-05-02"}),
            json!({"code":{"text":"Penicillin"},"recordedDate":"2019-03-04T10:00:00Z"}),
        ]);
        assert_eq!(
            (a[0].date.as_str(), a[1].date.as_str()),
            ("2001-05-02", "2019-03-04")
        );
        let m = medications(&[
            json!({"status":"stopped","medicationCodeableConcept":{"text":"a"}}),
            json!({"status":"on-hold","medicationCodeableConcept":{"text":"b"}}),
        ]);
        assert!(m[0].ended && !m[1].ended);
    }
}
