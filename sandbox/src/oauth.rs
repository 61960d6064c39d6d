//! The SMART authorization server: discovery, authorize (login, patient picker, approval), token
//! (authorization_code with PKCE, refresh_token with rotation) and JWKS.
//! SMART App Launch 2.2 §"App Launch", RFC 6749, RFC 7636, RFC 9207, RFC 9700.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::Malformed;
use crate::html::{error_page, escape, page};
use crate::scopes::{self, Scope};
use crate::state::{
    random_token, AccessEntry, CodeEntry, GrantContext, LaunchContext, PendingAuth, RefreshEntry,
    Sandbox, User,
};

type S = State<Arc<Sandbox>>;

pub const CAPABILITIES: &[&str] = &[
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "context-ehr-patient",
    "context-ehr-encounter",
    "context-standalone-patient",
    "context-banner",
    "context-style",
    "permission-patient",
    "permission-user",
    "permission-offline",
    "permission-online",
    "permission-v1",
    "permission-v2",
    "sso-openid-connect",
];

/// The authorization server's origin: the sandbox's own, or another (`Config::auth_url`).
fn auth_base(sb: &Sandbox) -> &str {
    sb.config
        .auth_url
        .as_deref()
        .unwrap_or(&sb.config.public_url)
}

fn endpoints(sb: &Sandbox) -> (String, String) {
    let base = auth_base(sb);
    let at = sb.config.profile.auth_path();
    (format!("{base}{at}/authorize"), format!("{base}{at}/token"))
}

/// `GET /.well-known/smart-configuration` at the host's root: only where the profile serves
/// it there (MEDITECH), instead of under the FHIR base.
pub async fn root_smart_configuration(state: S) -> Response {
    if !state.0.config.profile.well_known_at_root() {
        return crate::fhir::outcome(StatusCode::NOT_FOUND, "not-found", "no such path");
    }
    configuration(state).await
}

/// `GET /fhir/.well-known/smart-configuration` (SMART App Launch 2.2 §"Conformance").
pub async fn smart_configuration(state: S) -> Response {
    if state.0.config.profile.well_known_at_root() {
        return crate::fhir::outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            "the SMART configuration is at the host's root",
        );
    }
    configuration(state).await
}

async fn configuration(State(sb): S) -> Response {
    if sb.config.smart_v1_only {
        return crate::fhir::outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            "no SMART configuration here",
        );
    }
    if let Some(target) = sb.faults().discovery_redirect {
        return Redirect::temporary(&target).into_response();
    }
    if sb.faults().malformed.contains(&Malformed::Discovery) {
        return page(
            StatusCode::OK,
            "Sign in",
            "<section><h1>Sign in</h1><form><input type=\"text\" name=\"user\"></form></section>",
        );
    }
    let (authorize, mut token) = endpoints(&sb);
    let faults = sb.faults();
    if let Some(foreign) = faults.foreign_token_endpoint {
        token = foreign;
    }
    let mut body = json!({
        "issuer": sb.fhir_base,
        "jwks_uri": format!("{}{}", auth_base(&sb), sb.config.profile.jwks_path()),
        "authorization_endpoint": authorize,
        "token_endpoint": token,
        "revocation_endpoint": format!("{}/auth/revoke", sb.config.public_url),
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "scopes_supported": [
            "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
            "offline_access", "online_access", "patient/*.read", "patient/*.rs", "user/*.read", "user/*.rs",
        ],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        // RFC 9207 §3: every authorization response names this server.
        "authorization_response_iss_parameter_supported": true,
        "capabilities": CAPABILITIES,
    });
    if sb.config.profile.jwks_needs_client_id() {
        body["grant_types_supported"] = json!(["authorization_code"]);
    }
    if faults.omit_pkce_methods || !sb.config.profile.advertises_pkce() {
        if let Some(o) = body.as_object_mut() {
            o.remove("code_challenge_methods_supported");
        }
    }
    ([(header::CACHE_CONTROL, "max-age=60")], Json(body)).into_response()
}

