//! The sandbox's patients: a deterministic generator (seeded, no downloads) of realistic records
//! with SNOMED CT problems, RxNorm medications, LOINC vital signs and labs, plus special cases:
//! an empty record, a very long name with unusual characters, and a record with many observations.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::civil;
use crate::notes::{self, PanelResult, Visit};

/// One stored resource with the fields the search engine filters and sorts on, extracted once.
#[derive(Debug)]
pub struct Resource {
    pub json: Value,
    /// `json` serialised once: reads and searches splice it into responses.
    pub raw: String,
    pub id: String,
    pub resource_type: &'static str,
    /// The patient whose compartment holds this resource (the patient itself for a Patient).
    pub patient: Option<String>,
    /// Clinically relevant time as epoch seconds (effective, onset, authored, period start).
    pub date: Option<i64>,
    /// `(system, code)` of `code` (and of Observation components).
    pub codes: Vec<(String, String)>,
    /// Codes of `category`.
    pub categories: Vec<String>,
    /// Lower-cased strings for `name` searches (Patient, Practitioner).
    pub names: Vec<String>,
    pub family: Vec<String>,
    pub given: Vec<String>,
    pub birth_date: Option<(i64, i64)>,
    pub gender: Option<String>,
    pub identifiers: Vec<(String, String)>,
}

pub const RESOURCE_TYPES: &[&str] = &[
    "Patient",
    "Practitioner",
    "Condition",
    "Observation",
    "MedicationRequest",
    "AllergyIntolerance",
    "Encounter",
    "DiagnosticReport",
    "DocumentReference",
    "Binary",
];

