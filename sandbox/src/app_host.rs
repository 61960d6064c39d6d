//! A static host for the built app (Trunk's `dist/`) with the headers SECURITY.md asks for:
//! a Content-Security-Policy that allows `wasm-unsafe-eval` and no inline script except
//! launch.html's own (Trunk's loader and the chart loader, each allowed by its hash),
//! `frame-ancestors` and `connect-src` limited to the EHRs named in the app's `config.json`, `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.
//!
//! Why not tower-http's `ServeDir` and `CompressionLayer`: `ServeDir` revalidates with
//! `Last-Modified` only (no `ETag`) and serves precompressed files only if they were written
//! beside the originals; `CompressionLayer` compresses every response anew at its default
//! quality. The reference the benchmark measures against is served with brotli at quality 11,
//! a strong `ETag` per coding and year-long caching of fingerprinted files; this host does the
//! same (compressing each file once, in memory) so that the comparison is fair.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub struct AppHost {
    dir: PathBuf,
    csp: String,
}

/// The `sha256-…` sources of each inline `<script>` (one without `src`) in `html`.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body_and_more = &after[tag_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") && !tag.contains(" src =") {
            let body = &body_and_more[..close];
            out.push(format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(body.as_bytes()))
            ));
        }
        rest = &body_and_more[close..];
    }
    out
}

/// Origins the app may talk to and be framed by: each enabled EHR's `iss` origin plus its
/// `extra_origins` (an authorization server on another host). An entry with `"enabled": false`
/// is an example the app ignores, so the policy ignores it too.
pub fn ehr_origins(config_json: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_str(config_json).map_err(|e| format!("config.json: {e}"))?;
    let mut out: Vec<String> = Vec::new();
    let enabled = |ehr: &&serde_json::Value| ehr["enabled"] != serde_json::Value::Bool(false);
    for ehr in v["ehrs"].as_array().into_iter().flatten().filter(enabled) {
        let urls = std::iter::once(ehr["iss"].clone())
            .chain(ehr["extra_origins"].as_array().cloned().unwrap_or_default());
        for u in urls {
            if let Some(Ok(url)) = u.as_str().map(url::Url::parse) {
                let o = url.origin().ascii_serialization();
                if o != "null" && !out.contains(&o) {
                    out.push(o);
                }
            }
        }
    }
    Ok(out)
}

impl AppHost {
    /// Reads `launch.html` and `config.json` from `dir` once, to build the policy.
    pub fn new(dir: &Path) -> Result<Self, String> {
        let html = std::fs::read_to_string(dir.join("launch.html")).map_err(|e| {
            format!(
                "{}: {e} (build the app first: trunk build)",
                dir.join("launch.html").display()
            )
        })?;
        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| format!("{}: {e}", dir.join("config.json").display()))?;
        let origins = ehr_origins(&config)?.join(" ");
        let hashes = inline_script_hashes(&html).join(" ");
        let csp = format!(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {hashes}; \
             style-src 'self'; img-src 'self' data: blob:; font-src 'self'; \
             connect-src 'self' {origins}; frame-src 'self'; frame-ancestors 'self' {origins}; \
             base-uri 'none'; form-action 'none'; object-src 'none'"
        );
        warm_up(dir.to_path_buf());
        Ok(Self {
            dir: dir.to_path_buf(),
            csp,
        })
    }

    pub fn csp(&self) -> &str {
        &self.csp
    }

    pub fn router(self) -> Router {
        Router::new().fallback(serve).with_state(Arc::new(self))
    }
}

/// The app's HTML parser frame (the app's `src/web/html.rs`): the parser checks inline event
/// handlers and styles against the policy of the document whose `DOMParser` it is, so this one
/// allows them (they never run: what the frame parses has no browsing context) and nothing else.
pub const PARSER_FRAME: &str = "html-parser.html";
/// No `base-uri`: a note's `<base>` changes only the parsed document's base, which the app
/// never uses (links are resolved against the FHIR base), and restricting it would report it.
pub const PARSER_FRAME_CSP: &str = "default-src 'none'; script-src-attr 'unsafe-inline'; \
     style-src 'unsafe-inline'; frame-ancestors 'self'; form-action 'none'";

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "wasm" => "application/wasm",
        "css" => "text/css",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// Whether a file name carries Trunk's content hash (`app-0123456789abcdef.js`,
