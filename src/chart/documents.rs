//! Notes and reports: DiagnosticReport (FHIR R4 §8.3) and DocumentReference (§3.3.2) as entries
//! of one list, newest first, with their attachments (`Attachment`, §2.24.0.4) sorted into what
//! the app can show and how: text as text, HTML and XHTML through the narrative allowlist, PDFs
//! and raster images as files, anything else listed with its type and size. An attachment's
//! `url` is fetched with the token only when it lies under the FHIR base (SECURITY.md, "Where
//! the token may go"); elsewhere it is named, never fetched.

use serde_json::Value;

use crate::chart::format::{code_label, concept};
use crate::chart::records::{id, UNKNOWN};
use crate::chart::sort::sort_by_key;
use crate::chart::time::{date_time, fhir_date};
use crate::fhir::narrative::{sanitize, sanitize_document, Narrative, NarrativeError};
use crate::fhir::FhirBase;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Report,
    Note,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub kind: Kind,
    pub id: String,
    /// What it is: the report's code, the document's type.
    pub title: String,
    pub category: String,
    pub date: String,
    date_ms: Option<i64>,
    pub status: String,
    /// Entered in error, cancelled or superseded: shown greyed, like an ended medication.
    pub ended: bool,
    /// Performers, interpreters, authors.
    pub authors: String,
    /// A report's conclusion (and its coded conclusions), a document's description.
    pub summary: Option<String>,
    /// The Observations a report refers to.
    pub results: Vec<ResultRef>,
    pub attachments: Vec<Attachment>,
    /// `text.div`; `None` when the resource has none.
    pub narrative: Option<NarrativeShown>,
}

/// A resource's narrative (`text.div`) as the app shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum NarrativeShown {
    /// Well-formed XHTML through the allowlist, or why it is not shown (too large).
    Sanitized(Result<Narrative, NarrativeError>),
    /// Markup that is not well-formed XHTML (unclosed tags, no XHTML namespace, a doctype),
    /// which EHRs do send: repaired by the browser's HTML parser, then the same allowlist
    /// (`web::sanitize_html`), shown with a notice that it was repaired.
    Repair(String),
}

/// One `DiagnosticReport.result`: the Observation's id (to find it among the labs loaded) and
/// the reference's own words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultRef {
    pub observation_id: Option<String>,
    pub display: Option<String>,
    pub reference: Option<String>,
}

/// What kind of content an attachment holds, from its `contentType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Text,
    /// `text/html`: parsed by the browser's HTML parser (most HTML is not XML), then the
    /// narrative allowlist (`web::sanitize_html`).
    Html,
    /// `application/xhtml+xml`: parsed as XML, then the narrative allowlist.
    Xhtml,
    Pdf,
    /// A raster image the browser shows in an `img` (never SVG, which can carry script).
    Image(&'static str),
    Other,
}

impl Media {
    pub fn of(content_type: &str) -> Media {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/plain" => Media::Text,
            "text/html" => Media::Html,
            "application/xhtml+xml" => Media::Xhtml,
            "application/pdf" => Media::Pdf,
            "image/png" => Media::Image("image/png"),
            "image/jpeg" | "image/jpg" => Media::Image("image/jpeg"),
            "image/gif" => Media::Image("image/gif"),
            "image/webp" => Media::Image("image/webp"),
            _ => Media::Other,
        }
    }

    /// What the user is told the attachment is.
    pub fn noun(self) -> &'static str {
        match self {
            Media::Text => "text",
            Media::Html | Media::Xhtml => "formatted text",
            Media::Pdf => "PDF",
            Media::Image(_) => "image",
            Media::Other => "file",
        }
    }
}

/// Where an attachment's content is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `data`, decoded.
    Inline(Vec<u8>),
    /// A URL under the FHIR base: fetched with the token when the user asks (or, for text, when
    /// the entry is shown).
    Fhir(String),
    /// A URL anywhere else: named by its origin, not fetched (the token goes to the FHIR server
    /// only, and an outside fetch would tell a third party the chart was opened).
    Outside(String),
    /// `data` that is not base64.
    BadData,
    /// Neither `data` nor `url`.
    Missing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub title: String,
    /// As the server wrote it, or "unknown type".
    pub content_type: String,
    /// The `contentType` the server declared, if any.
    pub declared: Option<String>,
    pub media: Media,
    /// Bytes, from `size` or the decoded data.
    pub size: Option<u64>,
    pub source: Source,
}