#[derive(Default)]
pub struct Data {
    pub by_type: HashMap<&'static str, Vec<Arc<Resource>>>,
    pub by_id: HashMap<(&'static str, String), Arc<Resource>>,
    /// Index of compartment resources: (type, patient id) -> resources in creation order.
    pub by_patient: HashMap<(&'static str, String), Vec<Arc<Resource>>>,
}

/// Well-known patients tests and the launch page refer to.
pub const EMPTY_PATIENT: &str = "empty-record";
pub const LONG_NAME_PATIENT: &str = "long-name";
pub const BIG_PATIENT: &str = "big-record";
/// Notes and reports carrying every known markup attack, and one note over the app's size cap.
pub const HOSTILE_PATIENT: &str = "hostile-notes";
/// Observations in one set of vital signs (blood pressure, heart and respiratory rates,
/// temperature, SpO2, weight, height, BMI); a pain score comes with some sets besides.
pub const VITALS_PER_SET: usize = 8;

/// The data's "today": fixed so that the same seed always gives the same record.
const TODAY_DAYS: i64 = 20_605; // 2026-06-01

/// The generator's randomness: ChaCha8 from `rand_chacha`, seeded from `--seed`, whose output
/// its authors keep the same on every platform and release (unlike `rand`'s `StdRng`), so a seed
/// always makes the same records. The helpers below are the few shapes the generator asks for.
pub struct Rng(rand_chacha::ChaCha8Rng);
impl Rng {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal (sum of uniforms), mean 0, sd 1.
    pub fn normal(&mut self) -> f64 {
        ((0..6).map(|_| self.unit()).sum::<f64>() - 3.0) * std::f64::consts::SQRT_2
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

const GIVEN_FEMALE: &[&str] = &[
    "Maria", "Emma", "Olivia", "Sofia", "Aisha", "Mei", "Fatima", "Grace", "Hannah", "Isabel",
    "Julia", "Keiko", "Lucia", "Nora", "Priya", "Rosa", "Sara", "Yara", "Zoe", "Ingrid",
];
const GIVEN_MALE: &[&str] = &[
    "James", "Mohammed", "Liam", "Noah", "Hiroshi", "Carlos", "David", "Elijah", "Felix", "George",
    "Omar", "Ivan", "Jamal", "Kenji", "Lucas", "Mateo", "Nikolai", "Samuel", "Tomas", "Wei",
];
const FAMILY: &[&str] = &[
    "Smith",
    "Garcia",
    "Nguyen",
    "Johnson",
    "Okafor",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Müller",
    "Rossi",
    "Patel",
    "Cohen",
    "Andersson",
    "O'Neil",
    "Dubois",
    "Silva",
    "Kim",
    "Brown",
    "Ivanova",
    "Hernández",
    "Wilson",
    "Chen",
    "Novak",
    "Mensah",
    "Larsen",
];
const STREETS: &[&str] = &[
    "Maple Avenue",
    "Oak Street",
    "Harbor Road",
    "Elm Court",
    "Mill Lane",
    "River Drive",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Springfield", "IL", "62701"),
    ("Madison", "WI", "53703"),
    ("Portland", "OR", "97205"),
    ("Raleigh", "NC", "27601"),
    ("Austin", "TX", "78701"),
];

struct Problem {
    snomed: &'static str,
    display: &'static str,
    text: &'static str,
    chronic: bool,
}
const PROBLEMS: &[Problem] = &[
    Problem {
        snomed: "38341003",
        display: "Hypertensive disorder, systemic arterial",
        text: "Hypertension",
        chronic: true,
    },
    Problem {
        snomed: "44054006",
        display: "Diabetes mellitus type 2",
        text: "Type 2 diabetes mellitus",
        chronic: true,
    },
    Problem {
        snomed: "55822004",
        display: "Hyperlipidemia",
        text: "Hyperlipidemia",
        chronic: true,
    },
    Problem {
        snomed: "195967001",
        display: "Asthma",
        text: "Asthma",
        chronic: true,
    },
    Problem {
        snomed: "35489007",
        display: "Depressive disorder",
        text: "Depression",
        chronic: true,
    },
    Problem {
        snomed: "40055000",
        display: "Chronic sinusitis",
        text: "Chronic sinusitis",
        chronic: true,
    },
    Problem {
        snomed: "709044004",
        display: "Chronic kidney disease",
        text: "Chronic kidney disease",
        chronic: true,
    },
    Problem {
        snomed: "49436004",
        display: "Atrial fibrillation",
        text: "Atrial fibrillation",
        chronic: true,
    },
    Problem {
        snomed: "444814009",
        display: "Viral sinusitis",
        text: "Viral sinusitis",
        chronic: false,
    },
    Problem {
        snomed: "10509002",
        display: "Acute bronchitis",
        text: "Acute bronchitis",
        chronic: false,
    },
    Problem {
        snomed: "43878008",
        display: "Streptococcal sore throat",
        text: "Strep throat",
        chronic: false,
    },
    Problem {
        snomed: "68496003",
        display: "Polyp of colon",
        text: "Colon polyp",
        chronic: false,
    },
];

struct Medication {
    rxnorm: &'static str,
    display: &'static str,
    dosage: &'static str,
    /// The problem it treats (index into PROBLEMS), or none.
    for_problem: Option<usize>,
}
const MEDICATIONS: &[Medication] = &[
    Medication {
        rxnorm: "314076",
        display: "lisinopril 10 MG Oral Tablet",
        dosage: "Take 1 tablet by mouth once daily",
        for_problem: Some(0),
    },
    Medication {
        rxnorm: "197361",
        display: "amlodipine 5 MG Oral Tablet",
        dosage: "Take 1 tablet by mouth once daily",
        for_problem: Some(0),
    },
    Medication {
        rxnorm: "860975",
        display: "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
        dosage: "Take 1 tablet by mouth twice daily with meals",
        for_problem: Some(1),
    },
    Medication {
        rxnorm: "617312",
        display: "atorvastatin 20 MG Oral Tablet",
        dosage: "Take 1 tablet by mouth at bedtime",
        for_problem: Some(2),
    },
    Medication {
        rxnorm: "745679",
        display: "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        dosage: "Inhale 2 puffs every 4 to 6 hours as needed for wheezing",
        for_problem: Some(3),
    },
    Medication {
        rxnorm: "312938",
        display: "sertraline 50 MG Oral Tablet",
        dosage: "Take 1 tablet by mouth once daily",
        for_problem: Some(4),
    },
    Medication {
        rxnorm: "855332",
        display: "warfarin sodium 5 MG Oral Tablet",
        dosage: "Take as directed by anticoagulation clinic",
        for_problem: Some(7),
    },
    Medication {
        rxnorm: "308182",
        display: "amoxicillin 250 MG Oral Capsule",
        dosage: "Take 1 capsule by mouth three times daily for 10 days",
        for_problem: Some(10),
    },
    Medication {
        rxnorm: "198211",
        display: "simvastatin 40 MG Oral Tablet",
        dosage: "Take 1 tablet by mouth every evening",
        for_problem: Some(2),
    },
    Medication {
        rxnorm: "310798",
        display: "hydrochlorothiazide 25 MG Oral Tablet",
        dosage: "Take 1 tablet by mouth every morning",
        for_problem: Some(0),
    },
];

struct Allergy {
    system: &'static str,
    code: &'static str,
    display: &'static str,
    category: &'static str,
    reaction: (&'static str, &'static str),
}
const SNOMED: &str = "http://snomed.info/sct";
const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const ALLERGIES: &[Allergy] = &[
    Allergy {
        system: SNOMED,
        code: "764146007",
        display: "Penicillin",
        category: "medication",
        reaction: ("247472004", "Hives"),
    },
    Allergy {
        system: SNOMED,
        code: "91935009",
        display: "Allergy to peanut",
        category: "food",
        reaction: ("39579001", "Anaphylaxis"),
    },
    Allergy {
        system: SNOMED,
        code: "111088007",
        display: "Latex",
        category: "environment",
        reaction: ("271807003", "Skin rash"),
    },
    Allergy {
        system: RXNORM,
        code: "1191",
        display: "Aspirin",
        category: "medication",
        reaction: ("49727002", "Cough"),
    },
    Allergy {
        system: SNOMED,
        code: "256259004",
        display: "Pollen",
        category: "environment",
        reaction: ("21626009", "Cutaneous hypersensitivity"),
    },
    Allergy {
        system: SNOMED,
        code: "102263004",
        display: "Eggs (edible)",
        category: "food",
        reaction: ("422587007", "Nausea"),
    },
];

struct Lab {
    loinc: &'static str,
    /// LOINC's long name, as `coding.display`.
    display: &'static str,
    /// The name a clinician knows, as `code.text` (what EHRs send).
    short: &'static str,
    unit: &'static str,
    ucum: &'static str,
    low: f64,
    high: f64,
    mean: f64,
    sd: f64,
    decimals: i32,
}
const LABS: &[Lab] = &[
    Lab {
        loinc: "4548-4",
        display: "Hemoglobin A1c/Hemoglobin.total in Blood",
        short: "HbA1c",
        unit: "%",
        ucum: "%",
        low: 4.0,
        high: 5.6,
        mean: 6.1,
        sd: 0.9,
        decimals: 1,
    },
    Lab {
        loinc: "18262-6",
        display: "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
        short: "LDL cholesterol",
        unit: "mg/dL",
        ucum: "mg/dL",
        low: 0.0,
        high: 100.0,
        mean: 112.0,
        sd: 28.0,
        decimals: 0,
    },
    Lab {
        loinc: "2160-0",
        display: "Creatinine [Mass/volume] in Serum or Plasma",
        short: "Creatinine",
        unit: "mg/dL",
        ucum: "mg/dL",
        low: 0.6,
        high: 1.3,
        mean: 1.0,
        sd: 0.25,
        decimals: 2,
    },
    Lab {
        loinc: "2345-7",
        display: "Glucose [Mass/volume] in Serum or Plasma",
        short: "Glucose",
        unit: "mg/dL",
        ucum: "mg/dL",
        low: 70.0,
        high: 99.0,
        mean: 98.0,
        sd: 18.0,
        decimals: 0,
    },
    Lab {
        loinc: "2823-3",
        display: "Potassium [Moles/volume] in Serum or Plasma",
        short: "Potassium",
        unit: "mmol/L",
        ucum: "mmol/L",
        low: 3.5,
        high: 5.1,
        mean: 4.3,
        sd: 0.4,
        decimals: 1,
    },
    Lab {
        loinc: "718-7",
        display: "Hemoglobin [Mass/volume] in Blood",
        short: "Hemoglobin",
        unit: "g/dL",
        ucum: "g/dL",
        low: 12.0,
        high: 17.5,
        mean: 14.2,
        sd: 1.4,
        decimals: 1,
    },
];

#[derive(Clone)]
pub struct PractitionerInfo {
    pub id: String,
    pub name: String,
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// A Quantity whose value is written with exactly `decimals` places, as a lab or a monitor
/// records it: FHIR decimals carry their precision (4.0 mmol/L is not 4 mmol/L), and clients
/// must show it as written.
fn quantity(value: f64, decimals: usize, unit: &str, code: &str) -> Value {
    let written = format!("{value:.decimals$}")
        .parse::<serde_json::Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null);
    json!({ "value": written, "unit": unit, "system": UCUM, "code": code })
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn category(code: &str, display: &str) -> Value {
    json!([{ "coding": [coding(
        "http://terminology.hl7.org/CodeSystem/observation-category", code, display)],
        "text": display }])
}

struct Generator {
    rng: Rng,
    data: Data,
    practitioners: Vec<PractitionerInfo>,
    counter: u64,
}

impl Generator {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}", self.counter)
    }

    fn add(&mut self, mut resource: Resource) {
        resource.raw = resource.json.to_string();
        let r = Arc::new(resource);
        self.data
            .by_id
            .insert((r.resource_type, r.id.clone()), r.clone());
        if let Some(p) = &r.patient {
            self.data
                .by_patient
                .entry((r.resource_type, p.clone()))
                .or_default()
                .push(r.clone());
        }
        self.data
            .by_type
            .entry(r.resource_type)
            .or_default()
            .push(r);
    }

    #[allow(clippy::expect_used)]
    fn add_json(&mut self, json: Value, patient: Option<&str>, date: Option<&str>) {
        let resource_type = RESOURCE_TYPES
            .iter()
            .copied()
            .find(|t| json["resourceType"] == *t)
            // The generator's own resources, at start-up: never from a request.
            .expect("generator only makes known types");
        let mut codes = Vec::new();
        let mut push_codes = |v: &Value| {
            for c in v["coding"].as_array().into_iter().flatten() {
                if let (Some(s), Some(code)) = (c["system"].as_str(), c["code"].as_str()) {
                    codes.push((s.to_string(), code.to_string()));
                }
            }
        };
        push_codes(&json["code"]);
        push_codes(&json["medicationCodeableConcept"]);
        push_codes(&json["type"]);
        for comp in json["component"].as_array().into_iter().flatten() {
            push_codes(&comp["code"]);
        }
        let categories = json["category"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| {
                // AllergyIntolerance.category is a plain code; others are CodeableConcepts.
                if let Some(s) = c.as_str() {
                    vec![s.to_string()]
                } else {
                    c["coding"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x["code"].as_str().map(str::to_string))
                        .collect()
                }
            })
            .collect();
        let id = json["id"].as_str().unwrap_or_default().to_string();
        self.add(Resource {
            id,
            resource_type,
            patient: patient.map(str::to_string),
            date: date.and_then(civil::parse_range).map(|(s, _)| s),
            codes,
            categories,
            names: Vec::new(),
            family: Vec::new(),
            given: Vec::new(),
            birth_date: None,
            gender: None,
            identifiers: Vec::new(),
            raw: String::new(),
            json,
        });
    }

    fn add_person(&mut self, json: Value) {
        let resource_type = if json["resourceType"] == "Patient" {
            "Patient"
        } else {
            "Practitioner"
        };
        let id = json["id"].as_str().unwrap_or_default().to_string();
        let mut family = Vec::new();
        let mut given = Vec::new();
        for n in json["name"].as_array().into_iter().flatten() {
            if let Some(f) = n["family"].as_str() {
                family.push(f.to_lowercase());
            }
            for g in n["given"].as_array().into_iter().flatten() {
                if let Some(g) = g.as_str() {
                    given.push(g.to_lowercase());
                }
            }
        }
        let mut names: Vec<String> = family.iter().chain(given.iter()).cloned().collect();
        for n in json["name"].as_array().into_iter().flatten() {
            if let Some(t) = n["text"].as_str() {
                names.push(t.to_lowercase());
            }
        }
        let identifiers = json["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                (
                    i["system"].as_str().unwrap_or_default().to_string(),
                    i["value"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        self.add(Resource {
            patient: (resource_type == "Patient").then(|| id.clone()),
            id,
            resource_type,
            date: None,
            codes: Vec::new(),
            categories: Vec::new(),
            birth_date: json["birthDate"].as_str().and_then(civil::parse_range),
            gender: json["gender"].as_str().map(str::to_string),
            names,
            family,
            given,
            identifiers,
            raw: String::new(),
            json,
        });
    }

    fn practitioners(&mut self) {
        let people = [
            ("dr-adams", "Adams", "Rebecca", "female"),
            ("dr-baker", "Baker", "Thomas", "male"),
            ("dr-chowdhury", "Chowdhury", "Anika", "female"),
            ("dr-diaz", "Díaz", "Miguel", "male"),
            ("np-evans", "Evans", "Jordan", "other"),
        ];
        for (i, (id, family, given, gender)) in people.into_iter().enumerate() {
            let title = if id.starts_with("np-") { "NP" } else { "MD" };
            self.add_person(json!({
                "resourceType": "Practitioner",
                "id": id,
                "active": true,
                "identifier": [{ "system": "http://hl7.org/fhir/sid/us-npi", "value": format!("19{:08}", 1_234_567 + i * 7919) }],
                "name": [{ "use": "official", "family": family, "given": [given], "suffix": [title] }],
                "gender": gender,
                "telecom": [{ "system": "phone", "value": format!("555-010{i}"), "use": "work" }],
            }));
            self.practitioners.push(PractitionerInfo {
                id: id.to_string(),
                name: format!("{given} {family}, {title}"),
            });
        }
    }

    fn patient_json(
        &mut self,
        id: &str,
        family: &str,
        given: &[&str],
        gender: &str,
        birth_days: i64,
        n: usize,
    ) -> Value {
        let (city, state, zip) = *self.rng.pick(CITIES);
        let street = *self.rng.pick(STREETS);
        let gp = self.practitioners[n % self.practitioners.len()].id.clone();
        json!({
            "resourceType": "Patient",
            "id": id,
            "meta": { "lastUpdated": "2026-06-01T08:00:00Z" },
            // A social security number (999-: never issued) before the MRN, with no type: the
            // app must label it by its system, mask it, and still show the MRN.
            "identifier": [{
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": format!("999-{:02}-{:04}", 10 + n % 90, 1000 + n * 17),
            }, {
                "use": "usual",
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical Record Number" }], "text": "MRN" },
                "system": "urn:oid:2.16.840.1.113883.19.5",
                "value": format!("MRN{:06}", 100_000 + n * 37),
            }],
            "active": true,
            "name": [{ "use": "official", "family": family, "given": given }],
            "telecom": [{ "system": "phone", "value": format!("555-{:03}-{:04}", 200 + n, 1000 + n * 13), "use": "home" }],
            "gender": gender,
            "birthDate": civil::date(birth_days),
            "address": [{ "use": "home", "line": [format!("{} {street}", 10 + n * 7)], "city": city, "state": state, "postalCode": zip, "country": "US" }],
            "generalPractitioner": [{ "reference": format!("Practitioner/{gp}") }],
        })
    }

    fn regular_patient(&mut self, n: usize) {
        let female = self.rng.chance(0.5);
        let given = *self
            .rng
            .pick(if female { GIVEN_FEMALE } else { GIVEN_MALE });
        let middle = *self
            .rng
            .pick(if female { GIVEN_FEMALE } else { GIVEN_MALE });
        let family = *self.rng.pick(FAMILY);
        let age_years = self.rng.range(4, 92);
        let birth = TODAY_DAYS - age_years * 365 - self.rng.range(0, 364);
        let id = format!("patient-{:02}", n + 1);
        let patient = self.patient_json(
            &id,
            family,
            &[given, middle],
            if female { "female" } else { "male" },
            birth,
            n,
        );
        self.add_person(patient);

        // Problems: chronic conditions grow with age; acute ones come and go.
        let mut problems: Vec<usize> = Vec::new();
        let n_problems = self.rng.range(1, if age_years > 50 { 6 } else { 3 });
        while problems.len() < n_problems as usize {
            let p = self.rng.below(PROBLEMS.len() as u64) as usize;
            if !problems.contains(&p) {
                problems.push(p);
            }
        }
        let history_years = self.rng.range(3, 6).min(age_years.max(1));
        let start = TODAY_DAYS - history_years * 365;
        for &p in &problems {
            let pr = &PROBLEMS[p];
            let onset = self.rng.range(start - 2 * 365, TODAY_DAYS - 30);
            let resolved = !pr.chronic && self.rng.chance(0.8);
            let status = if resolved { "resolved" } else { "active" };
            let mut c = json!({
                "resourceType": "Condition",
                "id": self.next_id("cond"),
                "clinicalStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-clinical", status, status)] },
                "verificationStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")] },
                "category": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")] }],
                "code": { "coding": [coding(SNOMED, pr.snomed, pr.display)], "text": pr.text },
                "subject": { "reference": format!("Patient/{id}") },
                "onsetDateTime": civil::date(onset),
                "recordedDate": civil::date(onset + 2),
            });
            if resolved {
                c["abatementDateTime"] = json!(civil::date(onset + self.rng.range(7, 30)));
            }
            let onset_s = civil::date(onset);
            self.add_json(c, Some(&id), Some(&onset_s));
        }

