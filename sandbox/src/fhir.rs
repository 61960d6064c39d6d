//! The FHIR R4 REST server: read and search with Bearer tokens, SMART scope and patient
//! compartment enforcement, searchset Bundles with paging, OperationOutcome errors.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::civil;
use crate::config::Malformed;
use crate::data::{Resource, RESOURCE_TYPES};
use crate::scopes::{self, Interaction, Level};
use crate::state::{GrantContext, Sandbox, User};

type S = State<Arc<Sandbox>>;

pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 1000;

pub fn fhir_json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json; charset=utf-8")],
        body,
    )
        .into_response()
}

/// An OperationOutcome error (FHIR R4 §3.1.0.4 "Handling errors").
pub fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    let body = json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }],
    });
    fhir_json(status, body.to_string())
}

/// "Given Family" of a Patient or Practitioner, for the sandbox's own pages.
pub fn display_name(r: &Value) -> String {
    let n = &r["name"][0];
    let mut parts: Vec<&str> = n["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(f) = n["family"].as_str() {
        parts.push(f);
    }
    parts.join(" ")
}

/// The search parameters each type supports, with their FHIR search type.
pub fn search_params(resource_type: &str) -> &'static [(&'static str, &'static str)] {
    match resource_type {
        "Patient" => &[
            ("_id", "token"),
            ("name", "string"),
            ("family", "string"),
            ("given", "string"),
            ("birthdate", "date"),
            ("gender", "token"),
            ("identifier", "token"),
        ],
        "Practitioner" => &[
            ("_id", "token"),
            ("name", "string"),
            ("family", "string"),
            ("given", "string"),
            ("identifier", "token"),
        ],
        "Observation" => &[
            ("_id", "token"),
            ("encounter", "reference"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("category", "token"),
            ("code", "token"),
            ("date", "date"),
        ],
        "Condition" => &[
            ("_id", "token"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("category", "token"),
            ("code", "token"),
            ("onset-date", "date"),
        ],
        "MedicationRequest" => &[
            ("_id", "token"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("status", "token"),
            ("code", "token"),
            ("authoredon", "date"),
        ],
        "AllergyIntolerance" => &[
            ("_id", "token"),
            ("patient", "reference"),
            ("category", "token"),
            ("code", "token"),
        ],
        "Encounter" => &[
            ("_id", "token"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("date", "date"),
        ],
        "DiagnosticReport" => &[
            ("_id", "token"),
            ("encounter", "reference"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("category", "token"),
            ("code", "token"),
            ("date", "date"),
        ],
        "DocumentReference" => &[
            ("_id", "token"),
            ("encounter", "reference"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("category", "token"),
            ("type", "token"),
            ("date", "date"),
        ],
        _ => &[],
    }
}

enum AuthError {
    Missing,
    Invalid,
}

/// Looks the Bearer token up; 401 with `WWW-Authenticate` (RFC 6750 §3) when it is missing,
/// unknown, revoked or expired.
fn authenticate(sb: &Sandbox, headers: &HeaderMap) -> Result<GrantContext, Response> {
    let result = (|| {
        if sb.faults().fhir_unauthorized {
            return Err(AuthError::Invalid);
        }
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Invalid);
        }
        let store = sb.store();
        let entry = store.access.get(token.trim()).ok_or(AuthError::Invalid)?;
        if entry.expires <= Instant::now() {
            return Err(AuthError::Invalid);
        }
        let grant = store.grants.get(&entry.grant).ok_or(AuthError::Invalid)?;
        if grant.revoked {
            return Err(AuthError::Invalid);
        }
        Ok(grant.context.clone())
    })();
    result.map_err(|e| {
        sb.stats.fhir_unauthorized.fetch_add(1, Ordering::Relaxed);
        let challenge = match e {
            AuthError::Missing => "Bearer realm=\"sandbox\"".to_string(),
            AuthError::Invalid => "Bearer realm=\"sandbox\", error=\"invalid_token\", \
                 error_description=\"The access token is missing, expired or revoked\""
                .to_string(),
        };
        let mut r = outcome(
            StatusCode::UNAUTHORIZED,
            "login",
            "A valid access token is required",
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    })
}

/// What a grant may see of `resource_type`: `Ok(None)` everything, `Ok(Some(p))` only patient
/// `p`'s compartment, `Err` a 403 (SMART App Launch 2.2 §"Scopes for requesting clinical data").
fn access(
    ctx: &GrantContext,
    resource_type: &str,
    interaction: Interaction,
) -> Result<Option<String>, Response> {
    let patient_user = match &ctx.user {
        Some(User::Patient(id)) => Some(id.clone()),
        _ => None,
    };
    let user_ok = scopes::allows(&ctx.scopes, Level::User, resource_type, interaction);
    let patient_ok = ctx.patient.is_some()
        && scopes::allows(&ctx.scopes, Level::Patient, resource_type, interaction);
    if user_ok && patient_user.is_none() {
        return Ok(None);
    }
    if user_ok {
        return Ok(patient_user);
    }
    if patient_ok {
        return Ok(ctx.patient.clone());
    }
    let verb = match interaction {
        Interaction::Read => "read",
        Interaction::Search => "search",
    };
    Err(outcome(
        StatusCode::FORBIDDEN,
        "forbidden",
        &format!("The granted scopes do not allow {verb} of {resource_type}"),
    ))
}

fn in_compartment(r: &Resource, patient: &str) -> bool {
    match r.resource_type {
        // Practitioners are referenced from the record; a patient-scoped app may read them.
        "Practitioner" => true,
        _ => r.patient.as_deref() == Some(patient),
    }
}

fn malformed(sb: &Sandbox, body: String) -> String {
    if sb.faults().malformed.contains(&Malformed::Fhir) {
        body[..body.len() / 2].to_string()
    } else {
        body
    }
}

/// The steps every FHIR request takes first: a valid token, a known type, a granted scope.
/// Returns the type and the compartment the grant is limited to.
fn admit(
    sb: &Sandbox,
    headers: &HeaderMap,
    rtype: &str,
    interaction: Interaction,
) -> Result<(&'static str, Option<String>), Response> {
    let ctx = authenticate(sb, headers)?;
    if sb.faults().forbid.as_deref() == Some(rtype) {
        return Err(outcome(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("The user's role may not see {rtype} (sandbox --forbid)"),
        ));
    }
    let Some(known) = RESOURCE_TYPES.iter().copied().find(|k| *k == rtype) else {
        return Err(outcome(
            StatusCode::NOT_FOUND,
            "not-supported",
            &format!("Resource type {rtype} is not supported"),
        ));
    };
    // A Binary holds a document's content: readable with the Binary scope or with that of the
    // DocumentReference that points to it (as EHRs grant it).
    let granted = match (known, access(&ctx, known, interaction)) {
        ("Binary", Err(_)) => access(&ctx, "DocumentReference", interaction)?,
        (_, a) => a?,
    };
    Ok((known, granted))
}

/// The first type an `Accept` header names, without parameters.
fn first_accepted(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}

/// Oracle's rule for a Binary (its R4 Binary documentation): `Accept` must name
/// `application/fhir+json` or the Binary's own content type.
fn accepts_binary(r: &Resource, headers: &HeaderMap) -> bool {
    let first = first_accepted(headers);
    first.is_empty()
        || first == "*/*"
        || first == "application/fhir+json"
        || r.json["contentType"]
            .as_str()
            .is_some_and(|ct| ct.eq_ignore_ascii_case(first))
}

/// A Binary in its own format unless JSON is asked for first (FHIR R4 §Binary, "Serving
/// Binary Resources using the RESTful API").
fn binary_response(r: &Resource, headers: &HeaderMap) -> Option<Response> {
    use base64::Engine;
    if first_accepted(headers).ends_with("json") {
        return None;
    }
    let content_type = r.json["contentType"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r.json["data"].as_str()?)
        .ok()?;
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).ok()?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(res)
}

/// `GET /fhir/{type}/{id}`.
pub async fn read(
    State(sb): S,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (rtype, compartment) = match admit(&sb, &headers, &rtype, Interaction::Read) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(r) = sb.data.by_id.get(&(rtype, id.clone())) else {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{rtype}/{id} is not known"),
        );
    };
    if let Some(p) = compartment {
        if !in_compartment(r, &p) {
            return outcome(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!("{rtype}/{id} lies outside the patient compartment of this token"),
            );
        }
    }
    if rtype == "Binary" {
        if sb.config.profile.strict_accept() && !accepts_binary(r, &headers) {
            return (
                StatusCode::NOT_ACCEPTABLE,
                [(header::CONTENT_TYPE, "text/plain")],
                "Not Acceptable",
            )
                .into_response();
        }
        if let Some(res) = binary_response(r, &headers) {
            return res;
        }
    }
    fhir_json(StatusCode::OK, malformed(&sb, r.raw.clone()))
}

struct Search {
    count: usize,
    offset: usize,
    sort_desc: Option<bool>,
    /// AND of ORs.
    filters: Vec<(String, Option<String>, Vec<String>)>,
}

fn bad(msg: &str) -> Response {
    outcome(StatusCode::BAD_REQUEST, "invalid", msg)
}

fn parse_search(rtype: &str, raw: &str) -> Result<Search, Response> {
    let mut s = Search {
        count: DEFAULT_COUNT,
        offset: 0,
        sort_desc: None,
        filters: Vec::new(),
    };
    let supported = search_params(rtype);
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "_count" => {
                let n: usize = v
                    .parse()
                    .map_err(|_| bad("_count must be a whole number"))?;
                s.count = n.min(MAX_COUNT);
            }
            "_offset" => {
                s.offset = v
                    .parse()
                    .map_err(|_| bad("_offset must be a whole number"))?
            }
            "_sort" => {
                s.sort_desc = Some(match v.as_ref() {
                    "date" => false,
                    "-date" => true,
                    other => {
                        return Err(bad(&format!(
                            "_sort={other} is not supported (use date or -date)"
                        )))
                    }
                })
            }
            "_format" if v == "json" || v.contains("fhir+json") => {}
            key => {
                let (name, modifier) = match key.split_once(':') {
                    Some((n, m)) => (n, Some(m.to_string())),
                    None => (key, None),
                };
                if !supported.iter().any(|(n, _)| *n == name) {
                    return Err(bad(&format!(
                        "Search parameter {key} is not supported for {rtype}"
                    )));
                }
                let values = v.split(',').map(str::to_string).collect();
                s.filters.push((name.to_string(), modifier, values));
            }
        }
    }
    Ok(s)
}