/// `GET /fhir/metadata`: the CapabilityStatement with the SMART `oauth-uris` extension that SMART
/// v1 clients discover the endpoints from.
pub async fn metadata(State(sb): S) -> Response {
    let (authorize, token) = endpoints(&sb);
    let resources: Vec<Value> = crate::data::RESOURCE_TYPES
        .iter()
        .map(|t| {
            json!({
                "type": t,
                "interaction": [{ "code": "read" }, { "code": "search-type" }],
                "searchParam": crate::fhir::search_params(t)
                    .iter()
                    .map(|(name, kind)| json!({ "name": name, "type": kind }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-06-01",
        "kind": "instance",
        "software": { "name": "smart-launch sandbox EHR" },
        "implementation": { "description": "smart-launch sandbox EHR", "url": sb.fhir_base },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR" }] }],
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        { "url": "authorize", "valueUri": authorize },
                        { "url": "token", "valueUri": token },
                    ],
                }],
            },
            "resource": resources,
        }],
    });
    crate::fhir::fhir_json(StatusCode::OK, body.to_string())
}

pub async fn jwks(State(sb): S, Query(q): Query<HashMap<String, String>>) -> Response {
    if sb.config.profile.jwks_needs_client_id() && !q.contains_key("client_id") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errorCode": "invalid_client", "errorSummary": "client_id is required"})),
        )
            .into_response();
    }
    Json(sb.config.profile.jwks(sb.signer().jwks())).into_response()
}

/// The style document `smart_style_url` points at (SMART App Launch 2.2 §"Styling").
pub async fn smart_style() -> Response {
    Json(json!({
        "color_background": "#f3f5f8",
        "color_error": "#b3261e",
        "color_highlight": "#2f6fb3",
        "color_modal_backdrop": "",
        "color_success": "#2e7d32",
        "color_text": "#1b2430",
        "dim_border_radius": "6px",
        "dim_font_size": "15px",
        "dim_spacing_size": "16px",
        "font_family_body": "system-ui, sans-serif",
        "font_family_heading": "system-ui, sans-serif",
    }))
    .into_response()
}

/// Form or query pairs, keeping repeats (several `scope` boxes on the approval page).
pub fn pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of form field `name`, or empty.
pub fn field(form: &[(String, String)], name: &str) -> String {
    form.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = pairs.iter().filter(|(k, _)| k == name);
    let first = found.next();
    if found.next().is_some() {
        // RFC 6749 §3.1: request parameters must not be included more than once.
        return Err(format!("parameter {name} given more than once"));
    }
    Ok(first.map(|(_, v)| v.as_str()))
}

/// Redirects an authorization error back to the client (RFC 6749 §4.1.2.1) with `iss` (RFC 9207).
fn error_redirect(
    sb: &Sandbox,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut u = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return error_page(StatusCode::BAD_REQUEST, description),
    };
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("error", error);
        q.append_pair("error_description", description);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        if !sb.faults().omit_callback_iss {
            q.append_pair("iss", &sb.fhir_base);
        }
    }
    Redirect::to(u.as_str()).into_response()
}

