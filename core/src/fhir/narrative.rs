//! FHIR narratives (`text.div`, XHTML; FHIR R4 §2.4 "Narrative") made safe to show. The text is
//! parsed as XML by a maintained parser (roxmltree: no DTD, so no entity declarations and no
//! expansion attacks), then rebuilt from an allowlist into plain data ([`Node`]) that the UI turns
//! into DOM nodes itself — never `inner_html`, never a serialise-and-parse-again round trip.
//!
//! What is kept: the elements narratives use (paragraphs, spans, emphasis, line breaks, tables,
//! lists, headings, code, quotes); `a` with an `https:` URL or one under the FHIR base (opened
//! in a new tab without referrer); `img` with a `data:` raster image, or a Binary under the FHIR
//! base that the UI fetches with the token (the same rule as every other request); `title`,
//! `lang`, `dir`, table spans and a few layout-only `style` properties. Everything else goes:
//! `script`, `style`, `svg`, `math`, `iframe`, `object`, `embed`, `form`, `base`, `meta`, `link`,
//! `template` and the like with their content; elements of any other namespace with theirs;
//! unknown XHTML elements keep only their content; every other attribute (`on*`, `id`, `name`,
//! `class`, …). Size and depth are capped ([`MAX_BYTES`], [`MAX_DEPTH`]) with a notice.

use crate::fhir::FhirBase;
use crate::http_url::HttpUrl;

pub const XHTML: &str = "http://www.w3.org/1999/xhtml";