fn token_matches(value: &str, pairs: &[(String, String)]) -> bool {
    match value.split_once('|') {
        Some(("", code)) => pairs.iter().any(|(s, c)| s.is_empty() && c == code),
        Some((system, "")) => pairs.iter().any(|(s, _)| s == system),
        Some((system, code)) => pairs.iter().any(|(s, c)| s == system && c == code),
        None => pairs.iter().any(|(_, c)| c == value),
    }
}

fn date_matches(value: &str, t: Option<i64>) -> Result<bool, Response> {
    let (prefix, date) =
        if value.len() > 2 && value.as_bytes()[..2].iter().all(u8::is_ascii_lowercase) {
            value.split_at(2)
        } else {
            ("eq", value)
        };
    let (lo, hi) =
        civil::parse_range(date).ok_or_else(|| bad(&format!("{value:?} is not a FHIR date")))?;
    let Some(t) = t else { return Ok(false) };
    Ok(match prefix {
        "eq" => lo <= t && t < hi,
        "ne" => !(lo <= t && t < hi),
        "gt" | "sa" => t >= hi,
        "lt" | "eb" => t < lo,
        "ge" => t >= lo,
        "le" => t < hi,
        other => return Err(bad(&format!("date prefix {other} is not supported"))),
    })
}

fn reference_id(value: &str) -> &str {
    value.rsplit('/').next().unwrap_or(value)
}

