//! HTML attachments (`text/html` from EHRs, most often not XML) parsed by the browser's HTML
//! parser into an inert document (no browsing context: no script runs, nothing is fetched) and
//! rebuilt by the same allowlist as narratives (`fhir::narrative::walk`).
//!
//! Why the parsing happens in a frame: Chromium checks the Content-Security-Policy when the
//! parser *creates* an inline event handler or applies a `style` attribute, even in a document
//! that can never run it (`DOMParser`, `Document.parseHTMLUnsafe`, a `<template>`, an XHR
//! document all do). Parsed with this page's `DOMParser`, every note with an `onclick` logged a
//! violation of launch.html's policy (and would send a report to a report endpoint) on every
//! chart load: noise that hides real errors. The check uses the policy of the realm whose
//! `DOMParser` made the document, so the app parses with the `DOMParser` of a hidden same-origin
//! frame, `html-parser.html`, served with a policy of its own that allows inline attributes
//! and styles (and nothing else: no script, no fetch). What it parses still has no browsing
//! context; nothing parsed there enters a live page (the allowlist builds new nodes). A host
//! that serves that file with launch.html's policy only brings the console messages back; a
//! frame that cannot be had (blocked, missing, slow) leaves the parsing to this page's own
//! `DOMParser`, as before.

use std::cell::RefCell;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::{describe, sleep, Dom};
use crate::fhir::narrative::{walk, Narrative, NarrativeError, MAX_BYTES, XHTML};
use crate::fhir::FhirBase;

/// The parser frame's document, beside launch.html (copied from `public/`).
pub const PARSER_FRAME: &str = "html-parser.html";

/// How long the frame may take to load before this page parses by itself.
const FRAME_WAIT_MS: i32 = 5_000;

type ParserCtor = Shared<LocalBoxFuture<'static, Option<JsValue>>>;

thread_local! {
    /// The frame's `DOMParser` constructor, loaded once for every attachment.
    static FRAME_PARSER: RefCell<Option<ParserCtor>> = const { RefCell::new(None) };
}

/// The frame's `DOMParser` constructor, once the frame has loaded; `None` when it cannot be had.
async fn frame_parser() -> Option<JsValue> {
    let ctor = FRAME_PARSER.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| load_frame().boxed_local().shared())
            .clone()
    });
    ctor.await
}

async fn load_frame() -> Option<JsValue> {
    let doc = web_sys::window()?.document()?;
    let frame: web_sys::HtmlIFrameElement = doc.create_element("iframe").ok()?.dyn_into().ok()?;
    frame.set_src(PARSER_FRAME);
    frame.set_title("HTML parser (not shown)");
    frame.set_hidden(true);
    let _ = frame.set_attribute("aria-hidden", "true");
    let _ = frame.set_attribute("tabindex", "-1");
    let loaded = js_sys::Promise::new(&mut |resolve, _reject| frame.set_onload(Some(&resolve)));
    doc.body()?.append_child(&frame).ok()?;
    let load = std::pin::pin!(JsFuture::from(loaded));
    let give_up = std::pin::pin!(sleep(FRAME_WAIT_MS));
    if let futures::future::Either::Right(_) = futures::future::select(load, give_up).await {
        return None;
    }
    // A frame the host's policy blocked shows an error page of another origin: reading its
    // window fails, and this page parses by itself.
    let window = frame.content_window()?;
    js_sys::Reflect::get(&window, &"DOMParser".into())
        .ok()
        .filter(JsValue::is_function)
}

/// Parses `text` as HTML and keeps what the narrative allowlist admits; its `body` is shown.
pub async fn sanitize_html(text: &str, base: &FhirBase) -> Result<Narrative, NarrativeError> {
    if text.len() > MAX_BYTES {
        return Err(NarrativeError::TooLarge(text.len().div_ceil(1024)));
    }
    let unreadable = |e: JsValue| NarrativeError::Unreadable(describe(&e));
    let parser: web_sys::DomParser = match frame_parser().await {
        Some(ctor) => js_sys::Reflect::construct(
            ctor.unchecked_ref::<js_sys::Function>(),
            &js_sys::Array::new(),
        )
        .map_err(unreadable)?
        .unchecked_into(),
        None => web_sys::DomParser::new().map_err(unreadable)?,
    };
    let doc = parser
        .parse_from_string(text, web_sys::SupportedType::TextHtml)
        .map_err(unreadable)?;
    let body = doc
        .body()
        .ok_or_else(|| NarrativeError::Unreadable("no body".into()))?;
    Ok(walk(&Dom(body.into()), Some(XHTML), base))
}
