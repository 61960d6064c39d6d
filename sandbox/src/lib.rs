//! The sandbox EHR: a strict local SMART on FHIR authorization server and FHIR R4 server with
//! generated patients, plus an EHR launch page. The app's default peer and the peer of every
//! end-to-end test.
//!
//! - [`oauth`]: discovery, authorize, token, JWKS
//! - [`fhir`]: FHIR REST read and search with scope enforcement
//! - [`ehr`]: the EHR launch page
//! - [`data`]: the deterministic patient generator
//! - [`app_host`]: a static host for the built app with its security headers

// Handlers return `Result<_, Response>` so an error is the HTTP answer itself; boxing every
// response to please `result_large_err` would buy nothing on a request path.
#![allow(clippy::result_large_err)]

pub mod app_host;
pub mod civil;
pub mod config;
pub mod data;
pub mod ehr;
pub mod fhir;
pub mod html;
pub mod keys;
pub mod middleware;
pub mod notes;
pub mod oauth;
pub mod profile;
pub mod scopes;
pub mod state;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub use config::Config;
pub use state::Sandbox;

/// The whole sandbox as an axum router.
pub fn router(sb: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/", get(ehr::launch_page))
        .route("/ehr/launch", post(ehr::launch))
        .route(
            "/fhir/.well-known/smart-configuration",
            get(oauth::smart_configuration),
        )
        .route("/fhir/metadata", get(oauth::metadata))
        .route("/fhir/{type}", get(fhir::search))
        .route("/fhir/{type}/{id}", get(fhir::read))
        .route("/auth/authorize", get(oauth::authorize))
        .route(
            "/auth/login",
            get(oauth::login_page).post(oauth::login_submit),
        )
        .route(
            "/auth/select-patient",
            get(oauth::select_patient_page).post(oauth::select_patient_submit),
        )
        .route(
            "/auth/approve",
            get(oauth::approve_page).post(oauth::approve_submit),
        )
        .route("/auth/token", post(oauth::token))
        // Where profiles put them (`profile::Profile::auth_path`, `jwks_path`).
        .route("/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route("/authorization/connect/authorize", get(oauth::authorize))
        .route("/authorization/connect/token", post(oauth::token))
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/token", post(oauth::token))
        .route(
            "/tenants/t1/protocols/oauth2/profiles/smart-v1/authorize",
            get(oauth::authorize),
        )
        .route(
            "/tenants/t1/protocols/oauth2/profiles/smart-v1/token",
            post(oauth::token),
        )
        .route("/oauth2/v1/authorize", get(oauth::authorize))
        .route("/oauth2/v1/token", post(oauth::token))
        .route("/jwk", get(oauth::jwks))
        .route("/oauth2/v1/keys", get(oauth::jwks))
        .route(
            "/.well-known/smart-configuration",
            get(oauth::root_smart_configuration),
        )
        .route("/auth/revoke", post(oauth::revoke))
        .route("/jwks", get(oauth::jwks))
        .route("/keys", get(oauth::jwks))
        .route("/smart-style.json", get(oauth::smart_style))
        .route("/_admin/faults", get(get_faults).post(set_faults))
        .route("/_admin/stats", get(stats))
        .fallback(|| async { fhir::outcome(StatusCode::NOT_FOUND, "not-found", "no such path") })
        .layer(axum::middleware::from_fn_with_state(
            sb.clone(),
            middleware::profile_errors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            sb.clone(),
            middleware::faults,
        ))
        .layer(axum::middleware::from_fn_with_state(
            sb.clone(),
            middleware::cors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            sb.clone(),
            middleware::log,
        ))
        .with_state(sb)
}

#[derive(Deserialize)]
struct FaultsUpdate {
    latency_ms: Option<u64>,
    authorize_latency_ms: Option<u64>,
    failure_rate: Option<f64>,
    reject_code: Option<bool>,
    reject_refresh: Option<bool>,
    malformed: Option<Vec<String>>,
    fhir_unauthorized: Option<bool>,
    /// A resource type, or "" for none.
    fail_searches: Option<String>,
    /// A resource type, or "" for none.
    forbid: Option<String>,
    /// Path prefixes that never answer; `[]` for none.
    hang: Option<Vec<String>>,
    omit_callback_iss: Option<bool>,
    /// Claims written over the id_token's; `{}` for none.
    id_token_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

async fn get_faults(State(sb): State<Arc<Sandbox>>) -> Response {
    let f = sb.faults();
    Json(json!({
        "latency_ms": f.latency_ms,
        "authorize_latency_ms": f.authorize_latency_ms,
        "failure_rate": f.failure_rate,
        "reject_code": f.reject_code,
        "reject_refresh": f.reject_refresh,
        "malformed": f.malformed.iter().map(|m| format!("{m:?}").to_lowercase()).collect::<Vec<_>>(),
        "fhir_unauthorized": f.fhir_unauthorized,
        "fail_searches": f.fail_searches,
        "forbid": f.forbid,
        "hang": f.hang,
        "omit_callback_iss": f.omit_callback_iss,
        "id_token_claims": f.id_token_claims,
    }))
    .into_response()
}

/// `POST /_admin/faults`: change faults while running, for demos and tests.
async fn set_faults(State(sb): State<Arc<Sandbox>>, Json(u): Json<FaultsUpdate>) -> Response {
    let malformed = match u.malformed.map(|list| {
        list.iter()
            .map(|m| config::Malformed::parse(m))
            .collect::<Result<Vec<_>, _>>()
    }) {
        Some(Err(e)) => return (StatusCode::BAD_REQUEST, e).into_response(),
        Some(Ok(m)) => Some(m),
        None => None,
    };
    if u.failure_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
        return (
            StatusCode::BAD_REQUEST,
            "failure_rate must lie between 0 and 1",
        )
            .into_response();
    }
    {
        let mut f = sb.faults.write().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = u.latency_ms {
            f.latency_ms = v;
        }
        if let Some(v) = u.authorize_latency_ms {
            f.authorize_latency_ms = v;
        }
        if let Some(v) = u.failure_rate {
            f.failure_rate = v;
        }
        if let Some(v) = u.reject_code {
            f.reject_code = v;
        }
        if let Some(v) = u.reject_refresh {
            f.reject_refresh = v;
        }
        if let Some(m) = malformed {
            f.malformed = m;
        }
        if let Some(v) = u.fhir_unauthorized {
            f.fhir_unauthorized = v;
        }
        if let Some(t) = u.fail_searches {
            f.fail_searches = (!t.is_empty()).then_some(t);
        }
        if let Some(t) = u.forbid {
            f.forbid = (!t.is_empty()).then_some(t);
        }
        if let Some(h) = u.hang {
            f.hang = h;
        }
        if let Some(v) = u.omit_callback_iss {
            f.omit_callback_iss = v;
        }
        if let Some(c) = u.id_token_claims {
            f.id_token_claims = (!c.is_empty()).then_some(c);
        }
    }
    get_faults(State(sb)).await
}

/// `GET /_admin/stats`: request counters, so tests can prove what the app did not send.
async fn stats(State(sb): State<Arc<Sandbox>>) -> Response {
    Json(json!({
        "requests": sb.stats.requests.load(Ordering::Relaxed),
        "token_requests": sb.stats.token_requests.load(Ordering::Relaxed),
        "authorize_requests": sb.stats.authorize_requests.load(Ordering::Relaxed),
        "fhir_requests": sb.stats.fhir_requests.load(Ordering::Relaxed),
        "fhir_unauthorized": sb.stats.fhir_unauthorized.load(Ordering::Relaxed),
        "bytes_sent": sb.stats.bytes_sent.load(Ordering::Relaxed),
    }))
    .into_response()
}

/// A running sandbox; dropping it does not stop it (the runtime does).
pub struct Running {
    pub addr: SocketAddr,
    pub sandbox: Arc<Sandbox>,
}

/// Binds `config.listen` (port 0 picks a free port; `public_url` is then fixed up) and serves in
/// the background on the current tokio runtime.
pub async fn spawn(mut config: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if config.listen.port() == 0 {
        config.public_url = format!("http://localhost:{}", addr.port());
    }
    // A profile whose authorization server lies on another host: the same server on another
    // port of this address, which is another origin to the browser.
    let auth_listener = if config.profile.auth_on_another_origin() {
        let l = tokio::net::TcpListener::bind((addr.ip(), config.auth_port)).await?;
        config.auth_url = Some(format!("http://localhost:{}", l.local_addr()?.port()));
        Some(l)
    } else {
        None
    };
    let sandbox = Arc::new(Sandbox::new(config));
    let app = router(sandbox.clone());
    if let Some(l) = auth_listener {
        let auth_app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, auth_app).await {
                eprintln!("sandbox: authorization server stopped: {e}");
            }
        });
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("sandbox: server stopped: {e}");
        }
    });
    Ok(Running { addr, sandbox })
}
