//! The launch context the EHR passed with the token (SMART App Launch 2.2 §"Launch context
//! arrives with your access_token"), turned into what the chart opens on: the encounter open on
//! the clinician's screen, each `fhirContext` item the launch button sat beside, and `intent`.
//!
//! Only references that are relative or lie under the FHIR base are ever read (the token's rule,
//! [`FhirBase::resolve`]); anything else is listed, not fetched. A malformed item is a note,
//! never a failed launch.

use serde_json::Value;

use crate::chart::format::{concept, quantity};
use crate::chart::records::{EncounterRow, UNKNOWN};
use crate::chart::sort::sort_by_key;
use crate::chart::time::fhir_date;
use crate::fhir::base::FhirBase;
use crate::fhir::is_fhir_id;
use crate::smart::token::LaunchContext;

/// The chart's views a launch can open on (the tabs, and the Summary's sections).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Summary,
    Problems,
    Medications,
    Allergies,
    Vitals,
    Labs,
    Notes,
    Encounters,
    /// What was recorded during the encounter in context.
    Visit,
}

impl View {
    /// The tab that shows it.
    pub fn tab(self) -> &'static str {
        match self {
            View::Summary | View::Problems | View::Medications | View::Allergies => "summary",
            View::Vitals => "vitals",
            View::Labs => "labs",
            View::Notes => "notes",
            View::Encounters => "encounters",
            View::Visit => "visit",
        }
    }

    /// The element to bring into view and focus within the tab, when it is one section of it.
    pub fn section(self) -> Option<&'static str> {
        match self {
            View::Problems => Some("problems"),
            View::Medications => Some("medications"),
            View::Allergies => Some("allergies"),
            _ => None,
        }
    }
}

/// The view for a launch's `intent`. SMART leaves intents to each app (2.2 §"App Launch:
/// Launch and Authorization", `intent`); these are the ones this app knows. Unknown intents are
/// ignored (the Session tab still shows them).
///
/// | intent | view |
/// |---|---|
/// | `summary`, `overview` | Summary |
/// | `reconcile`, `medications`, `med-reconciliation` | Medications (Summary tab) |
/// | `problems` | Problems (Summary tab) |
/// | `allergies` | Allergies (Summary tab) |
/// | `vitals`, `vital-signs` | Vital signs |
/// | `labs`, `results` | Labs |
/// | `notes`, `documents`, `reports` | Notes & reports |
/// | `encounters`, `visits` | Encounters |
/// | `visit`, `encounter` | This visit (with an encounter in context) |
pub fn intent_view(intent: &str) -> Option<View> {
    let view = match intent.trim().to_ascii_lowercase().as_str() {
        "summary" | "overview" => View::Summary,
        "reconcile" | "medications" | "med-reconciliation" => View::Medications,
        "problems" => View::Problems,
        "allergies" => View::Allergies,
        "vitals" | "vital-signs" => View::Vitals,
        "labs" | "results" => View::Labs,
        "notes" | "documents" | "reports" => View::Notes,
        "encounters" | "visits" => View::Encounters,
        "visit" | "encounter" => View::Visit,
        _ => return None,
    };
    Some(view)
}

/// The view for a resource of `resource_type`, when the chart shows that type. An Observation
/// is placed by its category once read ([`observation_view`]).
pub fn type_view(resource_type: &str) -> Option<View> {
    Some(match resource_type {
        "DocumentReference" | "DiagnosticReport" => View::Notes,
        "Observation" => View::Labs,
        "Encounter" => View::Encounters,
        "Condition" => View::Problems,
        "MedicationRequest" | "MedicationStatement" => View::Medications,
        "AllergyIntolerance" => View::Allergies,
        "Patient" => View::Summary,
        _ => return None,
    })
}

/// Vital signs go to their tab; every other Observation to Labs.
pub fn observation_view(observation: &Value) -> View {
    let vital = observation["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .any(|c| c["code"] == "vital-signs");
    if vital {
        View::Vitals
    } else {
        View::Labs
    }
}

/// One `fhirContext` item as the chart lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// `role` (2.2), when the EHR gave one.
    pub role: Option<String>,
    pub target: Target,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A reference under the FHIR base: read with the token, and opened when the chart has a
    /// view for its type.
    Here {
        resource_type: String,
        id: String,
        url: String,
        view: Option<View>,
    },
    /// A reference that lies elsewhere (another server): listed, never fetched.
    Elsewhere(String),
    /// A `canonical` or `identifier` item: named, nothing to read.
    Described(String),
    /// An item the app cannot read as SMART describes it; what was wrong.
    Malformed(String),
}