/// `app-0123456789abcdef_bg.wasm`; a 64-bit hash in hex, so leading zeros may shorten it):
/// such a file never changes under its name.
pub fn is_fingerprinted(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, h)| h.len() >= 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A content coding the client accepts (RFC 9110 §12.5.3), best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The best coding `accept_encoding` allows: brotli, then gzip, else none.
    pub fn negotiate(accept_encoding: Option<&str>) -> Coding {
        let allows = |name: &str| {
            accept_encoding.is_some_and(|list| {
                list.split(',').any(|item| {
                    let mut parts = item.split(';').map(str::trim);
                    let token = parts.next().unwrap_or("");
                    let refused = parts.any(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_some_and(|q| q <= 0.0)
                    });
                    token.eq_ignore_ascii_case(name) && !refused
                })
            })
        };
        if allows("br") {
            Coding::Brotli
        } else if allows("gzip") {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// Text and wasm shrink several times over; images are compressed already.
fn compressible(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        "html" | "js" | "mjs" | "css" | "json" | "wasm" | "svg"
    )
}

/// A file's compressed forms, each made once, when first needed.
#[derive(Default)]
struct Encoded {
    br: OnceLock<Vec<u8>>,
    gz: OnceLock<Vec<u8>>,
}

/// The compressed forms of every file served, for the life of the process, keyed by the
/// content's digest: an edited file is compressed anew, and copies of one build share the work.
fn encoded(digest: [u8; 32]) -> Arc<Encoded> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<Encoded>>>> = OnceLock::new();
    CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(digest)
        .or_default()
        .clone()
}

/// `bytes` in `coding` (brotli quality 11, gzip level 9). A caller that asks while another is
/// compressing the same content waits for that work instead of repeating it.
fn compress(digest: [u8; 32], bytes: &[u8], coding: Coding) -> Vec<u8> {
    let e = encoded(digest);
    match coding {
        Coding::Identity => bytes.to_vec(),
        Coding::Brotli => {
            e.br.get_or_init(|| {
                let mut out = Vec::new();
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 11,
                    lgwin: 22,
                    ..Default::default()
                };
                match brotli::BrotliCompress(&mut std::io::Cursor::new(bytes), &mut out, &params) {
                    Ok(_) => out,
                    Err(_) => bytes.to_vec(),
                }
            })
            .clone()
        }
        Coding::Gzip => {
            e.gz.get_or_init(|| {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                std::io::Write::write_all(&mut gz, bytes)
                    .and_then(|_| gz.finish())
                    .unwrap_or_else(|_| bytes.to_vec())
            })
            .clone()
        }
    }
}

/// Brotli-compresses the compressible files of `dir` in the background, so the first visitor
/// does not wait for it.
fn warm_up(dir: PathBuf) {
    std::thread::spawn(move || {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            if compressible(&path) {
                if let Ok(bytes) = std::fs::read(&path) {
                    compress(Sha256::digest(&bytes).into(), &bytes, Coding::Brotli);
                }
            }
        }
    });
}