        // Medications follow the problems they treat; some older orders are stopped.
        for (m, med) in MEDICATIONS.iter().enumerate() {
            let treats = med.for_problem.is_some_and(|p| problems.contains(&p));
            if !treats || (m % 2 == 1 && self.rng.chance(0.5)) {
                continue;
            }
            let authored = self.rng.range(start, TODAY_DAYS - 10);
            let status = if PROBLEMS[med.for_problem.unwrap_or(0)].chronic {
                if self.rng.chance(0.85) {
                    "active"
                } else {
                    "stopped"
                }
            } else {
                "completed"
            };
            let prescriber = self.rng.pick(&self.practitioners).id.clone();
            let r = json!({
                "resourceType": "MedicationRequest",
                "id": self.next_id("medrx"),
                "status": status,
                "intent": "order",
                "medicationCodeableConcept": { "coding": [coding(RXNORM, med.rxnorm, med.display)], "text": med.display },
                "subject": { "reference": format!("Patient/{id}") },
                "authoredOn": civil::date(authored),
                "requester": { "reference": format!("Practitioner/{prescriber}") },
                "dosageInstruction": [{ "text": med.dosage }],
            });
            let a = civil::date(authored);
            self.add_json(r, Some(&id), Some(&a));
        }

        // Allergies.
        for _ in 0..self.rng.range(0, 3) {
            let a = self.rng.pick(ALLERGIES);
            let recorded = civil::date(self.rng.range(start - 3650, TODAY_DAYS - 100));
            let critical = a.reaction.1 == "Anaphylaxis";
            let r = json!({
                "resourceType": "AllergyIntolerance",
                "id": self.next_id("allergy"),
                "clinicalStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active")] },
                "verificationStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed")] },
                "type": "allergy",
                "category": [a.category],
                "criticality": if critical { "high" } else { "low" },
                "code": { "coding": [coding(a.system, a.code, a.display)], "text": a.display },
                "patient": { "reference": format!("Patient/{id}") },
                "recordedDate": recorded,
                "reaction": [{ "manifestation": [{ "coding": [coding(SNOMED, a.reaction.0, a.reaction.1)], "text": a.reaction.1 }], "severity": if critical { "severe" } else { "mild" } }],
            });
            self.add_json(r, Some(&id), Some(&recorded));
        }

        // Encounters over the history, each with vital signs and, often, labs.
        let visits = self.rng.range(6, 18);
        let diabetic = problems.contains(&1);
        let height = if female { 162.0 } else { 176.0 } + self.rng.normal() * 7.0;
        let height = if age_years < 16 {
            100.0 + age_years as f64 * 4.5
        } else {
            height
        };
        let mut weight = if age_years < 16 {
            15.0 + age_years as f64 * 3.2
        } else {
            60.0 + self.rng.unit() * 45.0
        };
        let mut day = start;
        for v in 0..visits {
            day += self.rng.range(30, 200);
            if day > TODAY_DAYS {
                break;
            }
            let secs = day * 86_400 + self.rng.range(8 * 3600, 17 * 3600);
            let class = if v % 7 == 6 {
                ("EMER", "emergency")
            } else {
                ("AMB", "ambulatory")
            };
            let enc_id = self.next_id("enc");
            let doctor = self.rng.pick(&self.practitioners).clone();
            let reason = PROBLEMS[*self.rng.pick(&problems)].text;
            let when = civil::date_time(secs);
            let enc = json!({
                "resourceType": "Encounter",
                "id": enc_id,
                "status": "finished",
                "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class.0, "display": class.1 },
                "type": [{ "coding": [coding(SNOMED, if class.0 == "AMB" { "185349003" } else { "50849002" }, if class.0 == "AMB" { "Encounter for check up" } else { "Emergency room admission" })], "text": if class.0 == "AMB" { "Check-up" } else { "Emergency visit" } }],
                "subject": { "reference": format!("Patient/{id}") },
                "participant": [{ "individual": { "reference": format!("Practitioner/{}", doctor.id), "display": doctor.name } }],
                "period": { "start": when, "end": civil::date_time(secs + 1800) },
                "location": [{ "location": { "display": if class.0 == "AMB" { "Main Street Clinic" } else { "Emergency Department, General Hospital" } } }],
                "reasonCode": [{ "text": reason }],
            });
            self.add_json(enc, Some(&id), Some(&when));
            weight += self.rng.normal() * 1.2;
            let pain = self.rng.chance(0.3);
            self.vitals(&id, Some(&enc_id), secs, height, weight, pain);
            if v % 2 == 0 || diabetic {
                self.labs(&id, Some(&enc_id), secs + 600, diabetic);
            }
            // A progress note for each visit, plain text, XHTML and HTML in turn; now and then an
            // imaging report. No draws from the generator: the rest of the data stays as it was.
            let note_when = civil::date_time(secs + 1800);
            let visit = Visit {
                patient: &id,
                encounter: &enc_id,
                when: &note_when,
                clinician: &doctor.name,
                reason,
                weight_kg: weight,
            };
            let note_id = self.next_id("note");
            let format = match v % 3 {
                0 => notes::NoteFormat::Text,
                1 => notes::NoteFormat::Xhtml,
                _ => notes::NoteFormat::Html,
            };
            let note = notes::progress_note(&note_id, &visit, format);
            self.add_json(note, Some(&id), Some(&note_when));
            if v % 5 == 3 {
                let rad = self.practitioners[(n + v as usize) % self.practitioners.len()]
                    .name
                    .clone();
                let img_when = civil::date_time(secs + 3600);
                let img_id = self.next_id("img");
                let report = notes::imaging_report(&img_id, &id, &img_when, &rad, n + v as usize);
                self.add_json(report, Some(&id), Some(&img_when));
            }
        }
        if n == 0 {
            // One discharge letter as a PDF on the FHIR server.
            let when = civil::date_time((TODAY_DAYS - 20) * 86_400 + 11 * 3600);
            let clinician = self.practitioners[0].name.clone();
            let (doc, binary, figure, rtf) = notes::discharge_summary(
                "discharge-1",
                "discharge-1-pdf",
                &id,
                &format!("{given} {family}"),
                &when,
                &clinician,
            );
            self.add_json(doc, Some(&id), Some(&when));
            self.add_json(binary, Some(&id), None);
            self.add_json(figure, Some(&id), None);
            self.add_json(rtf, Some(&id), None);
        }
    }

    /// One set of vital signs: the FHIR vital-signs profile's kinds an adult clinic records
    /// ([`VITALS_PER_SET`] Observations), plus a pain score when `pain`.
    fn vitals(
        &mut self,
        patient: &str,
        encounter: Option<&str>,
        secs: i64,
        height_cm: f64,
        weight_kg: f64,
        pain: bool,
    ) {
        let hr = round(72.0 + self.rng.normal() * 9.0, 0);
        let rr = round((16.0 + self.rng.normal() * 2.5).max(8.0), 0);
        let pain_score = round((2.0 + self.rng.normal() * 2.5).clamp(0.0, 10.0), 0);
        let sys = round(124.0 + self.rng.normal() * 13.0, 0);
        let dia = round(79.0 + self.rng.normal() * 8.0, 0);
        let temp = round(36.8 + self.rng.normal() * 0.35, 1);
        let spo2 = round((97.5 + self.rng.normal() * 1.2).min(100.0), 0);
        let bmi = round(weight_kg / (height_cm / 100.0).powi(2), 1);
        let when = civil::date_time(secs);
        let mut simple = vec![
            (
                "8867-4",
                "Heart rate",
                quantity(hr, 0, "beats/minute", "/min"),
            ),
            (
                "9279-1",
                "Respiratory rate",
                quantity(rr, 0, "breaths/minute", "/min"),
            ),
            ("29463-7", "Body weight", quantity(weight_kg, 1, "kg", "kg")),
            ("8302-2", "Body height", quantity(height_cm, 1, "cm", "cm")),
            (
                "39156-5",
                "Body mass index (BMI) [Ratio]",
                quantity(bmi, 1, "kg/m2", "kg/m2"),
            ),
            (
                "8310-5",
                "Body temperature",
                quantity(temp, 1, "Cel", "Cel"),
            ),
            (
                "59408-5",
                "Oxygen saturation in Arterial blood by Pulse oximetry",
                quantity(spo2, 0, "%", "%"),
            ),
        ];
        if pain {
            simple.push((
                "72514-3",
                "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                quantity(pain_score, 0, "{score}", "{score}"),
            ));
        }
        for (code, display, value) in simple {
            let mut o = json!({
                "resourceType": "Observation",
                "id": self.next_id("obs"),
                "status": "final",
                "category": category("vital-signs", "Vital Signs"),
                "code": { "coding": [coding(LOINC, code, display)], "text": display },
                "subject": { "reference": format!("Patient/{patient}") },
                "effectiveDateTime": when,
                "valueQuantity": value,
            });
            if let Some(e) = encounter {
                o["encounter"] = json!({ "reference": format!("Encounter/{e}") });
            }
            self.add_json(o, Some(patient), Some(&when));
        }
        let mut bp = json!({
            "resourceType": "Observation",
            "id": self.next_id("obs"),
            "status": "final",
            "category": category("vital-signs", "Vital Signs"),
            "code": { "coding": [coding(LOINC, "85354-9", "Blood pressure panel with all children optional")], "text": "Blood pressure" },
            "subject": { "reference": format!("Patient/{patient}") },
            "effectiveDateTime": when,
            "component": [
                { "code": { "coding": [coding(LOINC, "8480-6", "Systolic blood pressure")], "text": "Systolic" }, "valueQuantity": quantity(sys, 0, "mmHg", "mm[Hg]") },
                { "code": { "coding": [coding(LOINC, "8462-4", "Diastolic blood pressure")], "text": "Diastolic" }, "valueQuantity": quantity(dia, 0, "mmHg", "mm[Hg]") },
            ],
        });
        if let Some(e) = encounter {
            bp["encounter"] = json!({ "reference": format!("Encounter/{e}") });
        }
        self.add_json(bp, Some(patient), Some(&when));
    }

    fn labs(&mut self, patient: &str, encounter: Option<&str>, secs: i64, diabetic: bool) {
        let when = civil::date_time(secs);
        let mut panel = Vec::new();
        for lab in LABS {
            if lab.loinc == "4548-4" && !diabetic && self.rng.chance(0.6) {
                continue;
            }
            let mean = if lab.loinc == "4548-4" && diabetic {
                7.4
            } else {
                lab.mean
            };
            let value = round((mean + self.rng.normal() * lab.sd).max(0.0), lab.decimals);
            let flag = if value < lab.low {
                ("L", "Low")
            } else if value > lab.high {
                ("H", "High")
            } else {
                ("N", "Normal")
            };
            let mut o = json!({
                "resourceType": "Observation",
                "id": self.next_id("obs"),
                "status": "final",
                "category": category("laboratory", "Laboratory"),
                "code": { "coding": [coding(LOINC, lab.loinc, lab.display)], "text": lab.short },
                "subject": { "reference": format!("Patient/{patient}") },
                "effectiveDateTime": when,
                "issued": civil::date_time(secs + 4 * 3600),
                "valueQuantity": quantity(value, lab.decimals as usize, lab.unit, lab.ucum),
                "interpretation": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", flag.0, flag.1)] }],
                "referenceRange": [{
                    "low": quantity(lab.low, lab.decimals as usize, lab.unit, lab.ucum),
                    "high": quantity(lab.high, lab.decimals as usize, lab.unit, lab.ucum),
                    "text": format!("{}–{} {}", lab.low, lab.high, lab.unit),
                }],
            });
            if let Some(e) = encounter {
                o["encounter"] = json!({ "reference": format!("Encounter/{e}") });
            }
            panel.push(PanelResult {
                id: o["id"].as_str().unwrap_or_default().to_string(),
                name: lab.short.to_string(),
                value: format!("{value:.prec$} {}", lab.unit, prec = lab.decimals as usize),
                flag: flag.1,
            });
            self.add_json(o, Some(patient), Some(&when));
        }
        let report_id = self.next_id("labrep");
        let issued = civil::date_time(secs + 4 * 3600);
        let report = notes::lab_report(&report_id, patient, encounter, &when, &issued, &panel);
        self.add_json(report, Some(patient), Some(&when));
    }

    fn special_patients(&mut self, big_observations: usize) {
        let empty = self.patient_json(
            EMPTY_PATIENT,
            "Empty",
            &["Eve"],
            "female",
            TODAY_DAYS - 30 * 365,
            90,
        );
        self.add_person(empty);

        // A long name with characters that break naive rendering: apostrophes, diacritics,
        // right-to-left text, an emoji and markup that must show as text.
        let long_given = [
            "Maximiliana-Éléonore",
            "Zoë",
            "<b>Ŝtéphanie</b>",
            "D'Artagnan",
            "نور",
            "🌻",
        ];
        let long = self.patient_json(
            LONG_NAME_PATIENT,
            "Wolfeschlegelsteinhausenbergerdorff-O'Connor-Ñúñez y Åström-Þórðardóttir",
            &long_given,
            "other",
            TODAY_DAYS - 45 * 365 - 123,
            91,
        );
        self.add_person(long);

        let big = self.patient_json(
            BIG_PATIENT,
            "Volume",
            &["Victor", "Long-Record"],
            "male",
            TODAY_DAYS - 67 * 365 - 40,
            92,
        );
        self.add_person(big);

        let hostile = self.patient_json(
            HOSTILE_PATIENT,
            "Markup",
            &["Mallory"],
            "female",
            TODAY_DAYS - 38 * 365 - 10,
            93,
        );
        self.add_person(hostile);
        let when = civil::date_time((TODAY_DAYS - 3) * 86_400 + 10 * 3600);
        for d in notes::hostile_documents(HOSTILE_PATIENT, &when) {
            self.add_json(d, Some(HOSTILE_PATIENT), Some(&when));
        }
        // Sets of vitals every eight hours going back as far as needed.
        let sets = big_observations.div_ceil(VITALS_PER_SET);
        let mut weight = 84.0;
        for s in 0..sets {
            let secs = (TODAY_DAYS * 86_400) - (sets - s) as i64 * 8 * 3600;
            weight += self.rng.normal() * 0.15;
            self.vitals(BIG_PATIENT, None, secs, 180.0, weight, false);
        }
    }
}