/// The `fhirContext` items (SMART App Launch 2.2: objects with a `reference`, a `canonical` or
/// an `identifier`, an optional `type` and `role`), each classified; a malformed one is kept as a
/// note.
pub fn items(fhir_context: &[Value], base: &FhirBase) -> Vec<Item> {
    fhir_context.iter().map(|v| item(v, base)).collect()
}

fn item(v: &Value, base: &FhirBase) -> Item {
    let Some(obj) = v.as_object() else {
        let shown = match v {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        return Item {
            role: None,
            target: Target::Malformed(format!(
                "{} is not an object with a reference",
                clip(&shown)
            )),
        };
    };
    let role = obj.get("role").and_then(Value::as_str).map(str::to_string);
    let declared = obj.get("type").and_then(Value::as_str);
    let target = if let Some(r) = obj.get("reference") {
        match r.as_str() {
            Some(r) => resolve_reference(r, declared, base),
            None => Target::Malformed("its reference is not text".into()),
        }
    } else if let Some(c) = obj.get("canonical").and_then(Value::as_str) {
        Target::Described(match declared {
            Some(t) => format!("{t} {c}"),
            None => c.to_string(),
        })
    } else if let Some(i) = obj.get("identifier").filter(|i| i.is_object()) {
        let value = i["value"].as_str().unwrap_or("(no value)");
        let system = i["system"]
            .as_str()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        Target::Described(format!(
            "{} identified as {value}{system}",
            declared.unwrap_or("An item")
        ))
    } else {
        Target::Malformed("it has no reference, canonical or identifier".into())
    };
    Item { role, target }
}

/// A text cut to a length that fits a line.
fn clip(s: &str) -> String {
    match s.chars().nth(120) {
        Some(_) => format!("{}…", s.chars().take(120).collect::<String>()),
        None => s.to_string(),
    }
}

/// `Type/id`, or an absolute URL under the base, names a resource here; anything else is listed.
fn resolve_reference(r: &str, declared: Option<&str>, base: &FhirBase) -> Target {
    if r.starts_with('#') {
        return Target::Malformed(format!("{} is a contained reference", clip(r)));
    }
    let Some(url) = base.resolve(r) else {
        return Target::Elsewhere(clip(r));
    };
    let rest = url
        .strip_prefix(base.as_str())
        .unwrap_or("")
        .trim_start_matches('/');
    let mut parts = rest.split('/');
    let (Some(ty), Some(id)) = (parts.next(), parts.next()) else {
        return Target::Malformed(format!("{} is not Type/id", clip(r)));
    };
    // `Type/id` or `Type/id/_history/n`; nothing else names one resource.
    let history = parts.next();
    let well_formed = ty.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && ty.bytes().all(|b| b.is_ascii_alphabetic())
        && is_fhir_id(id)
        && match history {
            None => true,
            Some("_history") => parts.next().is_some_and(is_fhir_id) && parts.next().is_none(),
            Some(_) => false,
        };
    if !well_formed || declared.is_some_and(|d| d != ty) {
        return Target::Malformed(format!("{} is not a reference to one resource", clip(r)));
    }
    Target::Here {
        resource_type: ty.to_string(),
        id: id.to_string(),
        url: base.read_url(ty, id),
        view: type_view(ty),
    }
}

/// The view the chart opens on: the first `fhirContext` item it has a view for (what the launch
/// button sat beside), else the `intent`'s, else This visit when an encounter is in context,
/// else the Summary.
pub fn first_view(items: &[Item], intent: Option<&str>, encounter: bool) -> View {
    items
        .iter()
        .find_map(|i| match &i.target {
            Target::Here { view, .. } => *view,
            _ => None,
        })
        .or_else(|| intent.and_then(intent_view))
        .filter(|v| *v != View::Visit || encounter)
        .unwrap_or(if encounter {
            View::Visit
        } else {
            View::Summary
        })
}

/// The launch context as it applies to the chart of one patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub items: Vec<Item>,
    /// The visit: the `encounter` the EHR gave, else an Encounter among the items.
    pub visit: Option<String>,
    pub first_view: View,
    /// The item the chart opens on, when the first view is one (type, id).
    pub opened_on: Option<(String, String)>,
}