impl Attachment {
    /// The `Accept` an attachment is asked for with: its declared type (Oracle Health refuses
    /// anything else but FHIR JSON, which the client adds), else anything.
    pub fn accept(&self) -> &str {
        self.declared.as_deref().unwrap_or("*/*")
    }

    /// A file name to save it under: the title's letters and digits, and the extension of its
    /// type, so that the program that opens it is found (an RTF letter, Oracle Health's
    /// `text/rtf` or `text/richtext`, opens in a word processor).
    pub fn file_name(&self) -> String {
        let stem: String = self
            .title
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string();
        let essence = self
            .content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let ext = match (self.media, essence.as_str()) {
            (Media::Pdf, _) => ".pdf",
            (Media::Image("image/png"), _) => ".png",
            (Media::Image("image/jpeg"), _) => ".jpg",
            (Media::Image("image/gif"), _) => ".gif",
            (Media::Image(_), _) => ".webp",
            (Media::Text, _) => ".txt",
            (Media::Html, _) => ".html",
            (Media::Xhtml, _) => ".xhtml",
            (_, "text/rtf" | "application/rtf" | "text/richtext") => ".rtf",
            (_, "application/msword") => ".doc",
            (_, "application/vnd.openxmlformats-officedocument.wordprocessingml.document") => {
                ".docx"
            }
            (_, "application/xml" | "text/xml") => ".xml",
            (_, "application/dicom") => ".dcm",
            _ => "",
        };
        format!(
            "{}{ext}",
            if stem.is_empty() { "attachment" } else { &stem }
        )
    }

    /// "PDF, 120 KB" — the type and size the list shows.
    pub fn describe(&self) -> String {
        let size = self.size.map(size_text);
        match (self.media, size) {
            (Media::Other, Some(s)) => format!("{}, {s}", self.content_type),
            (Media::Other, None) => self.content_type.clone(),
            (m, Some(s)) => format!("{}, {s}", m.noun()),
            (m, None) => m.noun().to_string(),
        }
    }
}

/// Bytes as people read them: "812 bytes", "14 KB", "2.1 MB".
pub fn size_text(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} bytes"),
        1_000..=999_999 => format!("{} KB", bytes.div_ceil(1024).max(1)),
        _ => format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0)),
    }
}

/// An attachment's content made ready to show.
#[derive(Clone, Debug, PartialEq)]
pub enum Shown {
    Text(String),
    /// HTML text, for the browser's parser and the allowlist (`web::sanitize_html`).
    HtmlSource(String),
    Html(Result<Narrative, NarrativeError>),
    /// Bytes for a Blob: `view` is how it can be looked at (a PDF opened in the browser's
    /// viewer, an image shown in the page); otherwise it is offered for download only, typed
    /// `application/octet-stream` so that no browser renders it in the app's origin.
    File {
        bytes: Vec<u8>,
        blob_type: &'static str,
        view: Option<View>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Pdf,
    Image,
}

/// Decodes text in a charset other than UTF-8: label, bytes → text, or `None` when the label is
/// unknown. In the browser it is `TextDecoder` (`web::decode_text`: the WHATWG Encoding
/// standard, every label a server may send, "iso-8859-1" read as windows-1252 as browsers do).
pub type Decoder<'a> = &'a dyn Fn(&str, &[u8]) -> Option<String>;

/// Turns an attachment's bytes into what is shown, by its declared type. A "PDF" that does not
/// start like one, and every type the app does not know, is only offered for download.
pub fn show(att: &Attachment, bytes: Vec<u8>, base: &FhirBase, decode: Decoder) -> Shown {
    let download = |bytes| Shown::File {
        bytes,
        blob_type: "application/octet-stream",
        view: None,
    };
    let text = |bytes: &[u8]| decode_text(&att.content_type, bytes, decode);
    match att.media {
        Media::Text => Shown::Text(text(&bytes)),
        Media::Html => Shown::HtmlSource(text(&bytes)),
        Media::Xhtml => Shown::Html(sanitize_document(&text(&bytes), base)),
        Media::Pdf if bytes.starts_with(b"%PDF-") => Shown::File {
            bytes,
            blob_type: "application/pdf",
            view: Some(View::Pdf),
        },
        Media::Image(t) => Shown::File {
            bytes,
            blob_type: t,
            view: Some(View::Image),
        },
        Media::Pdf | Media::Other => download(bytes),
    }
}

/// The `charset` parameter of a content type, lower-cased, without quotes.
pub fn charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    })
}