/// A static file with HTTP caching and compression done right: fingerprinted files are
/// `immutable` for a year; others (launch.html, config.json) are revalidated every time with an
/// `ETag`, answered with 304 when unchanged (RFC 9111, RFC 9110 §13.1.2). Text and wasm go out
/// with the best content coding the client accepts (`Vary: Accept-Encoding`), each coding with
/// its own ETag; wasm as `application/wasm`, so the browser compiles it while it streams in.
pub fn file_response(request: &axum::http::HeaderMap, file: &Path, bytes: Vec<u8>) -> Response {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let coding = if compressible(file) {
        Coding::negotiate(
            request
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        )
    } else {
        Coding::Identity
    };
    let body = match coding {
        Coding::Identity => bytes,
        c => compress(digest, &bytes, c),
    };
    let mut headers = vec![(header::CONTENT_TYPE, content_type(file).to_string())];
    if compressible(file) {
        headers.push((header::VARY, "Accept-Encoding".to_string()));
    }
    if let Some(c) = coding.header() {
        headers.push((header::CONTENT_ENCODING, c.to_string()));
    }
    let header_map = |headers: Vec<(header::HeaderName, String)>| {
        let mut map = axum::http::HeaderMap::new();
        for (k, v) in headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                map.insert(k, v);
            }
        }
        map
    };
    if is_fingerprinted(name) {
        headers.push((
            header::CACHE_CONTROL,
            "public, max-age=31536000, immutable".to_string(),
        ));
        return (header_map(headers), body).into_response();
    }
    let etag: String = format!(
        "\"{}{}\"",
        digest[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        coding.header().map(|c| format!("-{c}")).unwrap_or_default()
    );
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    headers.push((header::CACHE_CONTROL, "no-cache".to_string()));
    headers.push((header::ETAG, etag));
    if matches {
        (StatusCode::NOT_MODIFIED, header_map(headers)).into_response()
    } else {
        (header_map(headers), body).into_response()
    }
}

async fn serve(State(host): State<Arc<AppHost>>, req: Request) -> Response {
    let path = req.uri().path();
    if path == "/" {
        return Redirect::to("/launch.html").into_response();
    }
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = host.dir.join(rel);
    let mut res = match tokio::fs::read(&file).await {
        // Compressing can take a moment the first time: off the async workers.
        Ok(bytes) => {
            let headers = req.headers().clone();
            let path = file.clone();
            tokio::task::spawn_blocking(move || file_response(&headers, &path, bytes))
                .await
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let h = res.headers_mut();
    if rel == Path::new(PARSER_FRAME) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PARSER_FRAME_CSP),
        );
    } else if let Ok(v) = HeaderValue::from_str(&host.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_inline_scripts() {
        let html = r#"<script src="/a.js"></script><script type="module">init()</script>"#;
        let h = inline_script_hashes(html);
        assert_eq!(h.len(), 1);
        assert_eq!(
            h[0],
            format!("'sha256-{}'", STANDARD.encode(Sha256::digest(b"init()")))
        );
    }

    #[test]
    fn negotiates_the_best_accepted_coding() {
        assert_eq!(Coding::negotiate(Some("gzip, deflate, br")), Coding::Brotli);
        assert_eq!(Coding::negotiate(Some("gzip, br;q=0")), Coding::Gzip);
        assert_eq!(Coding::negotiate(Some("GZIP")), Coding::Gzip);
        assert_eq!(Coding::negotiate(Some("identity")), Coding::Identity);
        assert_eq!(Coding::negotiate(Some("brotli, xgzip")), Coding::Identity);
        assert_eq!(Coding::negotiate(None), Coding::Identity);
    }

    #[test]
    fn fingerprints() {
        assert!(is_fingerprinted("smart-launch-775de58f9270c75a.js"));
        assert!(is_fingerprinted("smart-launch-775de58f9270c75a_bg.wasm"));
        assert!(is_fingerprinted("style-9cceb3e2f51a0001.css"));
        assert!(is_fingerprinted("smart-launch-26c0b6aafbeafba_bg.wasm"));
        assert!(is_fingerprinted("style-9cceb3e2f51a000.css"));
        assert!(!is_fingerprinted("launch.html"));
        assert!(!is_fingerprinted("config.json"));
        assert!(!is_fingerprinted("smart-launch.js"));
        assert!(!is_fingerprinted("app-notahexhashatall.js"));
    }

    #[test]
    fn origins_from_config() {
        let c = r#"{"ehrs":[{"iss":"http://localhost:9000/fhir"},{"iss":"https://ehr.example/r4","extra_origins":["https://auth.example"],"enabled":true},{"iss":"http://localhost:9000/other"},{"iss":"https://disabled.example/r4","extra_origins":["https://auth.disabled.example"],"enabled":false}]}"#;
        assert_eq!(
            ehr_origins(c).unwrap(),
            vec![
                "http://localhost:9000",
                "https://ehr.example",
                "https://auth.example"
            ]
        );
        assert!(ehr_origins("nope").is_err());
    }
}