/// What the launch context says for the chart of `patient`: all of it for the launch's own
/// patient, nothing for one picked afterwards.
pub fn applied(context: &LaunchContext, base: &FhirBase, patient: &str) -> Applied {
    if context.patient.as_deref() != Some(patient) {
        return Applied {
            items: Vec::new(),
            visit: None,
            first_view: View::Summary,
            opened_on: None,
        };
    }
    let items = items(&context.fhir_context, base);
    let visit = context.encounter.clone().or_else(|| {
        items.iter().find_map(|i| match &i.target {
            Target::Here {
                resource_type, id, ..
            } if resource_type == "Encounter" => Some(id.clone()),
            _ => None,
        })
    });
    let first_view = first_view(&items, context.intent.as_deref(), visit.is_some());
    let opened_on = items.iter().find_map(|i| match &i.target {
        Target::Here {
            resource_type,
            id,
            view: Some(v),
            ..
        } if *v == first_view => Some((resource_type.clone(), id.clone())),
        _ => None,
    });
    Applied {
        items,
        visit,
        first_view,
        opened_on,
    }
}

/// The id of the encounter a resource was recorded in (`encounter` of an Observation or a
/// DiagnosticReport, `context.encounter` of an R4 DocumentReference), when it lies here.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn encounter_of(r: &Value, base: &FhirBase) -> Option<String> {
    let reference = r["encounter"]["reference"]
        .as_str()
        .or_else(|| r["context"]["encounter"][0]["reference"].as_str())?;
    match resolve_reference(reference, Some("Encounter"), base) {
        Target::Here { id, .. } => Some(id),
        _ => None,
    }
}

/// A resource the launch came from, in a line: its type in words, what it is (its code, type or
/// title) and its date, e.g. "Note: Progress note, 2 Apr 2026 09:30".
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn describe(r: &Value) -> String {
    let ty = r["resourceType"].as_str().unwrap_or("Resource");
    let noun = match ty {
        "DocumentReference" => "Note".to_string(),
        "DiagnosticReport" => "Report".to_string(),
        "MedicationRequest" => "Medication".to_string(),
        "AllergyIntolerance" => "Allergy".to_string(),
        "Condition" => "Failure".to_string(),
        other => other.to_string(),
    };
    let what = concept(&r["code"])
        .or_else(|| concept(&r["medicationCodeableConcept"]))
        .or_else(|| {
            r["type"]
                .as_array()
                .and_then(|t| t.iter().find_map(concept))
                .or_else(|| concept(&r["type"]))
        })
        .or_else(|| r["description"].as_str().map(str::to_string));
    let when = [
        &r["effectiveDateTime"],
        &r["date"],
        &r["period"]["start"],
        &r["authoredOn"],
        &r["onsetDateTime"],
        &r["recordedDate"],
        &r["issued"],
    ]
    .into_iter()
    .find_map(|v| v.as_str().and_then(fhir_date))
    .map(|(d, _)| d);
    let details: Vec<String> = what.into_iter().chain(when).collect();
    if details.is_empty() {
        noun
    } else {
        format!("{noun}: {}", details.join(", "))
    }
}

/// The visit in a line under the banner: type, start, location, clinicians ("—" parts left
/// out).
pub fn visit_summary(e: &EncounterRow) -> String {
    [&e.kind, &e.date, &e.location, &e.participants]
        .into_iter()
        .filter(|s| s.as_str() != UNKNOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Whether a resource read for this launch belongs to `patient`'s record (its `subject` or
/// `patient` is that Patient): a visit the EHR named that belongs to someone else is not shown
/// as this patient's.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn belongs_to(r: &Value, patient: &str, base: &FhirBase) -> bool {
    let reference = r["subject"]["reference"]
        .as_str()
        .or_else(|| r["patient"]["reference"].as_str());
    match reference.map(|s| resolve_reference(s, Some("Patient"), base)) {
        Some(Target::Here { id, .. }) => id == patient,
        _ => false,
    }
}

/// One Observation recorded during the visit, as its table shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitObservation {
    pub id: String,
    pub name: String,
    /// The value, or each component's ("Systolic 120 mmHg, Diastolic 80 mmHg"); "—" for none.
    pub value: String,
    pub kind: &'static str,
    pub date: String,
    t: Option<i64>,
}

/// A value as text: a Quantity, a string, a coded value.
fn value_text(o: &Value) -> Option<String> {
    quantity(&o["valueQuantity"])
        .or_else(|| o["valueString"].as_str().map(str::to_string))
        .or_else(|| concept(&o["valueCodeableConcept"]))
}

