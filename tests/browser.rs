//! Browser tests of the wasm layer (`web`), run by wasm-bindgen-test in headless Chromium:
//! randomness, this tab's sessionStorage, RS256 checks through crypto.subtle, fetch errors, and
//! hostile narratives rendered inert.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use smart_launch::platform::{HttpRequest, NetError, Platform};
use smart_launch::web::Browser;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A JWKS and an RS256 JWT signed with its key (made once with the sandbox's signer).
const JWKS: &str = r#"{"keys":[{"alg":"RS256","e":"AQAB","kid":"11mrf2JkM90LfGMF0w5D1KBC3yn4BVI5JXFFH0vOIkg","kty":"RSA","n":"2TChkZFFkpORd-IHkqO4KrWmXk-rtfSHt_XMdjrR4N2Wa7aiFYxtdJ0o5g-UmwsWhl47U8A9HM5F095Q3G1iMeCtYgwOGQdbeocIzpkxy8Izq_iXPeZRh2xSqApTlmRslZWVkxQOuG0AC4Uwv0QCtJXdbdj2GbycyJ5yK7ejJrEMLZSAeCrtLVT-v8FterQMiIdAl_8T2AMa95DtScIsr6wdJ6mFuh-1er4xMG1Xw4rIEqnZBkb-1Tk6CRIqZY5UWvVQn2UXiPbxXP9hWjhQ5go5qi2bSxRXvlhba_DKw1hkcqff2oeOkHrqGn2LBxWq7Cs6cAUZMTot7Jta1cy7SQ","use":"sig"}]}"#;
const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjExbXJmMkprTTkwTGZHTUYwdzVEMUtCQzN5bjRCVkk1SlhGRkgwdk9Ja2ciLCJ0eXAiOiJKV1QifQ.eyJhdWQiOiJhcHAiLCJleHAiOjQxMDI0NDQ4MDAsImlzcyI6Imh0dHBzOi8vZS9maGlyIn0.QV53qPMX59QvNcLJiApv96ublAUuo9AAF2B7ZHEgs6Q9BYKwiv8eQPu_f98T14ly-_xr2INQ4EfSrcJe0hIB6FeYO7MAy06V6rdJ73oAcJ1Uf7FUe9bp8W0542MiLQNsSyfEYz1wL2mHBREFRnf_5kORnZtJtc65yaqycwZshf9z4HoWEaaUNJ4ljhy99hS5ZCt9QMTiwJ60sofJsE8Q6n0zseh26AYGYwzb4lJQbPtjHR-YK8cs9kZ-4nUXV1epscxVGSjOyRBczQF7GeEvtw2wzcjZDMQToaMv6nCuax9FdHtQ-PZhRgYkKdLccZLCJTMflxMX6IJ-LTgGMZmdcw";

#[wasm_bindgen_test]
fn random_bytes_come_from_the_browser() {
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    Browser.random(&mut a).unwrap();
    Browser.random(&mut b).unwrap();
    assert_ne!(a, [0u8; 32]);
    assert_ne!(a, b);
}

#[wasm_bindgen_test]
fn session_storage_round_trip() {
    Browser.save("smart-launch.test", "value").unwrap();
    assert_eq!(Browser.load("smart-launch.test").as_deref(), Some("value"));
    assert!(Browser.keys().contains(&"smart-launch.test".to_string()));
    Browser.remove("smart-launch.test");
    assert_eq!(Browser.load("smart-launch.test"), None);
    let local = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    assert_eq!(local.length().unwrap(), 0, "nothing goes to localStorage");
}

fn parts() -> (Value, String, Vec<u8>) {
    use base64::Engine;
    let jwks = serde_json::from_str::<Value>(JWKS).unwrap();
    let (input, sig) = TOKEN.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    (jwks["keys"][0].clone(), input.to_string(), sig)
}

#[wasm_bindgen_test]
async fn rs256_signatures_are_checked_by_webcrypto() {
    let (jwk, input, sig) = parts();
    assert_eq!(
        Browser.verify_rs256(&jwk, input.as_bytes(), &sig).await,
        Ok(true)
    );
    let mut tampered = input.clone();
    tampered.push('x');
    assert_eq!(
        Browser.verify_rs256(&jwk, tampered.as_bytes(), &sig).await,
        Ok(false)
    );
    let mut bad_sig = sig.clone();
    bad_sig[10] ^= 1;
    assert_eq!(
        Browser.verify_rs256(&jwk, input.as_bytes(), &bad_sig).await,
        Ok(false)
    );
    assert!(Browser
        .verify_rs256(&serde_json::json!({"kty":"RSA"}), input.as_bytes(), &sig)
        .await
        .is_err());
}

#[wasm_bindgen_test]
async fn unreachable_servers_are_a_typed_error() {
    let r = Browser
        .send(HttpRequest::get(
            "http://127.0.0.1:9/fhir/metadata",
            "application/json",
        ))
        .await;
    assert_eq!(r, Err(NetError::Unreachable("http://127.0.0.1:9".into())));
}

/// Hostile narratives, sanitized and built into the page: no script runs (each payload would set
/// `window.pwned`), no request leaves (each would fetch from evil.example), nothing executable
/// is in the DOM.
#[wasm_bindgen_test]
async fn hostile_narratives_render_inert() {
    use smart_launch::fhir::{narrative, FhirBase};
    let base = FhirBase::new("https://fhir.example.org/r4").unwrap();
    let corpus = [
        "<script>window.pwned=1</script>",
        "<p onclick=\"window.pwned=1\" onmouseover=\"window.pwned=1\">a</p>",
        "<img src=\"https://evil.example/p.gif\" onerror=\"window.pwned=1\"/>",
        "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+\"/>",
        "<a href=\"javascript:window.pwned=1\">x</a>",
        "<a href=\"&#106;avascript:window.pwned=1\">x</a>",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.pwned=1\"><script>window.pwned=1</script></svg>",
        "<math xmlns=\"http://www.w3.org/1998/Math/MathML\"><mtext><img src=\"https://evil.example/m\"/></mtext></math>",
        "<iframe src=\"https://evil.example/f\"></iframe>",
        "<object data=\"https://evil.example/o\"></object><embed src=\"https://evil.example/e\"/>",
        "<style>@import url(https://evil.example/s.css);</style>",
        "<span style=\"background:url(https://evil.example/b.png)\">b</span>",
        "<link rel=\"stylesheet\" href=\"https://evil.example/l.css\"/>",
        "<base href=\"https://evil.example/\"/><a href=\"x\">rel</a>",
        "<form action=\"https://evil.example/\"><button>go</button></form>",
        "<template><img src=\"https://evil.example/t\"/></template>",
        "<p id=\"pwned\" name=\"cookie\">clobber</p>",
    ];
    let doc = web_sys::window().unwrap().document().unwrap();
    let host = doc.create_element("section").unwrap();
    doc.body().unwrap().append_child(&host).unwrap();
    for xhtml in corpus {
        let wrapped = format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{xhtml}</div>");
        let n = narrative::sanitize(&wrapped, &base).unwrap();
        let (fragment, _) = smart_launch::web::narrative_dom(&n.nodes).unwrap();
        host.append_child(&fragment).unwrap();
    }
    // The same corpus as HTML attachments (the browser's HTML parser, then the allowlist), and
    // what only HTML parsing allows: unquoted and unclosed markup, parser-differential (mXSS)
    // shapes, a meta refresh and a body handler.
    let tag_soup = [
        "<img src=x onerror=window.pwned=1>",
        "<p>one<br>two<img src=https://evil.example/u onerror=\"window.pwned=1\">",
        "<noscript><p title=\"</noscript><img src=x onerror=window.pwned=1>\">",
        "<math><mtext><table><mglyph><style><img src=x onerror=window.pwned=1></style></mglyph></table></mtext></math>",
        "<svg><p><style><img src=x onerror=window.pwned=1></style></p></svg>",
        "<meta http-equiv=refresh content=\"0;url=https://evil.example/r\">",
        "<body onload=window.pwned=1><p>body</p>",
        "<a href=\"  java\tscript:window.pwned=1\">tab</a>",
        "<table><td background=\"https://evil.example/bg\">cell</td></table>",
        "<video poster=https://evil.example/v></video><audio src=https://evil.example/a></audio>",
    ];
    for html in corpus.iter().chain(tag_soup.iter()) {
        let n = smart_launch::web::sanitize_html(html, &base).await.unwrap();
        let (fragment, _) = smart_launch::web::narrative_dom(&n.nodes).unwrap();
        host.append_child(&fragment).unwrap();
    }
    // Let any event, load or error handler have its turn.
    smart_launch::web::sleep(300).await;
    let window = web_sys::window().unwrap();
    let pwned = js_sys::Reflect::get(&window, &"pwned".into()).unwrap();
    assert!(pwned.is_undefined(), "a script ran");
    for sel in [
        "script",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "style",
        "link",
        "base",
        "form",
        "template",
        "[onclick]",
        "[onerror]",
        "[id]",
        "[name]",
        "[style*=url]",
        "[background]",
        "[poster]",
        "meta",
        "video",
        "audio",
        "img",
    ] {
        assert!(
            host.query_selector(sel).unwrap().is_none(),
            "{sel} in the page"
        );
    }
    let resources = window
        .performance()
        .unwrap()
        .get_entries_by_type("resource");
    for i in 0..resources.length() {
        let name = js_sys::Reflect::get(&resources.get(i), &"name".into())
            .unwrap()
            .as_string()
            .unwrap_or_default();
        assert!(!name.contains("evil.example"), "a request left: {name}");
    }
    let text = host.text_content().unwrap_or_default();
    for kept in ["clobber", "onetwo", "cell", "body", "tab"] {
        assert!(text.contains(kept), "{kept} lost: {text}");
    }
    host.remove();
}

/// Note text in a charset other than UTF-8 is decoded by the browser (WHATWG labels: ISO-8859-1
/// is read as windows-1252, as browsers do); an unknown label is `None`.
#[wasm_bindgen_test]
fn text_in_other_charsets_is_decoded_by_the_browser() {
    use smart_launch::web::decode_text;
    assert_eq!(
        decode_text("windows-1252", &[0x93, b'a', 0x94]).as_deref(),
        Some("“a”")
    );
    assert_eq!(
        decode_text("iso-8859-1", &[b'Z', b'o', 0xEB]).as_deref(),
        Some("Zoë")
    );
    assert_eq!(
        decode_text("shift_jis", &[0x82, 0xA0]).as_deref(),
        Some("あ")
    );
    assert_eq!(decode_text("klingon", b"x"), None);
}