fn string_matches(
    modifier: Option<&str>,
    value: &str,
    candidates: &[String],
) -> Result<bool, Response> {
    let v = value.to_lowercase();
    Ok(match modifier {
        None => candidates
            .iter()
            .any(|c| c.starts_with(&v) || c.split([' ', '-']).any(|w| w.starts_with(&v))),
        Some("exact") => candidates.contains(&v),
        Some("contains") => candidates.iter().any(|c| c.contains(&v)),
        Some(m) => return Err(bad(&format!("modifier :{m} is not supported"))),
    })
}

fn matches(
    r: &Resource,
    name: &str,
    modifier: Option<&str>,
    values: &[String],
) -> Result<bool, Response> {
    for v in values {
        let hit = match name {
            "_id" => r.id == *v,
            "patient" | "subject" => r.patient.as_deref() == Some(reference_id(v)),
            "encounter" => r.json["encounter"]["reference"]
                .as_str()
                .or_else(|| r.json["context"]["encounter"][0]["reference"].as_str())
                .is_some_and(|e| reference_id(e) == reference_id(v)),
            "category" => r
                .categories
                .iter()
                .any(|c| c == v || v.ends_with(&format!("|{c}"))),
            "code" => token_matches(v, &r.codes),
            "status" => r.json["status"].as_str() == Some(v),
            "gender" => r.gender.as_deref() == Some(v),
            "identifier" => token_matches(v, &r.identifiers),
            "name" => string_matches(modifier, v, &r.names)?,
            "family" => string_matches(modifier, v, &r.family)?,
            "given" => string_matches(modifier, v, &r.given)?,
            "birthdate" => match r.birth_date {
                Some((lo, _)) => date_matches(v, Some(lo))?,
                None => false,
            },
            "date" | "onset-date" | "authoredon" => date_matches(v, r.date)?,
            _ => false,
        };
        if hit {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `GET /fhir/{type}?...`.
pub async fn search(
    State(sb): S,
    Path(rtype): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (rtype, compartment) = match admit(&sb, &headers, &rtype, Interaction::Search) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if sb.faults().fail_searches.as_deref() == Some(rtype) {
        return outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "Injected failure (sandbox --fail-searches)",
        );
    }
    let raw = raw.unwrap_or_default();
    let search = match parse_search(rtype, &raw) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // A patient-scoped token searching another patient's record is refused outright.
    if let Some(p) = &compartment {
        for (name, _, values) in &search.filters {
            if (name == "patient" || name == "subject")
                && values.iter().any(|v| reference_id(v) != p)
            {
                return outcome(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "This token may only search its own patient's record",
                );
            }
        }
    }
    let empty = Vec::new();
    let candidates: &Vec<Arc<Resource>> = match (&compartment, rtype) {
        (_, "Practitioner") | (None, _) => sb.data.by_type.get(rtype).unwrap_or(&empty),
        (Some(p), "Patient") => match sb.data.by_patient.get(&("Patient", p.clone())) {
            Some(v) => v,
            None => &empty,
        },
        (Some(p), _) => sb
            .data
            .by_patient
            .get(&(rtype, p.clone()))
            .unwrap_or(&empty),
    };
    let mut hits: Vec<&Arc<Resource>> = Vec::new();
    for r in candidates {
        let mut keep = true;
        for (name, modifier, values) in &search.filters {
            match matches(r, name, modifier.as_deref(), values) {
                Ok(true) => {}
                Ok(false) => {
                    keep = false;
                    break;
                }
                Err(resp) => return resp,
            }
        }
        if keep {
            hits.push(r);
        }
    }
    if let Some(desc) = search.sort_desc {
        // Stable: equal dates keep creation order.
        hits.sort_by(|a, b| {
            let o = a.date.cmp(&b.date);
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    let total = hits.len();
    let page: &[&Arc<Resource>] = if search.offset >= total {
        &[]
    } else {
        &hits[search.offset..(search.offset + search.count).min(total)]
    };
    let base = &sb.fhir_base;
    let link = |offset: usize| -> String {
        let mut q: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .filter(|(k, _)| k != "_offset" && k != "_count")
            .collect();
        q.push(("_count".into(), search.count.to_string()));
        if offset > 0 {
            q.push(("_offset".into(), offset.to_string()));
        }
        let qs: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        format!("{base}/{rtype}?{qs}")
    };
    let mut links = vec![json!({ "relation": "self", "url": link(search.offset) })];
    if search.count > 0 && search.offset + search.count < total {
        links.push(json!({ "relation": "next", "url": link(search.offset + search.count) }));
    }
    if search.offset > 0 && search.count > 0 {
        links.push(json!({ "relation": "previous", "url": link(search.offset.saturating_sub(search.count)) }));
    }
    // The entries are spliced in as already-serialised text: searches of 1,000 observations stay fast.
    let head =
        json!({ "resourceType": "Bundle", "type": "searchset", "total": total, "link": links })
            .to_string();
    let mut body = String::with_capacity(head.len() + page.len() * 900);
    body.push_str(&head[..head.len() - 1]);
    body.push_str(",\"entry\":[");
    for (i, r) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"fullUrl\":");
        body.push_str(&Value::String(format!("{base}/{rtype}/{}", r.id)).to_string());
        body.push_str(",\"resource\":");
        body.push_str(&r.raw);
        body.push_str(",\"search\":{\"mode\":\"match\"}}");
    }
    body.push_str("]}");
    fhir_json(StatusCode::OK, malformed(&sb, body))
}
