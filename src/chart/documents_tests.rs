#![allow(clippy::unwrap_used)]
//! Notes and reports: nothing the server sent is dropped, attachments go where they may.

use super::*;
use crate::fhir::narrative::Node;
use serde_json::json;

const BASE: &str = "https://ehr.example.org/fhir/r4";

fn base() -> FhirBase {
    FhirBase::new(BASE).unwrap()
}

fn b64(s: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_report_keeps_everything_a_clinician_reads() {
    let r = json!({
        "resourceType": "DiagnosticReport", "id": "dr1", "status": "final",
        "category": [{"coding": [{"code": "LAB", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8", "display": "Comprehensive metabolic 2000 panel"}], "text": "Metabolic panel"},
        "effectiveDateTime": "2026-05-01",
        "performer": [{"display": "General Hospital Laboratory"}],
        "resultsInterpreter": [{"display": "Dr. Adams"}],
        "conclusion": "Glucose high.",
        "conclusionCode": [{"text": "Hyperglycaemia"}],
        "result": [
            {"reference": "Observation/obs-1", "display": "Glucose"},
            {"reference": format!("{BASE}/Observation/obs-2")},
            {"reference": "https://elsewhere.example/Observation/3"},
            {"display": "Potassium (not stored)"}
        ],
        "presentedForm": [{"contentType": "text/plain", "data": b64(b"Glucose 8.1 mmol/L"), "title": "Report"}],
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Panel</p></div>"}
    });
    let e = report(&r, &base());
    assert_eq!(e.kind, Kind::Report);
    assert_eq!(
        (
            e.title.as_str(),
            e.category.as_str(),
            e.date.as_str(),
            e.status.as_str()
        ),
        ("Metabolic panel", "Laboratory", "2026-05-01", "Final")
    );
    assert_eq!(e.authors, "General Hospital Laboratory, Dr. Adams");
    assert_eq!(e.summary.as_deref(), Some("Glucose high.; Hyperglycaemia"));
    let ids: Vec<Option<&str>> = e
        .results
        .iter()
        .map(|r| r.observation_id.as_deref())
        .collect();
    assert_eq!(ids, [Some("obs-1"), Some("obs-2"), None, None]);
    assert_eq!(
        e.results[3].display.as_deref(),
        Some("Potassium (not stored)")
    );
    assert_eq!(
        e.results[2].reference.as_deref(),
        Some("https://elsewhere.example/Observation/3")
    );
    assert_eq!(e.attachments.len(), 1);
    assert_eq!(
        e.attachments[0].source,
        Source::Inline(b"Glucose 8.1 mmol/L".to_vec())
    );
    assert_eq!(e.attachments[0].describe(), "text, 18 bytes");
    let Some(NarrativeShown::Sanitized(Ok(n))) = e.narrative else {
        panic!("a well-formed narrative");
    };
    assert!(matches!(&n.nodes[0], Node::Element { tag: "p", .. }));
    assert!(!e.ended);
}

#[test]
fn a_document_and_its_attachments_by_kind_and_place() {
    let d = json!({
        "resourceType": "DocumentReference", "id": "doc1", "status": "current", "docStatus": "final",
        "type": {"text": "Progress note"}, "category": [{"text": "Clinical note"}],
        "date": "2026-04-02T09:30:00Z", "description": "Follow-up visit",
        "author": [{"display": "Dr. Lee"}], "authenticator": {"display": "Dr. Adams"},
        "content": [
            {"attachment": {"contentType": "text/plain; charset=utf-8", "data": b64("Blood pressure better. 🌻".as_bytes())}},
            {"attachment": {"contentType": "application/pdf", "url": "Binary/pdf-1", "size": 120000, "title": "Discharge letter"}},
            {"attachment": {"contentType": "image/png", "url": "https://tracker.example/x.png"}},
            {"attachment": {"contentType": "application/dicom", "url": format!("{BASE}/Binary/img"), "size": 5000000}},
            {"attachment": {"contentType": "text/html", "data": "not base64!!"}},
            {"attachment": {"title": "Nothing"}}
        ]
    });
    let e = document(&d, &base());
    assert_eq!(
        (
            e.title.as_str(),
            e.status.as_str(),
            e.authors.as_str(),
            e.summary.as_deref()
        ),
        (
            "Progress note",
            "Final",
            "Dr. Lee, Dr. Adams (authenticated)",
            Some("Follow-up visit")
        )
    );
    let a = &e.attachments;
    assert_eq!(a.len(), 6, "every attachment is listed");
    assert_eq!(a[0].media, Media::Text);
    assert_eq!(a[1].source, Source::Fhir(format!("{BASE}/Binary/pdf-1")));
    assert_eq!(
        (a[1].title.as_str(), a[1].describe().as_str()),
        ("Discharge letter", "PDF, 118 KB")
    );
    assert_eq!(
        a[2].source,
        Source::Outside("https://tracker.example/x.png".into())
    );
    assert_eq!(
        origin_of("https://tracker.example/x.png"),
        "https://tracker.example"
    );
    assert_eq!(a[3].describe(), "application/dicom, 4.8 MB");
    assert_eq!((a[1].accept(), a[5].accept()), ("application/pdf", "*/*"));
    let names: Vec<String> = a.iter().map(|x| x.file_name()).collect();
    assert_eq!(
        names,
        [
            "Text-attachment.txt",
            "Discharge-letter.pdf",
            "Image-attachment.png",
            "File-attachment.dcm",
            "Formatted-text-attachment.html",
            "Nothing"
        ]
    );
    assert_eq!(a[4].source, Source::BadData);
    assert_eq!(
        (a[5].source.clone(), a[5].content_type.as_str()),
        (Source::Missing, "unknown type")
    );
    // The description names a document without a type, and is then not repeated.
    let untyped = document(
        &json!({"description": "Letter", "status": "superseded"}),
        &base(),
    );
    assert_eq!(
        (untyped.title.as_str(), untyped.summary.clone()),
        ("Letter", None)
    );
    assert!(untyped.ended);
}

#[test]
fn content_is_shown_by_its_declared_type_and_only_safely() {
    let att = |ct: &str| attachment(&json!({"contentType": ct, "data": ""}), &base());
    let b = base();
    // A stand-in for the browser's TextDecoder: windows-1252 for the Latin labels (as WHATWG
    // reads them), nothing else known.
    let latin: Decoder = &|label: &str, bytes: &[u8]| {
        matches!(label, "iso-8859-1" | "windows-1252").then(|| {
            bytes
                .iter()
                .map(|&b| if b == 0x93 { '“' } else { b as char })
                .collect()
        })
    };
    let show = |a: &Attachment, bytes: Vec<u8>, b: &FhirBase| show(a, bytes, b, latin);
    assert_eq!(
        show(&att("text/plain"), "Zoë".as_bytes().to_vec(), &b),
        Shown::Text("Zoë".into())
    );
    assert_eq!(
        show(
            &att("text/plain; charset=ISO-8859-1"),
            vec![b'Z', b'o', 0xEB],
            &b
        ),
        Shown::Text("Zoë".into())
    );
    assert_eq!(
        show(
            &att("text/plain;charset=\"windows-1252\""),
            vec![0x93, b'a'],
            &b
        ),
        Shown::Text("“a".into()),
        "the named charset's decoder, whatever the spelling"
    );
    assert_eq!(
        show(
            &att("text/plain; charset=klingon"),
            "ä".as_bytes().to_vec(),
            &b
        ),
        Shown::Text("ä".into()),
        "an unknown charset is read as UTF-8"
    );
    assert_eq!(
        charset("text/html; q=1; Charset=UTF-8"),
        Some("utf-8".into())
    );
    assert_eq!(charset("text/html"), None);
    assert_eq!(
        show(&att("text/plain"), vec![b'a', 0xFF], &b),
        Shown::Text("a\u{FFFD}".into()),
        "undecodable bytes are marked, not dropped"
    );
    let Shown::Html(Ok(n)) = show(
        &att("application/xhtml+xml"),
        b"<html><body><p onclick='x()'>Hi</p><script>x()</script></body></html>".to_vec(),
        &b,
    ) else {
        panic!("xhtml")
    };
    assert_eq!(n.nodes.len(), 1);
    assert!(matches!(
        show(&att("application/xhtml+xml"), b"<p>a<br>b".to_vec(), &b),
        Shown::Html(Err(_))
    ));
    // text/html goes to the browser's HTML parser (tag soup included), then the same allowlist.
    assert_eq!(
        show(&att("text/html; charset=utf-8"), b"<p>a<br>b".to_vec(), &b),
        Shown::HtmlSource("<p>a<br>b".into())
    );
    assert_eq!(
        show(&att("application/pdf"), b"%PDF-1.4 ...".to_vec(), &b),
        Shown::File {
            bytes: b"%PDF-1.4 ...".to_vec(),
            blob_type: "application/pdf",
            view: Some(View::Pdf)
        }
    );
    // A "PDF" that is not one (HTML in disguise) is a download, never rendered in the app's origin.
    assert_eq!(
        show(&att("application/pdf"), b"<html><script>".to_vec(), &b),
        Shown::File {
            bytes: b"<html><script>".to_vec(),
            blob_type: "application/octet-stream",
            view: None
        }
    );
    assert!(matches!(
        show(&att("image/jpg"), vec![1], &b),
        Shown::File {
            blob_type: "image/jpeg",
            view: Some(View::Image),
            ..
        }
    ));
    for t in [
        "image/svg+xml",
        "application/xml",
        "text/javascript",
        "application/octet-stream",
        "unknown type",
    ] {
        assert!(
            matches!(
                show(&att(t), vec![1], &b),
                Shown::File {
                    blob_type: "application/octet-stream",
                    view: None,
                    ..
                }
            ),
            "{t}"
        );
    }
}

#[test]
fn newest_first_and_nothing_dropped() {
    let mut b = EntriesBuilder::default();
    b.add_reports(
        &[
            json!({"id": "r-old", "effectiveDateTime": "2020-01-01"}),
            json!({"id": "r-undated"}),
        ],
        &base(),
    );
    b.add_documents(
        &[
            json!({"id": "d-new", "date": "2026-01-01T10:00:00Z"}),
            json!({"id": "d-mid", "context": {"period": {"start": "2023-05-05"}}}),
        ],
        &base(),
    );
    let ids: Vec<String> = b.finish().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["d-new", "d-mid", "r-old", "r-undated"]);
}

#[test]
fn a_hostile_narrative_is_sanitized_and_an_empty_one_ignored() {
    let r = json!({"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=\"x\" onerror=\"alert(1)\"/><a href=\"javascript:alert(1)\">x</a></div>"}});
    let Some(NarrativeShown::Sanitized(Ok(n))) = report(&r, &base()).narrative else {
        panic!("a well-formed narrative is sanitized as XHTML");
    };
    assert!(n.removed >= 2);
    assert!(report(
        &json!({"text": {"status": "empty", "div": "<div/>"}}),
        &base()
    )
    .narrative
    .is_none());
    // What EHRs send that is not XHTML is repaired by the HTML parser; too large stays refused.
    for div in [
        "<div>not xhtml</div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>unclosed<br></div>",
        "<!DOCTYPE div [<!ENTITY e \"x\">]><div xmlns=\"http://www.w3.org/1999/xhtml\">&e;</div>",
    ] {
        assert_eq!(
            document(&json!({"text": {"div": div}}), &base()).narrative,
            Some(NarrativeShown::Repair(div.to_string())),
            "{div}"
        );
    }
    let big = format!(
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div>",
        "<p>x</p>".repeat(40_000)
    );
    assert!(matches!(
        document(&json!({"text": {"div": big}}), &base()).narrative,
        Some(NarrativeShown::Sanitized(Err(NarrativeError::TooLarge(_))))
    ));
    assert_eq!(size_text(812), "812 bytes");
    assert_eq!(size_text(14_000), "14 KB");
}

/// An RTF letter (Oracle Health's `text/rtf`, `text/richtext`) is offered for download under a
/// name a word processor opens, not shown.
#[test]
fn an_rtf_attachment_is_saved_as_rtf() {
    for ct in [
        "text/rtf",
        "application/rtf",
        "text/richtext; charset=us-ascii",
    ] {
        let d = json!({"resourceType": "DocumentReference", "id": "d", "status": "current",
            "content": [{"attachment": {"contentType": ct, "url": "Binary/r", "title": "Transfer letter (RTF)"}}]});
        let att = &document(&d, &base()).attachments[0];
        assert_eq!(att.media, Media::Other);
        assert_eq!(att.file_name(), "Transfer-letter--RTF.rtf");
        let shown = show(att, b"{\\rtf1 x}".to_vec(), &base(), &|_, _| None);
        assert!(matches!(
            shown,
            Shown::File {
                blob_type: "application/octet-stream",
                view: None,
                ..
            }
        ));
    }
}
