#![cfg(not(target_arch = "wasm32"))]
//! Property tests of readers of untrusted input: what must hold for any input, not only for the
//! examples someone thought of. Each property says what must hold, beyond "does not panic".
//! `PROPTEST_CASES` sets how many inputs each property gets (256 unless set; `scripts/fuzz.sh`
//! runs many more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{json, Value};

use smart_launch::chart::context::{items, Target};
use smart_launch::chart::flags::{against_reference_range, Flag};
use smart_launch::chart::format::number;
use smart_launch::fhir::base::FhirBase;
use smart_launch::fhir::is_fhir_id;
use smart_launch::fhir::narrative::{sanitize, Node, ALLOWED_ELEMENTS};
use smart_launch::http_url::HttpUrl;
use smart_launch::platform::HttpResponse;
use smart_launch::smart::launch::classify;
use smart_launch::smart::token::process_token_response;

const BASE: &str = "https://ehr.example/fhir";

fn base() -> FhirBase {
    FhirBase::new(BASE).unwrap()
}

/// Whether `url` lies under the FHIR base: its origin and a path below `/fhir`.
fn under_base(url: &str) -> bool {
    url == BASE || url.starts_with(&format!("{BASE}/")) || url.starts_with(&format!("{BASE}?"))
}

/// Absolute URLs of every kind an EHR or an attacker may write, relative references, and noise.
fn url_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "(https?|HTTPS|javascript|data|ftp|file)://[a-zA-Z0-9.@:-]{0,16}(/[a-zA-Z0-9%._~@:-]{0,8}){0,4}(\\?[a-z0-9=&%]{0,12})?(#[a-z]{0,4})?",
        "https://ehr\\.example(:443)?/fhir(/|/\\.\\./|/%2e%2e/|/[A-Za-z]{1,12}/[A-Za-z0-9.-]{1,8}){0,3}",
        "(\\.\\./|/|\\./)?[A-Za-z]{0,12}(/[A-Za-z0-9._%-]{0,10}){0,3}",
        "[ \\t\\\\]{0,2}(java\\tscript|jav&#x61;script|JaVaScRiPt):[a-z()]{0,10}",
        ".{0,40}",
    ]
}