/// Narratives larger than this are not rendered (a notice says so).
pub const MAX_BYTES: usize = 256 * 1024;
/// Elements nested deeper than this are left out (a notice says so).
pub const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Text(String),
    Element {
        tag: &'static str,
        attrs: Vec<(&'static str, String)>,
        children: Vec<Node>,
    },
    /// A Binary under the FHIR base, to be fetched with the token and shown from a Blob URL.
    FhirImage {
        url: String,
        alt: String,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Narrative {
    pub nodes: Vec<Node>,
    /// Elements (with their content) or attributes that were left out: formatting or content
    /// the app does not show, so the reader knows the narrative is not whole.
    pub removed: usize,
    /// Parts nested deeper than [`MAX_DEPTH`] were left out.
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NarrativeError {
    #[error("it is {0} KB, more than this app shows ({max} KB)", max = MAX_BYTES / 1024)]
    TooLarge(usize),
    #[error("it declares a document type or entities, which this app does not read")]
    Dtd,
    #[error("it is not well-formed XHTML ({0})")]
    NotXml(String),
    #[error("it is not XHTML (its root is not an XHTML element this app shows)")]
    NotXhtml,
    #[error("the browser could not read it ({0})")]
    Unreadable(String),
}

/// Elements dropped together with everything inside them.
const DROP_WITH_CONTENT: &[&str] = &[
    "script", "style", "svg", "math", "iframe", "frame", "frameset", "object", "embed", "applet",
    "form", "input", "button", "select", "textarea", "option", "base", "meta", "link", "template",
    "noscript", "audio", "video", "source", "track", "canvas", "head", "title", "portal",
];

/// The elements kept (with their allowed attributes); every other element is left out, with or
/// without its content ([`DROP_WITH_CONTENT`]).
pub const ALLOWED_ELEMENTS: &[&str] = &[
    "div",
    "p",
    "span",
    "br",
    "hr",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "small",
    "big",
    "sub",
    "sup",
    "code",
    "pre",
    "kbd",
    "samp",
    "var",
    "q",
    "cite",
    "blockquote",
    "abbr",
    "dfn",
    "ins",
    "del",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "caption",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "colgroup",
    "col",
    "a",
    "img",
];

/// Elements kept (the name is returned as a `'static` str for the UI).
fn allowed(tag: &str) -> Option<&'static str> {
    ALLOWED_ELEMENTS.iter().find(|k| **k == tag).copied()
}

/// `style` properties that only lay text out: no colours (white on white hides text), no
/// positions, no `url()`.
const STYLE_PROPERTIES: &[&str] = &[
    "text-align",
    "font-weight",
    "font-style",
    "text-decoration",
    "vertical-align",
    "white-space",
    "text-indent",
];

/// The kept part of a `style` attribute, or `None` when nothing is kept.
fn style(value: &str) -> Option<String> {
    let kept: Vec<String> = value
        .split(';')
        .filter_map(|decl| {
            let (prop, val) = decl.split_once(':')?;
            let prop = prop.trim().to_ascii_lowercase();
            let val = val.trim();
            // Plain words, numbers and units only: no url(), expression(), escapes or comments.
            let plain = !val.is_empty()
                && val
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '.' | '%'));
            (STYLE_PROPERTIES.contains(&prop.as_str()) && plain).then(|| format!("{prop}: {val}"))
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// The declarations of a kept `style` (as [`style`] writes it): what the browser layer sets one
/// by one through the CSSOM. A `style` attribute set as text is inline style, which the app
/// host's Content-Security-Policy (`style-src 'self'`) blocks and reports; CSSOM changes are
/// not inline style.
pub fn style_declarations(kept: &str) -> impl Iterator<Item = (&str, &str)> {
    kept.split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(p, v)| (p.trim(), v.trim()))
}

/// A whole number in `1..=max`, as written.
fn small_number(value: &str, max: u32) -> Option<String> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .map(|n| n.to_string())
}

/// Where a link may go: an `https:` URL, or one under the FHIR base (a relative reference is
/// resolved against it). The strict URL layer refuses other schemes, whitespace and control
/// characters, so `java\tscript:` or ` javascript:` never pass.
fn link(href: &str, base: &FhirBase) -> Option<String> {
    if let Ok(u) = HttpUrl::parse(href) {
        if u.scheme() == "https" || base.checked(u.as_str()).is_some() {
            return Some(u.to_string());
        }
        return None;
    }
    if href.contains(':') && !href.starts_with('/') {
        // Another scheme (javascript:, data:, vbscript:, mailto:, …) or something unparsable.
        return None;
    }
    base.resolve(href)
}

/// A `data:` URL of a raster image (not SVG, which can carry script).
fn data_image(src: &str) -> bool {
    let lower = src.get(..30).unwrap_or(src).to_ascii_lowercase();
    ["png", "jpeg", "jpg", "gif", "webp"]
        .iter()
        .any(|t| lower.starts_with(&format!("data:image/{t};base64,")))
        && src.bytes().all(|b| b.is_ascii_graphic())
}

/// What the allowlist needs of a parsed tree, whoever parsed it: roxmltree (XHTML, natively
/// tested) or, in the browser, the DOM of an inert `DOMParser` document (HTML attachments that
/// are not XML; `web::sanitize_html`). The decisions stay in this module either way.
pub trait Markup: Sized {
    /// What the node is.
    fn kind(&self) -> MarkupKind;
    /// A text node's text.
    fn text(&self) -> Option<String>;
    /// An element's local name and namespace.
    fn name(&self) -> (String, Option<String>);
    /// An element's attributes: local name, namespace, value.
    fn attributes(&self) -> Vec<(String, Option<String>, String)>;
    fn children(&self) -> Vec<Self>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkupKind {
    Text,
    Element,
    /// Comments, processing instructions, doctypes: never content.
    Other,
}

impl Markup for roxmltree::Node<'_, '_> {
    fn kind(&self) -> MarkupKind {
        if self.is_text() {
            MarkupKind::Text
        } else if self.is_element() {
            MarkupKind::Element
        } else {
            MarkupKind::Other
        }
    }

    fn text(&self) -> Option<String> {
        roxmltree::Node::text(self).map(str::to_string)
    }

    fn name(&self) -> (String, Option<String>) {
        let t = self.tag_name();
        (t.name().to_string(), t.namespace().map(str::to_string))
    }

    fn attributes(&self) -> Vec<(String, Option<String>, String)> {
        roxmltree::Node::attributes(self)
            .map(|a| {
                (
                    a.name().to_string(),
                    a.namespace().map(str::to_string),
                    a.value().to_string(),
                )
            })
            .collect()
    }

    fn children(&self) -> Vec<Self> {
        roxmltree::Node::children(self).collect()
    }
}

struct Walk<'b> {
    base: &'b FhirBase,
    /// The namespace HTML elements are in: XHTML, or none for an HTML document written without
    /// `xmlns` (an attachment); elements of any other namespace are dropped either way.
    html_ns: Option<&'static str>,
    removed: usize,
    truncated: bool,
}

impl Walk<'_> {
    fn children<M: Markup>(&mut self, node: &M, depth: usize) -> Vec<Node> {
        let mut out = Vec::new();
        for child in node.children() {
            self.node(&child, depth, &mut out);
        }
        // Text on either side of an element left out (its content kept) reads as one run: one
        // text node, as the same markup without that element gives, so that sanitizing what
        // came out changes nothing.
        let mut merged: Vec<Node> = Vec::with_capacity(out.len());
        for n in out {
            match (merged.last_mut(), n) {
                (Some(Node::Text(run)), Node::Text(t)) => run.push_str(&t),
                (_, n) => merged.push(n),
            }
        }
        merged
    }

    fn node<M: Markup>(&mut self, n: &M, depth: usize, out: &mut Vec<Node>) {
        match n.kind() {
            MarkupKind::Text => {
                if let Some(t) = n.text() {
                    out.push(Node::Text(t));
                }
                return;
            }
            // Comments and processing instructions are not content.
            MarkupKind::Other => return,
            MarkupKind::Element => {}
        }
        if depth >= MAX_DEPTH {
            self.truncated = true;
            return;
        }
        let (name, namespace) = n.name();
        let name = name.to_ascii_lowercase();
        if namespace.as_deref() != self.html_ns || DROP_WITH_CONTENT.contains(&name.as_str()) {
            self.removed += 1;
            return;
        }
        let Some(tag) = allowed(&name) else {
            // An element the app does not know: its content stays, the element goes.
            self.removed += 1;
            let kids = self.children(n, depth + 1);
            out.extend(kids);
            return;
        };
        let mut attrs: Vec<(&'static str, String)> = Vec::new();
        let mut href = None;
        let mut src = None;
        for (an, ans, v) in n.attributes() {
            let an = an.to_ascii_lowercase();
            let v = v.as_str();
            let xml_ns = ans.as_deref() == Some("http://www.w3.org/XML/1998/namespace");
            let kept = match (tag, an.as_str()) {
                _ if ans.is_some() && !xml_ns => None,
                (_, "lang") => Some(("lang", v.to_string())),
                (_, "title") => Some(("title", v.to_string())),
                (_, "dir") if matches!(v, "ltr" | "rtl" | "auto") => Some(("dir", v.to_string())),
                (_, "style") => style(v).map(|s| ("style", s)),
                ("td" | "th", "colspan") => small_number(v, 1000).map(|s| ("colspan", s)),
                ("td" | "th", "rowspan") => small_number(v, 65_534).map(|s| ("rowspan", s)),
                ("th", "scope") if matches!(v, "row" | "col" | "rowgroup" | "colgroup") => {
                    Some(("scope", v.to_string()))
                }
                ("col" | "colgroup", "span") => small_number(v, 1000).map(|s| ("span", s)),
                ("ol", "start") => small_number(v, 1_000_000).map(|s| ("start", s)),
                ("img", "alt") => Some(("alt", v.to_string())),
                ("img", "width" | "height") => small_number(v, 4000)
                    .map(|s| (if an == "width" { "width" } else { "height" }, s)),
                ("a", "href") => {
                    href = Some(v.to_string());
                    continue;
                }
                ("img", "src") => {
                    src = Some(v.to_string());
                    continue;
                }
                _ => None,
            };
            match kept {
                Some(kv) => attrs.push(kv),
                None => self.removed += 1,
            }
        }
        let children = self.children(n, depth + 1);
        match tag {
            "a" => match href.as_deref().and_then(|h| link(h, self.base)) {
                Some(url) => {
                    attrs.push(("href", url));
                    attrs.push(("rel", "noopener noreferrer".into()));
                    attrs.push(("referrerpolicy", "no-referrer".into()));
                    attrs.push(("target", "_blank".into()));
                    out.push(Node::Element {
                        tag,
                        attrs,
                        children,
                    });
                }
                None => {
                    // A link that may not be followed keeps its text, not its target.
                    if href.is_some() {
                        self.removed += 1;
                    }
                    out.push(Node::Element {
                        tag: "span",
                        attrs,
                        children,
                    });
                }
            },
            "img" => {
                let alt = attrs
                    .iter()
                    .find(|(k, _)| *k == "alt")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                match src.as_deref() {
                    Some(s) if data_image(s) => {
                        attrs.push(("src", s.to_string()));
                        out.push(Node::Element {
                            tag,
                            attrs,
                            children: Vec::new(),
                        });
                    }
                    Some(s) => match self.base.resolve(s) {
                        // Only a Binary of this server: fetched with the token, shown as a blob.
                        Some(url) if url.contains("/Binary/") => {
                            out.push(Node::FhirImage { url, alt })
                        }
                        // Anywhere else (a tracking pixel): not fetched; the alt text stays.
                        _ => {
                            self.removed += 1;
                            if !alt.is_empty() {
                                out.push(Node::Text(format!("[image: {alt}]")));
                            }
                        }
                    },
                    None => self.removed += 1,
                }
            }
            _ => out.push(Node::Element {
                tag,
                attrs,
                children,
            }),
        }
    }
}

/// The narrative `xhtml` (a FHIR `text.div`) as safe nodes; relative links and images resolve
/// against `base`.
pub fn sanitize(xhtml: &str, base: &FhirBase) -> Result<Narrative, NarrativeError> {
    let doc = parse(xhtml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "div" || root.tag_name().namespace() != Some(XHTML) {
        return Err(NarrativeError::NotXhtml);
    }
    Ok(walk(&root, Some(XHTML), base))
}

/// An attachment's document (`text/html` or `application/xhtml+xml`) as safe nodes, by the
/// same allowlist as narratives. The document must be well-formed XML: an `html` root (its
/// `body` is shown) or any element, in the XHTML namespace or none. Two things HTML authors
/// write that XML refuses are let through before parsing: a plain `<!DOCTYPE html>` (no
/// internal subset, so no entity can be declared) and `&nbsp;` (written as its number).
/// Markup that is not XML (unclosed `<br>`, bare `&`) is refused with a clear error; the
/// caller offers the file for download instead.
pub fn sanitize_document(text: &str, base: &FhirBase) -> Result<Narrative, NarrativeError> {
    let mut body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with("<?xml") {
        if let Some(end) = body.find("?>") {
            body = body.get(end + 2..).unwrap_or_default().trim_start();
        }
    }
    // By `get`: a body may start with a character that byte 9 cuts through.
    if body
        .get(..9)
        .is_some_and(|start| start.eq_ignore_ascii_case("<!doctype"))
    {
        let end = body.find('>').ok_or(NarrativeError::Dtd)?;
        if body.get(..end).unwrap_or_default().contains('[') {
            return Err(NarrativeError::Dtd);
        }
        body = body.get(end + 1..).unwrap_or_default();
    }
    let text = body.replace("&nbsp;", "&#160;");
    let doc = parse(&text)?;
    let root = doc.root_element();
    let ns = match root.tag_name().namespace() {
        None => None,
        Some(XHTML) => Some(XHTML),
        Some(_) => return Err(NarrativeError::NotXhtml),
    };
    let shown = if root.tag_name().name().eq_ignore_ascii_case("html") {
        root.children()
            .find(|c| c.is_element() && c.tag_name().name().eq_ignore_ascii_case("body"))
            .ok_or(NarrativeError::NotXhtml)?
    } else {
        root
    };
    if shown == root && DROP_WITH_CONTENT.contains(&root.tag_name().name()) {
        return Err(NarrativeError::NotXhtml);
    }
    Ok(walk(&shown, ns, base))
}

fn parse(text: &str) -> Result<roxmltree::Document<'_>, NarrativeError> {
    if text.len() > MAX_BYTES {
        return Err(NarrativeError::TooLarge(text.len().div_ceil(1024)));
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => NarrativeError::Dtd,
        other => NarrativeError::NotXml(other.to_string()),
    })
}

/// The children of `root` through the allowlist: elements in `html_ns` are HTML; any other
/// namespace is dropped with its content.
pub fn walk<M: Markup>(root: &M, html_ns: Option<&'static str>, base: &FhirBase) -> Narrative {
    let mut walk = Walk {
        base,
        html_ns,
        removed: 0,
        truncated: false,
    };
    let nodes = walk.children(root, 1);
    Narrative {
        nodes,
        removed: walk.removed,
        truncated: walk.truncated,
    }
}

#[cfg(test)]
#[path = "narrative_tests.rs"]
mod tests;