fn is_pkce_value(s: &str, min: usize) -> bool {
    (min..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `GET /auth/authorize`.
pub async fn authorize(
    State(sb): S,
    uri: axum::http::Uri,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let one = |name: &str| single(&query, name);
    let (max_query, max_scope, max_redirect) = sb.config.profile.authorize_limits();
    if max_query.is_some_and(|max| uri.query().unwrap_or("").len() > max) {
        // IIS refuses the request before the application sees it (404.15).
        return error_page(
            StatusCode::NOT_FOUND,
            "HTTP Error 404.15 - Not Found: the request's query string is too long",
        );
    }
    // Client and redirect URI first: until both are known good, errors stay on our own page.
    let client_id = match one("client_id") {
        Ok(Some(c)) => c,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "client_id is missing"),
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let Some(client) = sb.client(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("unknown client_id {client_id:?}"),
        );
    };
    let redirect_uri = match one("redirect_uri") {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::BAD_REQUEST, "redirect_uri is missing"),
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    if max_redirect.is_some_and(|max| redirect_uri.len() > max) {
        return error_page(StatusCode::BAD_REQUEST, "redirect_uri is too long");
    }
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("redirect_uri {redirect_uri:?} is not registered for client {client_id:?}"),
        );
    }
    let state = one("state").ok().flatten();
    let fail = |error: &str, description: &str| {
        error_redirect(&sb, redirect_uri, state, error, description)
    };

    for name in [
        "response_type",
        "scope",
        "state",
        "aud",
        "launch",
        "code_challenge",
        "code_challenge_method",
    ] {
        if let Err(e) = one(name) {
            return fail("invalid_request", &e);
        }
    }
    if one("response_type").ok().flatten() != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let Some(state) = state.filter(|s| !s.is_empty()) else {
        return fail("invalid_request", "state is required");
    };
    let challenge = one("code_challenge").ok().flatten().unwrap_or_default();
    let method = one("code_challenge_method").ok().flatten();
    if method != Some("S256") {
        return fail(
            "invalid_request",
            "PKCE is required: code_challenge_method must be S256",
        );
    }
    if challenge.len() != 43 || !is_pkce_value(challenge, 43) {
        return fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 (43 characters)",
        );
    }
    let aud = one("aud").ok().flatten().unwrap_or_default();
    if aud.trim_end_matches('/') != sb.fhir_base {
        if sb.config.profile.aud_error_is_a_page() {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("aud must be this server's FHIR base {}", sb.fhir_base),
            );
        }
        return fail(
            "invalid_request",
            &format!("aud must be this server's FHIR base {}", sb.fhir_base),
        );
    }
    let requested_raw = one("scope").ok().flatten().unwrap_or_default();
    if max_scope.is_some_and(|max| requested_raw.len() > max) {
        return fail("invalid_scope", "scope is too long");
    }
    let mut requested = scopes::known_tokens(requested_raw);
    if let Some(allowed) = &client.allowed_scopes {
        requested.retain(|s| allowed.contains(s));
    }
    if requested.is_empty() {
        return fail(
            "invalid_scope",
            "none of the requested scopes can be granted",
        );
    }
    let launch = match one("launch").ok().flatten() {
        Some(l) => {
            // A launch value is single use: the context it names is handed to one authorization.
            let id = sb.config.profile.launch_id(l).unwrap_or_default();
            let found = sb.store().launches.remove(&id);
            match found {
                Some(ctx) => Some(ctx),
                None => return fail("invalid_request", "unknown or already used launch value"),
            }
        }
        None => None,
    };
    if launch.is_none() && scopes::has(&requested, &Scope::Launch) {
        return fail(
            "invalid_scope",
            "the launch scope needs a launch parameter (EHR launch)",
        );
    }
    let mut pending = PendingAuth {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: state.to_string(),
        code_challenge: challenge.to_string(),
        requested,
        user: launch.as_ref().map(|l| l.user.clone()),
        patient: None,
        launch,
        created: Instant::now(),
    };
    if sb.config.auto_approve {
        if pending.user.is_none() {
            pending.user = sb
                .practitioners
                .first()
                .map(|p| User::Practitioner(p.id.clone()));
        }
        if pending.launch.is_none() && scopes::has(&pending.requested, &Scope::LaunchPatient) {
            pending.patient = Some(
                sb.config
                    .auto_patient
                    .clone()
                    .unwrap_or_else(|| "patient-01".to_string()),
            );
        }
        let granted = pending.requested.clone();
        return issue_code(&sb, pending, granted);
    }
    let id = random_token();
    let next = if pending.user.is_some() {
        "approve"
    } else {
        "login"
    };
    sb.store().pending.insert(id.clone(), pending);
    Redirect::to(&format!("/auth/{next}?req={id}")).into_response()
}

fn issue_code(sb: &Sandbox, p: PendingAuth, granted: Vec<String>) -> Response {
    let patient = match (&p.launch, &p.user, &p.patient) {
        (Some(l), _, _) => Some(l.patient.clone()),
        (None, Some(User::Patient(id)), _) => Some(id.clone()),
        (None, _, Some(id)) => Some(id.clone()),
        _ => None,
    };
    let context = GrantContext {
        client_id: p.client_id.clone(),
        scopes: sb.config.profile.narrow_grant(granted),
        patient,
        encounter: p.launch.as_ref().and_then(|l| l.encounter.clone()),
        user: p.user.clone(),
        need_patient_banner: p.launch.as_ref().is_none_or(|l| l.need_patient_banner),
        fhir_context: p
            .launch
            .as_ref()
            .map(|l| l.fhir_context.clone())
            .unwrap_or_default(),
        intent: p.launch.as_ref().and_then(|l| l.intent.clone()),
    };
    let code = random_token();
    sb.store().codes.insert(
        code.clone(),
        CodeEntry {
            redirect_uri: p.redirect_uri.clone(),
            code_challenge: p.code_challenge.clone(),
            context,
            expires: Instant::now() + sb.config.code_lifetime,
            redeemed: None,
        },
    );
    let mut u = match url::Url::parse(&p.redirect_uri) {
        Ok(u) => u,
        Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "bad redirect URI"),
    };
    u.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &p.state);
    if !sb.faults().omit_callback_iss {
        u.query_pairs_mut().append_pair("iss", &sb.fhir_base);
    }
    Redirect::to(u.as_str()).into_response()
}