proptest! {
    /// A URL the strict layer accepts serialises to text that parses to the same URL, and the
    /// token's rule never lets a URL outside the base through, whatever its spelling.
    #[test]
    fn urls_reparse_and_stay_under_the_base(s in url_like()) {
        if let Ok(u) = HttpUrl::parse(&s) {
            let again = HttpUrl::parse(u.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), u.as_str());
            prop_assert!(u.scheme() == "http" || u.scheme() == "https");
        }
        let b = base();
        if let Some(c) = b.checked(&s) {
            prop_assert!(under_base(&c), "{s} checked as {c}");
        }
        if let Some(r) = b.resolve(&s) {
            prop_assert!(under_base(&r), "{s} resolved to {r}");
        }
    }

    /// Any page address is classified or refused with an error; never a panic.
    #[test]
    fn any_launch_query_is_classified_or_refused(q in "\\??([a-z_]{0,8}=[^&]{0,20}&?){0,5}") {
        let _ = classify(&q);
    }

    /// Whatever a token endpoint answers, the app either refuses it or holds a usable token and
    /// FHIR ids for `patient` and `encounter` (they go into URL paths).
    #[test]
    fn token_responses_are_refused_or_sound(
        access in prop_oneof![Just(json!("at")), Just(json!("")), Just(json!(7)), Just(Value::Null)],
        token_type in prop_oneof![Just(json!("Bearer")), Just(json!("bearer")), Just(json!("mac")), Just(json!(1))],
        expires in prop_oneof![Just(json!(3600)), Just(json!("3600")), Just(json!(-1)), Just(json!("soon")), Just(json!(1e300))],
        patient in prop_oneof![".{0,12}".prop_map(Value::String), Just(json!(5)), Just(Value::Null)],
        encounter in prop_oneof![".{0,12}".prop_map(Value::String), Just(Value::Null)],
        banner in prop_oneof![Just(json!(true)), Just(json!("false")), Just(json!("yes")), Just(Value::Null)],
        context in prop_oneof![Just(json!([{"reference": "Encounter/1"}])), Just(json!("x")), Just(json!([1, null])), Just(Value::Null)],
    ) {
        let body = json!({
            "access_token": access, "token_type": token_type, "expires_in": expires,
            "patient": patient, "encounter": encounter, "need_patient_banner": banner,
            "fhirContext": context,
        });
        let res = HttpResponse {
            status: 200,
            content_type: Some("application/json".into()),
            www_authenticate: None,
            body: body.to_string(),
            bytes: Vec::new(),
        };
        if let Ok(t) = process_token_response(&res) {
            prop_assert!(!t.access_token.expose().is_empty());
            prop_assert!(t.context.patient.as_deref().is_none_or(is_fhir_id));
            prop_assert!(t.context.encounter.as_deref().is_none_or(is_fhir_id));
        }
    }

    /// Every `fhirContext` item is classified, none fails the launch, and what the app would
    /// read with the token lies under the base and names one resource.
    #[test]
    fn fhir_context_items_read_only_under_the_base(
        refs in proptest::collection::vec(url_like(), 0..6),
        noise in proptest::collection::vec(prop_oneof![
            Just(json!(null)), Just(json!(3)), Just(json!({"role": "launch"})),
            Just(json!({"reference": 1})), Just(json!({"identifier": {"value": "x"}})),
        ], 0..3),
    ) {
        let mut context: Vec<Value> = refs.iter().map(|r| json!({"reference": r})).collect();
        context.extend(noise);
        let got = items(&context, &base());
        prop_assert_eq!(got.len(), context.len());
        for item in got {
            if let Target::Here { resource_type, id, url, .. } = item.target {
                prop_assert!(under_base(&url), "{url}");
                prop_assert!(is_fhir_id(&id));
                prop_assert!(resource_type.chars().all(|c| c.is_ascii_alphabetic()));
            }
        }
    }

    /// A value is flagged against the first reference range that has a low or a high number:
    /// Low only below its low, High only above its high, Normal otherwise; with no such range,
    /// no flag (a range given as text only says nothing a number can be held against).
    #[test]
    fn reference_ranges_flag_as_they_are_written(
        ranges in proptest::collection::vec((
            proptest::option::of(-1.0e3f64..1.0e3),
            proptest::option::of(-1.0e3f64..1.0e3),
        ), 0..3),
        value in -2.0e3f64..2.0e3,
    ) {
        let element = json!({"referenceRange": ranges.iter().map(|(low, high)| {
            let mut r = json!({"text": "as the lab says"});
            if let Some(l) = low { r["low"] = json!({"value": l}); }
            if let Some(h) = high { r["high"] = json!({"value": h}); }
            r
        }).collect::<Vec<_>>()});
        let first = ranges.iter().find(|(l, h)| l.is_some() || h.is_some());
        let expected = first.map(|(l, h)| {
            if l.is_some_and(|l| value < l) {
                Flag::Low
            } else if h.is_some_and(|h| value > h) {
                Flag::High
            } else {
                Flag::Normal
            }
        });
        prop_assert_eq!(against_reference_range(&element, value), expected);
    }

    /// A number is shown with at most the decimals asked for, and reads back as the value
    /// rounded to them.
    #[test]
    fn numbers_round_as_asked(v in -1.0e9f64..1.0e9, decimals in 0usize..6) {
        let shown = number(v, decimals);
        let back: f64 = shown.parse().unwrap();
        let places = shown.split_once('.').map_or(0, |(_, d)| d.len());
        prop_assert!(places <= decimals, "{shown}");
        prop_assert!((back - v).abs() <= 0.5 * 10f64.powi(-(decimals as i32)) + 1e-6 * v.abs().max(1.0), "{v} → {shown}");
    }
}

/// Element names and attributes a narrative may carry: allowed ones, hostile ones, unknown ones.
fn tag() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("div"),
        Just("p"),
        Just("span"),
        Just("b"),
        Just("a"),
        Just("img"),
        Just("table"),
        Just("tr"),
        Just("td"),
        Just("ul"),
        Just("li"),
        Just("script"),
        Just("style"),
        Just("iframe"),
        Just("svg"),
        Just("form"),
        Just("object"),
        Just("blink"),
        Just("x-custom"),
    ]
}

fn attr() -> impl Strategy<Value = (&'static str, String)> {
    (
        prop_oneof![
            Just("href"),
            Just("src"),
            Just("style"),
            Just("onclick"),
            Just("onerror"),
            Just("class"),
            Just("id"),
            Just("title"),
            Just("alt"),
            Just("colspan"),
            Just("xlink:href"),
            Just("formaction"),
        ],
        prop_oneof![
            url_like(),
            Just("text-align: center; color: red; background: url(x)".to_string()),
            Just("alert(1)".to_string()),
            "[0-9]{1,3}".prop_map(|s| s),
        ],
    )
}

