//! The app host's security headers over real HTTP (SECURITY.md, "Hosting").
#![allow(clippy::unwrap_used)]

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

    let wasm = http
        .get(format!("http://{addr}/app.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
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