/// The Observations of a visit, newest first: vital signs and labs together, entered-in-error
/// ones left out (as the Labs tab does), every other one listed even without a value.
pub fn visit_observations(resources: &[Value]) -> Vec<VisitObservation> {
    let mut rows: Vec<VisitObservation> = resources
        .iter()
        .filter(|o| !matches!(o["status"].as_str(), Some("entered-in-error" | "cancelled")))
        .map(|o| {
            let components: Vec<String> = o["component"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let v = value_text(c)?;
                    Some(match concept(&c["code"]) {
                        Some(n) => format!("{n} {v}"),
                        None => v,
                    })
                })
                .collect();
            let value = value_text(o)
                .or_else(|| (!components.is_empty()).then(|| components.join(", ")))
                .unwrap_or_else(|| "—".into());
            let (date, t) = match o["effectiveDateTime"]
                .as_str()
                .or_else(|| o["issued"].as_str())
                .and_then(fhir_date)
            {
                Some((d, t)) => (d, Some(t)),
                None => ("—".into(), None),
            };
            VisitObservation {
                id: o["id"].as_str().unwrap_or("").to_string(),
                name: concept(&o["code"]).unwrap_or_else(|| "Unnamed observation".into()),
                value,
                kind: match observation_view(o) {
                    View::Vitals => "Vital sign",
                    _ => "Lab",
                },
                date,
                t,
            }
        })
        .collect();
    sort_by_key(&mut rows, |r| std::cmp::Reverse(r.t));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "https://ehr.example/fhir";

    fn base() -> FhirBase {
        FhirBase::new(BASE).unwrap()
    }

    #[test]
    fn each_shape_of_item() {
        let got = items(
            &[
                json!({"reference": "DocumentReference/note-1", "role": "launch"}),
                json!({"reference": format!("{BASE}/DiagnosticReport/r.2/_history/3")}),
                json!({"reference": "Appointment/a1", "type": "Appointment"}),
                json!({"reference": "https://other.example/fhir/Observation/o1"}),
                json!({"reference": "../admin/Patient/x"}),
                json!({"canonical": "http://example.org/Questionnaire/phq-9", "type": "Questionnaire"}),
                json!({"identifier": {"system": "urn:oid:1.2", "value": "ACC-9"}, "type": "ImagingStudy"}),
                json!("Appointment/a1"),
                json!({"role": "x"}),
                json!({"reference": 7}),
                json!({"reference": "Observation/o1", "type": "Condition"}),
                json!({"reference": "Observation/o1/extra"}),
                json!({"reference": "#contained"}),
            ],
            &base(),
        );
        let target = |i: usize| got[i].target.clone();
        assert_eq!(
            target(0),
            Target::Here {
                resource_type: "DocumentReference".into(),
                id: "note-1".into(),
                url: format!("{BASE}/DocumentReference/note-1"),
                view: Some(View::Notes),
            }
        );
        assert_eq!(got[0].role.as_deref(), Some("launch"));
        assert!(
            matches!(target(1), Target::Here { ref id, view: Some(View::Notes), .. } if id == "r.2")
        );
        assert!(
            matches!(target(2), Target::Here { view: None, .. }),
            "no view: named"
        );
        assert_eq!(
            target(3),
            Target::Elsewhere("https://other.example/fhir/Observation/o1".into())
        );
        assert!(
            matches!(target(4), Target::Elsewhere(_)),
            "outside the base: {:?}",
            target(4)
        );
        assert_eq!(
            target(5),
            Target::Described("Questionnaire http://example.org/Questionnaire/phq-9".into())
        );
        assert_eq!(
            target(6),
            Target::Described("ImagingStudy identified as ACC-9 (urn:oid:1.2)".into())
        );
        for i in 7..=12 {
            assert!(
                matches!(target(i), Target::Malformed(_)),
                "{i}: {:?}",
                target(i)
            );
        }
    }

    #[test]
    fn the_first_view() {
        let b = base();
        let note = items(&[json!({"reference": "DocumentReference/n"})], &b);
        let appointment = items(&[json!({"reference": "Appointment/a"})], &b);
        assert_eq!(first_view(&note, Some("reconcile"), true), View::Notes);
        assert_eq!(
            first_view(&appointment, Some("reconcile"), true),
            View::Medications
        );
        assert_eq!(first_view(&[], Some("Summary"), true), View::Summary);
        assert_eq!(first_view(&[], Some("no-such-intent"), true), View::Visit);
        assert_eq!(
            first_view(&[], Some("no-such-intent"), false),
            View::Summary
        );
        assert_eq!(
            first_view(&[], Some("visit"), false),
            View::Summary,
            "no visit to show"
        );
        assert_eq!(first_view(&[], None, false), View::Summary);
        assert_eq!(View::Medications.tab(), "summary");
        assert_eq!(View::Medications.section(), Some("medications"));
    }

    #[test]
    fn observations_by_category_and_encounters_of_records() {
        let vital = json!({"category": [{"coding": [{"code": "vital-signs"}]}]});
        assert_eq!(observation_view(&vital), View::Vitals);
        assert_eq!(observation_view(&json!({})), View::Labs);
        let b = base();
        let obs = json!({"encounter": {"reference": "Encounter/e1"}});
        let doc =
            json!({"context": {"encounter": [{"reference": format!("{BASE}/Encounter/e2")}]}});
        let elsewhere = json!({"encounter": {"reference": "https://x.example/Encounter/e1"}});
        assert_eq!(encounter_of(&obs, &b).as_deref(), Some("e1"));
        assert_eq!(encounter_of(&doc, &b).as_deref(), Some("e2"));
        assert_eq!(encounter_of(&elsewhere, &b), None);
        assert_eq!(encounter_of(&json!({}), &b), None);
    }

    #[test]
    fn a_visits_observations_newest_first() {
        let rows = visit_observations(&[
            json!({"id": "a", "status": "final", "code": {"text": "Heart rate"},
                   "category": [{"coding": [{"code": "vital-signs"}]}],
                   "effectiveDateTime": "2026-04-02T09:30:00Z", "valueQuantity": {"value": 72, "unit": "/min"}}),
            json!({"id": "b", "status": "final", "code": {"text": "Blood pressure"},
                   "category": [{"coding": [{"code": "vital-signs"}]}],
                   "effectiveDateTime": "2026-04-02T09:35:00Z",
                   "component": [
                       {"code": {"text": "Systolic"}, "valueQuantity": {"value": 120, "unit": "mmHg"}},
                       {"code": {"text": "Diastolic"}, "valueQuantity": {"value": 80, "unit": "mmHg"}}]}),
            json!({"id": "c", "status": "entered-in-error", "code": {"text": "Glucose"}}),
            json!({"id": "d", "status": "final", "code": {"text": "Glucose"}}),
        ]);
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.value.as_str(), r.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("b", "Systolic 120 mmHg, Diastolic 80 mmHg", "Vital sign"),
                ("a", "72 /min", "Vital sign"),
                ("d", "—", "Lab"),
            ]
        );
        assert_eq!(rows[2].date, "—");
    }

    #[test]
    fn a_resource_in_a_line() {
        let note = json!({"resourceType": "DocumentReference", "type": {"text": "Progress note"}, "date": "2026-04-02"});
        assert!(
            describe(&note).starts_with("Note: Progress note, "),
            "{}",
            describe(&note)
        );
        let visit = json!({"resourceType": "Encounter", "type": [{"text": "Office visit"}]});
        assert_eq!(describe(&visit), "Encounter: Office visit");
        assert_eq!(describe(&json!({"resourceType": "Basic"})), "Basic");
        assert_eq!(describe(&json!({})), "Resource");
    }

    #[test]
    fn the_visit_in_a_line_and_whose_it_is() {
        let e = json!({"resourceType": "Encounter", "id": "e1", "type": [{"text": "Office visit"}],
            "subject": {"reference": "Patient/p1"},
            "location": [{"location": {"display": "Clinic A"}}]});
        let row = &crate::chart::records::encounters(std::slice::from_ref(&e))[0];
        assert_eq!(visit_summary(row), "Office visit · Clinic A");
        let b = base();
        assert!(belongs_to(&e, "p1", &b));
        assert!(!belongs_to(&e, "p2", &b));
        assert!(!belongs_to(
            &json!({"subject": {"reference": "Group/p1"}}),
            "p1",
            &b
        ));
        assert!(!belongs_to(&json!({}), "p1", &b));
    }

    #[test]
    fn the_context_applies_to_the_launchs_patient_only() {
        let b = base();
        let context = LaunchContext {
            patient: Some("p1".into()),
            fhir_context: vec![
                json!({"reference": "Encounter/e9"}),
                json!({"reference": "DocumentReference/n1"}),
            ],
            intent: Some("labs".into()),
            ..LaunchContext::default()
        };
        let a = applied(&context, &b, "p1");
        assert_eq!(a.visit.as_deref(), Some("e9"), "the visit from the items");
        assert_eq!(a.first_view, View::Encounters);
        assert_eq!(a.opened_on, Some(("Encounter".into(), "e9".into())));
        let with_encounter = LaunchContext {
            encounter: Some("e1".into()),
            fhir_context: vec![json!({"reference": "DocumentReference/n1"})],
            ..context.clone()
        };
        let a = applied(&with_encounter, &b, "p1");
        assert_eq!(a.visit.as_deref(), Some("e1"));
        assert_eq!(a.opened_on, Some(("DocumentReference".into(), "n1".into())));
        let other = applied(&context, &b, "p2");
        assert!(other.items.is_empty() && other.visit.is_none());
        assert_eq!(other.first_view, View::Summary);
    }
}