#[derive(Clone, Debug)]
enum Tree {
    Text(String),
    El(&'static str, Vec<(&'static str, String)>, Vec<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = ".{0,12}".prop_map(Tree::Text);
    leaf.prop_recursive(4, 24, 4, |inner| {
        (
            tag(),
            proptest::collection::vec(attr(), 0..3),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(t, a, c)| Tree::El(t, a, c))
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_of_tree(t: &Tree, out: &mut String) {
    match t {
        Tree::Text(s) => out.push_str(&escape(s)),
        Tree::El(tag, attrs, children) => {
            out.push('<');
            out.push_str(tag);
            let mut seen = Vec::new();
            for (k, v) in attrs.iter().filter(|(k, _)| !k.contains(':')) {
                if seen.contains(k) {
                    continue;
                }
                seen.push(*k);
                out.push_str(&format!(" {k}=\"{}\"", escape(v)));
            }
            out.push('>');
            for c in children {
                xml_of_tree(c, out);
            }
            out.push_str(&format!("</{tag}>"));
        }
    }
}

fn xml_of_nodes(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(s) => out.push_str(&escape(s)),
            Node::Element {
                tag,
                attrs,
                children,
            } => {
                out.push('<');
                out.push_str(tag);
                for (k, v) in attrs {
                    out.push_str(&format!(" {k}=\"{}\"", escape(v)));
                }
                out.push('>');
                xml_of_nodes(children, out);
                out.push_str(&format!("</{tag}>"));
            }
            Node::FhirImage { url, alt } => {
                out.push_str(&format!(
                    "<img src=\"{}\" alt=\"{}\"/>",
                    escape(url),
                    escape(alt)
                ));
            }
        }
    }
}

fn wrapped(inner: &str) -> String {
    format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{inner}</div>")
}

fn check_nodes(nodes: &[Node]) -> Result<(), TestCaseError> {
    for n in nodes {
        match n {
            Node::Text(_) => {}
            Node::FhirImage { url, .. } => prop_assert!(under_base(url), "{url}"),
            Node::Element {
                tag,
                attrs,
                children,
            } => {
                prop_assert!(ALLOWED_ELEMENTS.contains(tag), "{tag} came out");
                for (k, v) in attrs {
                    prop_assert!(!k.starts_with("on"), "{k}");
                    if *k == "href" {
                        prop_assert!(v.starts_with("https://") || under_base(v), "href {v}");
                    }
                    if *k == "src" {
                        prop_assert!(v.starts_with("data:image/"), "src {v}");
                    }
                    if *k == "style" {
                        prop_assert!(!v.contains("url(") && !v.contains("color"), "style {v}");
                    }
                }
                check_nodes(children)?;
            }
        }
    }
    Ok(())
}

/// The allowlist itself holds nothing that runs, loads or submits.
#[test]
fn the_allowlist_has_no_active_element() {
    for tag in [
        "script", "style", "iframe", "svg", "math", "form", "object", "embed", "base", "meta",
        "link",
    ] {
        assert!(!ALLOWED_ELEMENTS.contains(&tag), "{tag}");
    }
}

proptest! {
    /// Whatever markup a narrative holds, only allowlisted elements, no event handlers, links
    /// to https or the FHIR base, images as data or from the FHIR base, and layout-only styles
    /// come out; and what comes out, sanitized again, comes out the same.
    #[test]
    fn narratives_come_out_allowlisted_and_stable(trees in proptest::collection::vec(tree(), 0..4)) {
        let mut inner = String::new();
        for t in &trees {
            xml_of_tree(t, &mut inner);
        }
        let b = base();
        if let Ok(n) = sanitize(&wrapped(&inner), &b) {
            check_nodes(&n.nodes)?;
            let mut again = String::new();
            xml_of_nodes(&n.nodes, &mut again);
            // The same nodes again. (`removed` may count the `rel` and `target` a link is given
            // on the way out: the sanitizer sets those itself and takes none from its input.)
            let second = sanitize(&wrapped(&again), &b).unwrap();
            prop_assert_eq!(second.nodes, n.nodes);
        }
    }
}
