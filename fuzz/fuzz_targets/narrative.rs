//! The narrative sanitizer on any text: what comes out holds only allowlisted elements, no
//! event handlers, links to https or the FHIR base, images as data or from the FHIR base, and
//! layout-only styles; and sanitizing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smart_launch_core::fhir::narrative::{sanitize, sanitize_document, Node, ALLOWED_ELEMENTS};
use smart_launch_core::fhir::FhirBase;

const BASE: &str = "https://ehr.example/fhir";

fn under_base(url: &str) -> bool {
    url == BASE || url.starts_with(&format!("{BASE}/")) || url.starts_with(&format!("{BASE}?"))
}

fn check(nodes: &[Node]) {
    for n in nodes {
        match n {
            Node::Text(_) => {}
            Node::FhirImage { url, .. } => assert!(under_base(url), "{url}"),
            Node::Element {
                tag,
                attrs,
                children,
            } => {
                assert!(ALLOWED_ELEMENTS.contains(tag), "{tag} came out");
                for (k, v) in attrs {
                    assert!(!k.starts_with("on"), "{k}");
                    if *k == "href" {
                        assert!(v.starts_with("https://") || under_base(v), "href {v}");
                    }
                    if *k == "src" {
                        assert!(v.starts_with("data:image/"), "src {v}");
                    }
                    if *k == "style" {
                        assert!(!v.contains("url(") && !v.contains("color"), "style {v}");
                    }
                }
                check(children);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(base) = FhirBase::new(BASE) else {
        return;
    };
    // As a FHIR narrative (`text.div`), and as a whole XHTML/HTML attachment would be.
    for result in [sanitize(text, &base), sanitize_document(text, &base)] {
        if let Ok(n) = result {
            check(&n.nodes);
        }
    }
});