/// Practitioners and patients, generated from `seed`. `big_observations` sizes the large record.
pub fn generate(seed: u64, big_observations: usize) -> (Data, Vec<PractitionerInfo>) {
    let mut g = Generator {
        rng: Rng::new(seed),
        data: Data::default(),
        practitioners: Vec::new(),
        counter: 0,
    };
    g.practitioners();
    for n in 0..27 {
        g.regular_patient(n);
    }
    g.special_patients(big_observations);
    (g.data, g.practitioners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_rich() {
        let (a, _) = generate(7, 1000);
        let (b, _) = generate(7, 1000);
        let ids = |d: &Data| {
            d.by_type["Observation"]
                .iter()
                .map(|r| r.json.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert!(a.by_type["Patient"].len() >= 25);
        for t in RESOURCE_TYPES {
            assert!(!a.by_type[t].is_empty(), "{t} generated");
        }
        assert!(!a
            .by_patient
            .contains_key(&("Observation", EMPTY_PATIENT.into())));
        assert!(a.by_patient[&("Observation", BIG_PATIENT.into())].len() >= 1000);
    }

    #[test]
    fn big_record_has_ten_thousand_observations() {
        let (d, _) = generate(42, 10_000);
        assert!(d.by_patient[&("Observation", BIG_PATIENT.into())].len() >= 10_000);
    }

    /// Every kind the app charts is generated: respiratory rate in every set, pain scores in
    /// some, beside the others, so that every chart the app draws has data.
    #[test]
    fn vital_signs_of_every_kind() {
        let (d, _) = generate(7, 100);
        let codes: std::collections::BTreeMap<String, usize> = d.by_patient
            [&("Observation", "patient-01".to_string())]
            .iter()
            .filter(|r| r.json["category"][0]["coding"][0]["code"] == "vital-signs")
            .fold(Default::default(), |mut m, r| {
                let code = r.json["code"]["coding"][0]["code"].as_str().unwrap_or("");
                *m.entry(code.to_string()).or_default() += 1;
                m
            });
        for code in [
            "85354-9", "8867-4", "9279-1", "8310-5", "59408-5", "29463-7", "8302-2", "39156-5",
        ] {
            assert_eq!(codes.get(code), codes.get("8867-4"), "{code}: one per set");
        }
        let pain: usize = ["patient-01", "patient-02", "patient-03"]
            .iter()
            .map(|p| {
                d.by_patient[&("Observation", p.to_string())]
                    .iter()
                    .filter(|r| r.json["code"]["coding"][0]["code"] == "72514-3")
                    .count()
            })
            .sum();
        assert!(pain > 0, "pain scores in some sets");
    }

    /// Lab values are written with their test's precision (4.0, not 4), under the short name.
    #[test]
    fn lab_values_keep_their_precision() {
        let (d, _) = generate(7, 100);
        let mut seen = 0;
        for r in &d.by_patient[&("Observation", "patient-02".to_string())] {
            let Some(lab) = LABS
                .iter()
                .find(|l| r.json["code"]["coding"][0]["code"] == l.loinc)
            else {
                continue;
            };
            let text = r.json["valueQuantity"]["value"].to_string();
            let places = text.split_once('.').map_or(0, |(_, f)| f.len());
            assert_eq!(places, lab.decimals as usize, "{}: {text}", lab.short);
            assert_eq!(r.json["code"]["text"], lab.short);
            seen += 1;
        }
        assert!(seen > 0);
    }
}