/// Text in its declared charset: UTF-8 (the default, and what FHIR servers send), else through
/// `decode`; bytes that do not decode become U+FFFD, nothing is dropped silently. An unknown
/// charset is read as UTF-8 the same way.
fn decode_text(content_type: &str, bytes: &[u8], decode: Decoder) -> String {
    match charset(content_type) {
        Some(label) if !matches!(label.as_str(), "utf-8" | "utf8" | "us-ascii") => {
            decode(&label, bytes).unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn attachment(a: &Value, base: &FhirBase) -> Attachment {
    let declared = a["contentType"]
        .as_str()
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string);
    let content_type = declared.clone().unwrap_or_else(|| "unknown type".into());
    let media = Media::of(&content_type);
    let (source, decoded) = match (a["data"].as_str(), a["url"].as_str()) {
        (Some(data), _) => {
            use base64::Engine;
            let clean: String = data.split_ascii_whitespace().collect();
            match base64::engine::general_purpose::STANDARD.decode(clean) {
                Ok(bytes) => {
                    let n = bytes.len() as u64;
                    (Source::Inline(bytes), Some(n))
                }
                Err(_) => (Source::BadData, None),
            }
        }
        (None, Some(url)) => match base.resolve(url) {
            Some(u) => (Source::Fhir(u), None),
            None => (Source::Outside(url.to_string()), None),
        },
        (None, None) => (Source::Missing, None),
    };
    Attachment {
        title: a["title"]
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} attachment", capitalised(media.noun()))),
        content_type,
        declared,
        media,
        size: a["size"].as_u64().or(decoded),
        source,
    }
}

/// The first letter in upper case.
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The origin of an outside URL, for "stored at …".
pub fn origin_of(url: &str) -> String {
    crate::http_url::origin_of(url).unwrap_or_else(|| "an address this app cannot read".into())
}

fn displays(r: &Value, keys: &[&str]) -> String {
    let names: Vec<String> = keys
        .iter()
        .flat_map(|k| r[*k].as_array().into_iter().flatten())
        .filter_map(|p| p["display"].as_str().map(str::to_string))
        .collect();
    if names.is_empty() {
        UNKNOWN.into()
    } else {
        names.join(", ")
    }
}

fn concepts(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(concept)
        .collect()
}

/// A status code as words ("entered-in-error" → "Entered in error"), or "—" when empty.
fn label_or_unknown(code: &str) -> String {
    if code.is_empty() {
        UNKNOWN.into()
    } else {
        code_label(code)
    }
}

fn joined_or_unknown(items: Vec<String>) -> String {
    if items.is_empty() {
        UNKNOWN.into()
    } else {
        items.join(", ")
    }
}

#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
fn narrative(r: &Value, base: &FhirBase) -> Option<NarrativeShown> {
    let div = r["text"]["div"].as_str()?;
    if r["text"]["status"] == "empty" {
        return None;
    }
    Some(match sanitize(div, base) {
        // The HTML parser reads what XML cannot (and ignores a doctype's entities); the
        // allowlist after it is the same. Only what is too large stays refused.
        Err(NarrativeError::NotXml(_) | NarrativeError::NotXhtml | NarrativeError::Dtd) => {
            NarrativeShown::Repair(div.to_string())
        }
        other => NarrativeShown::Sanitized(other),
    })
}

/// The first date given, with its local time when it has one (two notes of one day differ by
/// the hour); a date alone stays a date.
fn date_of(candidates: &[Option<&str>]) -> (String, Option<i64>) {
    let raw = candidates.iter().flatten().next().copied();
    match raw.and_then(fhir_date) {
        Some((_, ms)) if raw.is_some_and(|r| r.contains('T')) => (date_time(ms), Some(ms)),
        Some((text, ms)) => (text, Some(ms)),
        None => (raw.unwrap_or(UNKNOWN).to_string(), None),
    }
}

/// The id of an Observation a reference points to (relative, or absolute under the base).
fn observation_id(reference: &str, base: &FhirBase) -> Option<String> {
    let url = base.resolve(reference)?;
    let rest = url.strip_prefix(base.as_str())?.trim_start_matches('/');
    let id = rest.strip_prefix("Observation/")?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

/// A DiagnosticReport as an entry.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn report(r: &Value, base: &FhirBase) -> Entry {
    let (date, date_ms) = date_of(&[
        r["effectiveDateTime"].as_str(),
        r["effectivePeriod"]["start"].as_str(),
        r["issued"].as_str(),
    ]);
    let status = r["status"].as_str().unwrap_or("");
    let mut summary: Vec<String> = r["conclusion"]
        .as_str()
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string)
        .into_iter()
        .collect();
    summary.extend(concepts(&r["conclusionCode"]));
    Entry {
        kind: Kind::Report,
        id: id(r),
        title: concept(&r["code"]).unwrap_or_else(|| "(untitled report)".into()),
        category: joined_or_unknown(concepts(&r["category"])),
        date,
        date_ms,
        status: label_or_unknown(status),
        ended: matches!(status, "entered-in-error" | "cancelled"),
        authors: displays(r, &["performer", "resultsInterpreter"]),
        summary: (!summary.is_empty()).then(|| summary.join("; ")),
        results: r["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                let reference = x["reference"].as_str();
                ResultRef {
                    observation_id: reference.and_then(|s| observation_id(s, base)),
                    display: x["display"].as_str().map(str::to_string),
                    reference: reference.map(str::to_string),
                }
            })
            .collect(),
        attachments: r["presentedForm"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| attachment(a, base))
            .collect(),
        narrative: narrative(r, base),
    }
}