fn take_pending(sb: &Sandbox, req: &str) -> Option<PendingAuth> {
    let store = sb.store();
    store
        .pending
        .get(req)
        .filter(|p| p.created.elapsed().as_secs() < 600)
        .cloned()
}

fn expired() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This sign-in request is unknown or has expired. Start again from the app.",
    )
}

/// `GET /auth/login`: the standalone launch's sign-in step.
pub async fn login_page(State(sb): S, Query(q): Query<HashMap<String, String>>) -> Response {
    let req = q.get("req").cloned().unwrap_or_default();
    if take_pending(&sb, &req).is_none() {
        return expired();
    }
    let mut practitioners = String::new();
    for p in &sb.practitioners {
        practitioners.push_str(&format!(
            "<option value=\"Practitioner/{}\">{}</option>",
            escape(&p.id),
            escape(&p.name)
        ));
    }
    let mut patients = String::new();
    for r in &sb.data.by_type["Patient"] {
        patients.push_str(&format!(
            "<option value=\"Patient/{}\">{}</option>",
            escape(&r.id),
            escape(&crate::fhir::display_name(&r.json))
        ));
    }
    page(
        StatusCode::OK,
        "Sign in",
        &format!(
            "<section><h1>Sign in to the Sandbox EHR</h1>\
             <form method=\"post\" action=\"/auth/login\">\
             <input type=\"hidden\" name=\"req\" value=\"{req}\">\
             <label>Clinician <select name=\"user\" id=\"practitioner\">{practitioners}</select></label>\
             <button type=\"submit\" id=\"login-practitioner\">Sign in as clinician</button></form>\
             <form method=\"post\" action=\"/auth/login\">\
             <input type=\"hidden\" name=\"req\" value=\"{req}\">\
             <label>Patient portal user <select name=\"user\" id=\"patient-user\">{patients}</select></label>\
             <button type=\"submit\" id=\"login-patient\">Sign in as patient</button></form>\
             <p class=\"muted\">A sandbox: no passwords.</p></section>",
            req = escape(&req)
        ),
    )
}

