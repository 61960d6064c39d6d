//! The app host's security headers over real HTTP (SECURITY.md, "Hosting").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn serves_the_app_with_its_security_headers() {
    let dir = std::env::temp_dir().join(format!("app-host-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let loader = "import init from '/app.js'; await init();";
    std::fs::write(
        dir.join("launch.html"),
        format!("<!doctype html><script type=\"module\">{loader}</script>"),
    )
    .unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"ehrs":[{"iss":"http://localhost:9000/fhir"},{"iss":"https://ehr.example/r4"},{"iss":"https://example-only.example/r4","extra_origins":["https://auth.example-only.example"],"enabled":false}]}"#,
    )
    .unwrap();
    std::fs::write(dir.join("app.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join("html-parser.html"), "<!doctype html>").unwrap();
    std::fs::write(dir.join("app-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    let host = sandbox::app_host::AppHost::new(&dir).unwrap();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, host.router()).await });

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("http://{addr}/launch.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    let hash = format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(loader.as_bytes()))
    );
    assert!(
        csp.contains(&format!("script-src 'self' 'wasm-unsafe-eval' {hash};")),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // A disabled entry is an example: its origins are not allowed.
    assert!(!csp.contains("example-only"), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'self' http://localhost:9000 https://ehr.example;"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' http://localhost:9000 https://ehr.example;"),
        "{csp}"
    );
    // The app's HTML parser frame: framed by the app only, with a policy of its own that
    // allows the inline attributes it parses and nothing else (no script, no fetch).
    assert!(csp.contains("frame-src 'self';"), "{csp}");
    let frame = http
        .get(format!("http://{addr}/html-parser.html"))
        .send()
        .await
        .unwrap();
    let frame_csp = frame.headers()["content-security-policy"].to_str().unwrap();
    assert_eq!(frame_csp, sandbox::app_host::PARSER_FRAME_CSP);
    for part in [
        "default-src 'none';",
        "script-src-attr 'unsafe-inline';",
        "frame-ancestors 'self';",
    ] {
        assert!(frame_csp.contains(part), "{frame_csp}");
    }
    assert!(!frame_csp.contains("script-src "), "{frame_csp}");

    let wasm = http
        .get(format!("http://{addr}/app.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert!(
        wasm.headers().get("content-encoding").is_none(),
        "none asked for"
    );

    // Compression: brotli when accepted, else gzip; the same bytes once decoded; one ETag per
    // coding, so a cache never answers one coding's request with another's body.
    let big = "(module) ".repeat(2000);
    std::fs::write(dir.join("big.wasm"), &big).unwrap();
    let get = |path: &'static str, accept: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}{path}"))
                .header("accept-encoding", accept)
                .send()
                .await
                .unwrap()
        }
    };
    let br = get("/big.wasm", "gzip, deflate, br").await;
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["vary"], "Accept-Encoding");
    assert_eq!(br.headers()["content-type"], "application/wasm");
    let body = br.bytes().await.unwrap();
    assert!(body.len() < big.len() / 10, "{} bytes", body.len());
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut std::io::Cursor::new(&body), &mut plain).unwrap();
    assert_eq!(plain, big.as_bytes());
    let gz = get("/big.wasm", "gzip;q=1, br;q=0").await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..]),
        &mut plain,
    )
    .unwrap();
    assert_eq!(plain, big);
    let page_br = get("/launch.html", "br").await;
    let page_plain = get("/launch.html", "identity").await;
    assert_eq!(page_br.headers()["content-encoding"], "br");
    assert!(page_plain.headers().get("content-encoding").is_none());
    assert_ne!(page_br.headers()["etag"], page_plain.headers()["etag"]);
    let root = http.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(root.headers()["location"], "/launch.html");
    for bad in ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/nope.js"] {
        let r = http
            .get(format!("http://{addr}{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
