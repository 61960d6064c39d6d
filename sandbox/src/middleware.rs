//! Cross-cutting request handling: the request log, CORS for the registered apps' origins, and
//! faults on demand.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;

use crate::state::Sandbox;

/// One line per request: method, path, status, time. Never the query or the body, where codes,
/// states, tokens and verifiers travel.
pub async fn log(State(sb): State<Arc<Sandbox>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let counters = &sb.stats;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    if is_token(&path) {
        counters.token_requests.fetch_add(1, Ordering::Relaxed);
    } else if path == "/auth/revoke" {
        counters.revocation_requests.fetch_add(1, Ordering::Relaxed);
    } else if is_authorize(&path) {
        counters.authorize_requests.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        counters.last_authorize_ms.store(now, Ordering::Relaxed);
    } else if path.starts_with("/fhir") {
        counters.fhir_requests.fetch_add(1, Ordering::Relaxed);
    }
    let res = next.run(req).await;
    let size = axum::body::HttpBody::size_hint(res.body())
        .exact()
        .unwrap_or(0);
    counters.bytes_sent.fetch_add(size, Ordering::Relaxed);
    if sb.config.log_requests {
        eprintln!(
            "{method} {path} {} {:.1}ms",
            res.status().as_u16(),
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
    res
}

/// Where the profiles put the authorize and token endpoints (`profile::Profile::auth_path`).
const AUTH_PATHS: &[&str] = &[
    "/auth",
    "/oauth2",
    "/oauth",
    "/authorization/connect",
    "/tenants/t1/protocols/oauth2/profiles/smart-v1",
    "/oauth2/v1",
];

fn is_token(path: &str) -> bool {
    AUTH_PATHS
        .iter()
        .any(|a| path.strip_prefix(a) == Some("/token"))
}

fn is_authorize(path: &str) -> bool {
    AUTH_PATHS
        .iter()
        .any(|a| path.strip_prefix(a) == Some("/authorize"))
}

fn is_jwks(path: &str) -> bool {
    matches!(path, "/jwks" | "/keys" | "/jwk" | "/oauth2/v1/keys")
}

/// Paths browser apps call across origins: discovery, token, revocation, FHIR, JWKS, style.
fn is_api(path: &str) -> bool {
    path.starts_with("/fhir")
        || path == "/.well-known/smart-configuration"
        || is_token(path)
        || path == "/auth/revoke"
        || is_jwks(path)
        || path == "/smart-style.json"
}

/// CORS (Fetch standard): the token and revocation endpoints and FHIR answer the registered apps' origins only;
/// public documents (discovery, metadata, JWKS, style) answer any origin with `*` and no
/// `Vary: Origin`, so one cached copy serves every app (browsers keep one entry per URL: an
/// answer that varied on Origin would be fetched anew by each app in turn).
pub async fn cors(State(sb): State<Arc<Sandbox>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !is_api(&path) {
        return next.run(req).await;
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let public = path.ends_with("/.well-known/smart-configuration")
        || path == "/fhir/metadata"
        || is_jwks(&path)
        || path == "/smart-style.json";
    let allowed = match &origin {
        _ if public => Some("*".to_string()),
        Some(o) if sb.app_origins.iter().any(|a| a == o) => Some(o.clone()),
        _ => None,
    };
    let preflight = req.method() == Method::OPTIONS;
    let mut res = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    // Oracle's FHIR 401s carry no CORS headers: the browser hides them from the app.
    let hidden = res.status() == StatusCode::UNAUTHORIZED
        && path.starts_with("/fhir")
        && sb.config.profile.hides_fhir_401s();
    if let Some(o) = allowed.filter(|_| !hidden) {
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if !public {
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate, Location, Content-Location, ETag"),
        );
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type, Accept, Prefer"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
    }
    res
}

/// FHIR as the `--profile` EHR answers it: its 406 to an `Accept` without JSON, and its error
/// bodies in place of the sandbox's OperationOutcomes ([`crate::profile::Profile::fhir_error`]).
pub async fn profile_errors(State(sb): State<Arc<Sandbox>>, req: Request, next: Next) -> Response {
    let profile = sb.config.profile;
    let path = req.uri().path();
    if !path.starts_with("/fhir") || req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // A Binary may also be asked for in its own type (checked where its type is known).
    let any = accept.is_empty() || accept.contains("*/*");
    if profile.strict_accept()
        && !path.starts_with("/fhir/Binary/")
        && !any
        && !accept.contains("json")
    {
        return (
            StatusCode::NOT_ACCEPTABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            "Not Acceptable",
        )
            .into_response();
    }
    let res = next.run(req).await;
    let status = res.status().as_u16();
    if !matches!(status, 401 | 403) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let diagnostics = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["issue"][0]["diagnostics"].as_str().map(str::to_string))
        .unwrap_or_default();
    let Some(shape) = profile.fhir_error(status, &diagnostics) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let mut res = Response::from_parts(parts, axum::body::Body::from(shape.body));
    let h = res.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.remove(header::CONTENT_LENGTH);
    if let Some(ct) = shape.content_type {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    if let Some(v) = shape
        .www_authenticate
        .and_then(|w| HeaderValue::from_str(&w).ok())
    {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// Requests that never answer (`--hang`), added latency and random 500/503s on API paths
/// (`--latency-ms`, `--failure-rate`), and the authorize step's own latency
/// (`--authorize-latency-ms`).
pub async fn faults(State(sb): State<Arc<Sandbox>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/_admin")
        && sb
            .faults()
            .hang
            .iter()
            .any(|p| path.starts_with(p.as_str()))
    {
        // `--hang`: the request is read and never answered, until the client gives up.
        std::future::pending::<()>().await;
    }
    if is_authorize(req.uri().path()) {
        let ms = sb.faults().authorize_latency_ms;
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        return next.run(req).await;
    }
    if !is_api(req.uri().path()) || req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    let f = sb.faults();
    let query = req.uri().query().unwrap_or("");
    if let Some((_, ms)) = f
        .slow_queries
        .iter()
        .find(|(t, _)| query.contains(t.as_str()))
    {
        tokio::time::sleep(Duration::from_millis(*ms)).await;
    }
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    if f.failure_rate > 0.0 && rand::thread_rng().gen_bool(f.failure_rate) {
        return if rand::thread_rng().gen_bool(0.5) {
            crate::fhir::outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "Injected failure (sandbox --failure-rate)",
            )
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
            )
                .into_response()
        };
    }
    next.run(req).await
}