pub async fn login_submit(State(sb): S, body: Bytes) -> Response {
    let form = pairs(&body);
    let get = |k: &str| field(&form, k);
    let req = get("req");
    let user = get("user");
    let user = if let Some(id) = user.strip_prefix("Practitioner/") {
        sb.data
            .by_id
            .contains_key(&("Practitioner", id.to_string()))
            .then(|| User::Practitioner(id.to_string()))
    } else if let Some(id) = user.strip_prefix("Patient/") {
        sb.data
            .by_id
            .contains_key(&("Patient", id.to_string()))
            .then(|| User::Patient(id.to_string()))
    } else {
        None
    };
    let Some(user) = user else {
        return error_page(StatusCode::BAD_REQUEST, "unknown user");
    };
    let mut store = sb.store();
    let Some(p) = store.pending.get_mut(&req) else {
        return expired();
    };
    let pick =
        matches!(user, User::Practitioner(_)) && scopes::has(&p.requested, &Scope::LaunchPatient);
    p.user = Some(user);
    let next = if pick { "select-patient" } else { "approve" };
    Redirect::to(&format!("/auth/{next}?req={}", url_encode(&req))).into_response()
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `GET /auth/select-patient`: the patient picker of a clinician's standalone launch
/// (`launch/patient`, SMART App Launch 2.2 §"Standalone launch").
pub async fn select_patient_page(
    State(sb): S,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let req = q.get("req").cloned().unwrap_or_default();
    if take_pending(&sb, &req).is_none() {
        return expired();
    }
    let mut rows = String::new();
    for r in &sb.data.by_type["Patient"] {
        rows.push_str(&format!(
            "<option value=\"{}\">{} ({})</option>",
            escape(&r.id),
            escape(&crate::fhir::display_name(&r.json)),
            escape(r.json["birthDate"].as_str().unwrap_or("?"))
        ));
    }
    page(
        StatusCode::OK,
        "Choose a patient",
        &format!(
            "<section><h1>Choose a patient</h1><form method=\"post\" action=\"/auth/select-patient\">\
             <input type=\"hidden\" name=\"req\" value=\"{}\">\
             <label>Patient <select name=\"patient\" id=\"patient\">{rows}</select></label>\
             <button type=\"submit\" id=\"select\">Continue</button></form></section>",
            escape(&req)
        ),
    )
}

pub async fn select_patient_submit(State(sb): S, body: Bytes) -> Response {
    let form = pairs(&body);
    let get = |k: &str| field(&form, k);
    let req = get("req");
    let patient = get("patient");
    if !sb.data.by_id.contains_key(&("Patient", patient.clone())) {
        return error_page(StatusCode::BAD_REQUEST, "unknown patient");
    }
    let mut store = sb.store();
    let Some(p) = store.pending.get_mut(&req) else {
        return expired();
    };
    p.patient = Some(patient);
    Redirect::to(&format!("/auth/approve?req={}", url_encode(&req))).into_response()
}

/// `GET /auth/approve`: the user sees each requested scope and may untick some.
pub async fn approve_page(State(sb): S, Query(q): Query<HashMap<String, String>>) -> Response {
    let req = q.get("req").cloned().unwrap_or_default();
    let Some(p) = take_pending(&sb, &req) else {
        return expired();
    };
    let mut boxes = String::new();
    for s in &p.requested {
        boxes.push_str(&format!(
            "<label><input type=\"checkbox\" name=\"scope\" value=\"{s}\" checked> {s}</label>",
            s = escape(s)
        ));
    }
    let who = p.user.as_ref().map(|u| u.reference()).unwrap_or_default();
    page(
        StatusCode::OK,
        "Approve access",
        &format!(
            "<section><h1>Allow {client} to access your data?</h1>\
             <p class=\"muted\">Signed in as {who}</p>\
             <form method=\"post\" action=\"/auth/approve\">\
             <input type=\"hidden\" name=\"req\" value=\"{req}\">{boxes}\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\
             </form></section>",
            client = escape(&p.client_id),
            who = escape(&who),
            req = escape(&req)
        ),
    )
}

pub async fn approve_submit(State(sb): S, body: Bytes) -> Response {
    let form = pairs(&body);
    let get = |k: &str| field(&form, k);
    let req = get("req");
    let Some(p) = sb.store().pending.remove(&req) else {
        return expired();
    };
    if get("decision") != "allow" {
        return error_redirect(
            &sb,
            &p.redirect_uri,
            Some(&p.state),
            "access_denied",
            "The user denied access.",
        );
    }
    // Only what was asked can be granted: ticked boxes outside the request are ignored.
    let granted: Vec<String> = p
        .requested
        .iter()
        .filter(|s| form.iter().any(|(k, v)| k == "scope" && v == *s))
        .cloned()
        .collect();
    if granted.is_empty() {
        return error_redirect(
            &sb,
            &p.redirect_uri,
            Some(&p.state),
            "invalid_scope",
            "No scope was approved.",
        );
    }
    issue_code(&sb, p, granted)
}

/// An RFC 6749 §5.2 error response.
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn invalid_grant(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// The form of a token or revocation request, each parameter once (RFC 6749 §3.2).
fn form_params<'f>(
    headers: &HeaderMap,
    form: &'f [(String, String)],
) -> Result<HashMap<&'f str, &'f str>, Response> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return Err(token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut params: HashMap<&str, &str> = HashMap::new();
    for (k, v) in form {
        if params.insert(k.as_str(), v.as_str()).is_some() {
            return Err(token_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("parameter {k} given more than once"),
            ));
        }
    }
    Ok(params)
}

/// A token or revocation request: its parameters and the client it authenticates.
fn client_request<'s, 'f>(
    sb: &'s Sandbox,
    headers: &HeaderMap,
    form: &'f [(String, String)],
) -> Result<(HashMap<&'f str, &'f str>, &'s crate::config::Client), Response> {
    let params = form_params(headers, form)?;
    let client = authenticate_client(sb, headers, &params)?;
    Ok((params, client))
}