/// A DocumentReference as an entry.
#[allow(
    clippy::indexing_slicing,
    reason = "reads of a serde_json::Value: a missing key reads as Null, never a panic"
)]
pub fn document(r: &Value, base: &FhirBase) -> Entry {
    let (date, date_ms) = date_of(&[r["date"].as_str(), r["context"]["period"]["start"].as_str()]);
    let status = r["status"].as_str().unwrap_or("");
    // The document's own state (preliminary, final, amended) says more than the reference's.
    let shown_status = r["docStatus"].as_str().unwrap_or(status);
    let mut authors: Vec<String> = r["author"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["display"].as_str().map(str::to_string))
        .collect();
    if let Some(a) = r["authenticator"]["display"].as_str() {
        authors.push(format!("{a} (authenticated)"));
    }
    let description = r["description"]
        .as_str()
        .filter(|d| !d.trim().is_empty())
        .map(str::to_string);
    let kind = concept(&r["type"]);
    // Said once: the description is the title when the type is missing, else the summary.
    let (title, summary) = match kind {
        Some(k) => (k, description),
        None => (
            description.unwrap_or_else(|| "(untitled document)".into()),
            None,
        ),
    };
    Entry {
        kind: Kind::Note,
        id: id(r),
        title,
        category: joined_or_unknown(concepts(&r["category"])),
        date,
        date_ms,
        status: label_or_unknown(shown_status),
        ended: matches!(status, "entered-in-error" | "superseded"),
        authors: joined_or_unknown(authors),
        summary,
        results: Vec::new(),
        attachments: r["content"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| attachment(&c["attachment"], base))
            .collect(),
        narrative: narrative(r, base),
    }
}

/// Reports and documents as one list, newest first (undated last).
#[derive(Default)]
pub struct EntriesBuilder {
    entries: Vec<Entry>,
}

impl EntriesBuilder {
    pub fn add_reports(&mut self, resources: &[Value], base: &FhirBase) {
        self.entries
            .extend(resources.iter().map(|r| report(r, base)));
    }

    pub fn add_documents(&mut self, resources: &[Value], base: &FhirBase) {
        self.entries
            .extend(resources.iter().map(|r| document(r, base)));
    }

    pub fn finish(self) -> Vec<Entry> {
        let mut entries = self.entries;
        sort_by_key(&mut entries, |e| std::cmp::Reverse(e.date_ms));
        entries
    }
}

#[cfg(test)]
#[path = "documents_tests.rs"]
mod tests;