/// `POST /auth/revoke` (RFC 7009): a client's own access or refresh token. Either ends its
/// grant: the refresh token and every access token of it. The answer is 200 whether or not the
/// token was known (§2.2), so it tells nothing about other clients' tokens.
pub async fn revoke(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    let form = pairs(&body);
    let (params, client) = match client_request(&sb, &headers, &form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(token) = params.get("token").copied() else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    let mut store = sb.store();
    let grant = store
        .access
        .get(token)
        .map(|a| a.grant)
        .or_else(|| store.refresh.get(token).map(|r| r.grant));
    if let Some(g) = grant {
        if store
            .grants
            .get(&g)
            .is_some_and(|gr| gr.context.client_id == client.id)
        {
            store.revoke(g);
        }
    }
    StatusCode::OK.into_response()
}

/// Client authentication: public clients name themselves (`client_id`); confidential ones use
/// Basic with their secret.
fn authenticate_client<'s>(
    sb: &'s Sandbox,
    headers: &HeaderMap,
    params: &HashMap<&str, &str>,
) -> Result<&'s crate::config::Client, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (client_id, secret) = match &basic {
        Some(pair) => match pair.split_once(':') {
            Some((id, secret)) => (Some(id), Some(secret)),
            None => (None, None),
        },
        None => (params.get("client_id").copied(), None),
    };
    let Some(client) = client_id.and_then(|id| sb.client(id)) else {
        return Err(token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown or missing client_id",
        ));
    };
    if client.secret.as_deref() != secret {
        return Err(token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ));
    }
    Ok(client)
}

/// `POST /auth/token`.
pub async fn token(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    let form = pairs(&body);
    let (params, client) = match client_request(&sb, &headers, &form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let out = match params.get("grant_type").copied() {
        Some("authorization_code") => code_grant(&sb, &client.id, &params),
        Some("refresh_token") => refresh_grant(&sb, &client.id, &params),
        Some(other) => Err(token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other} is not supported"),
        )),
        None => Err(token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is missing",
        )),
    };
    match out {
        Ok(body) => {
            let text = body.to_string();
            let text = if sb.faults().malformed.contains(&Malformed::Token) {
                text[..text.len() / 2].to_string()
            } else {
                text
            };
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "no-store"),
                    (header::PRAGMA, "no-cache"),
                ],
                text,
            )
                .into_response()
        }
        Err(r) => r,
    }
}

fn code_grant(
    sb: &Sandbox,
    client_id: &str,
    params: &HashMap<&str, &str>,
) -> Result<Value, Response> {
    let code = params.get("code").copied().ok_or_else(|| {
        token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code is missing",
        )
    })?;
    let redirect_uri = params.get("redirect_uri").copied().unwrap_or_default();
    let verifier = params.get("code_verifier").copied();
    if sb.faults().reject_code {
        return Err(invalid_grant(
            "the authorization code was rejected (sandbox fault --reject-code)",
        ));
    }
    let mut store = sb.store();
    let Some(entry) = store.codes.get_mut(code) else {
        return Err(invalid_grant("unknown authorization code"));
    };
    if let Some(grant) = entry.redeemed {
        // RFC 6749 §4.1.2: a code used twice revokes the tokens issued for it.
        store.revoke(grant);
        return Err(invalid_grant(
            "the authorization code was already used; its tokens are revoked",
        ));
    }
    if entry.expires < Instant::now() {
        return Err(invalid_grant("the authorization code has expired"));
    }
    if entry.context.client_id != client_id {
        return Err(invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if entry.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let Some(verifier) = verifier else {
        return Err(invalid_grant("code_verifier is missing (PKCE is required)"));
    };
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !is_pkce_value(verifier, 43) || computed != entry.code_challenge {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let context = entry.context.clone();
    let grant = store.new_grant(context.clone());
    if let Some(e) = store.codes.get_mut(code) {
        e.redeemed = Some(grant);
    }
    store.sweep(Instant::now());
    drop(store);
    Ok(issue_tokens(sb, grant, &context, true))
}

fn refresh_grant(
    sb: &Sandbox,
    client_id: &str,
    params: &HashMap<&str, &str>,
) -> Result<Value, Response> {
    let token = params.get("refresh_token").copied().ok_or_else(|| {
        token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is missing",
        )
    })?;
    if sb.faults().reject_refresh {
        return Err(invalid_grant(
            "the refresh token was rejected (sandbox fault --reject-refresh)",
        ));
    }
    let mut store = sb.store();
    let Some(entry) = store.refresh.get(token) else {
        return Err(invalid_grant("unknown refresh token"));
    };
    let grant_id = entry.grant;
    if entry.rotated {
        // RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the whole grant.
        store.revoke(grant_id);
        return Err(invalid_grant(
            "the refresh token was already used; the grant is revoked",
        ));
    }
    let Some(grant) = store.grants.get(&grant_id) else {
        return Err(invalid_grant("unknown grant"));
    };
    if grant.revoked {
        return Err(invalid_grant("the grant was revoked"));
    }
    if grant.context.client_id != client_id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let mut context = grant.context.clone();
    if let Some(scope) = params.get("scope") {
        let asked = scopes::known_tokens(scope);
        if asked.is_empty() || asked.iter().any(|s| !context.scopes.contains(s)) {
            return Err(token_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "a refresh may only narrow the granted scopes",
            ));
        }
        context.scopes = asked;
    }
    if sb.config.profile.rotates_refresh_tokens() {
        if let Some(e) = store.refresh.get_mut(token) {
            e.rotated = true;
        }
    }
    drop(store);
    Ok(issue_tokens(sb, grant_id, &context, false))
}

fn issue_tokens(sb: &Sandbox, grant: u64, ctx: &GrantContext, first: bool) -> Value {
    let access = random_token();
    let lifetime = sb.config.token_lifetime;
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": ctx.scopes.join(" "),
        "need_patient_banner": ctx.need_patient_banner,
        "smart_style_url": format!("{}/smart-style.json", sb.config.public_url),
    });
    if let Some(p) = &ctx.patient {
        body["patient"] = json!(p);
    }
    if let Some(e) = &ctx.encounter {
        body["encounter"] = json!(e);
    }
    if !ctx.fhir_context.is_empty() {
        body["fhirContext"] = json!(ctx.fhir_context);
    }
    if let Some(i) = &ctx.intent {
        body["intent"] = json!(i);
    }
    let public = sb.client(&ctx.client_id).is_none_or(|c| c.secret.is_none());
    let profile = sb.config.profile;
    let offline = (scopes::has(&ctx.scopes, &Scope::OfflineAccess)
        || (profile.refreshes_online_access() && scopes::has(&ctx.scopes, &Scope::OnlineAccess)))
        && (!public || profile.refreshes_public_clients());
    let mut store = sb.store();
    store.access.insert(
        access,
        AccessEntry {
            grant,
            expires: Instant::now() + lifetime,
        },
    );
    if offline && (first || profile.refresh_returns_refresh_token()) {
        let refresh = random_token();
        store.refresh.insert(
            refresh.clone(),
            RefreshEntry {
                grant,
                rotated: false,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    drop(store);
    let openid = scopes::has(&ctx.scopes, &Scope::OpenId);
    let fhir_user =
        scopes::has(&ctx.scopes, &Scope::FhirUser) || scopes::has(&ctx.scopes, &Scope::Profile);
    if openid && (first || fhir_user) {
        if let Some(user) = &ctx.user {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let mut claims = json!({
                "iss": profile.id_token_issuer(&sb.config.public_url, auth_base(sb), &sb.fhir_base),
                "sub": user.reference().replace('/', "-"),
                "aud": ctx.client_id,
                "iat": now,
                "exp": now + profile.id_token_lifetime(lifetime.as_secs()),
            });
            if fhir_user {
                claims["fhirUser"] = json!(profile.fhir_user(&sb.fhir_base, &user.reference()));
            }
            if let Some(over) = sb.faults().id_token_claims {
                for (k, v) in over {
                    claims[k] = v;
                }
            }
            let signer = sb.signer();
            let mut jwt = signer.sign_as(profile.key_id(signer.kid()).as_deref(), &claims);
            if sb.faults().bad_id_token_signature {
                // The 256-byte signature's last base64url character carries two bits (A, Q, g
                // or w): another of those changes the last byte, so the token still decodes
                // and its signature no longer verifies.
                let last = if jwt.ends_with('A') { "Q" } else { "A" };
                jwt.pop();
                jwt.push_str(last);
            }
            body["id_token"] = json!(jwt);
        }
    }
    sb.config
        .profile
        .shape_token_response(&mut body, &ctx.scopes);
    body
}

/// Creates a launch context for the EHR launch page.
pub fn new_launch(sb: &Sandbox, ctx: LaunchContext) -> String {
    let id = random_token();
    let mut store = sb.store();
    store.sweep(Instant::now());
    store.launches.insert(id.clone(), ctx);
    sb.config.profile.launch_token(&id)
}
