//! Notes & reports: reports and documents newest first, each with its conclusion, the results it
//! refers to (from the labs loaded), its attachments and its narrative. Markup from the server
//! reaches the page only through the sanitizer and `web::narrative_dom`; files fetched with the
//! token are shown from Blob URLs that are revoked when their view goes.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::section::{status, Section, SectionSignal};
use crate::chart::documents::{
    capitalised, origin_of, show, size_text, Attachment, EntriesBuilder, Entry, Kind, Media,
    NarrativeShown, Shown, Source, View,
};
use crate::chart::labs::Labs;
use crate::fhir::narrative::{Narrative, NarrativeError};
use crate::fhir::{FhirBase, FhirClient};
use crate::web::{self, Browser};

/// Entries shown at first; "Show more" adds more.
const WINDOW: usize = 20;

#[component]
pub fn Notes(
    reports: SectionSignal<Vec<Value>>,
    documents: SectionSignal<Vec<Value>>,
    labs: SectionSignal<Labs>,
    /// A note or report to bring into view once it is listed (what the launch came from).
    open_on: RwSignal<Option<(Kind, String)>>,
) -> impl IntoView {
    let client = expect_context::<super::chart::ChartState>().client();
    let shown = RwSignal::new(WINDOW);
    let base = client.base().clone();
    let client = StoredValue::new_local(client);
    // One list of both kinds, newest first, from whichever searches have finished (a search
    // still running or failed says so above the list), each entry under a key of its own: when
    // the other search lands, or "Show more" is pressed, the entries on screen stay as they are
    // (their narratives are not built, nor their images fetched, again).
    let entries = Memo::new(move |_| {
        let mut seen = std::collections::HashMap::<String, usize>::new();
        listed(reports, documents, &base)
            .into_iter()
            .map(|e| {
                let key = format!("{:?}/{}", e.kind, e.id);
                let n = seen.entry(key.clone()).or_default();
                *n += 1;
                (format!("{key}/{n}"), e)
            })
            .collect::<Vec<_>>()
    });
    let settled = move || {
        reports.with(|r| !matches!(r, Section::Loading { .. }))
            && documents.with(|d| !matches!(d, Section::Loading { .. }))
    };
    Effect::new(move || {
        let Some((kind, id)) = open_on.get() else {
            return;
        };
        let found = entries.with(|es| {
            es.iter()
                .enumerate()
                .find(|(_, (_, e))| e.kind == kind && e.id == id)
                .map(|(i, (key, _))| (i, key.clone()))
        });
        let Some((i, key)) = found else {
            return;
        };
        if shown.get_untracked() <= i {
            shown.set(i + 1);
        }
        open_on.set(None);
        let target = entry_element_id(&key);
        spawn_local(async move {
            web::sleep(0).await;
            web::reveal(&target);
        });
    });
    view! {
        <section class="card" aria-labelledby="notes-title">
            <h2 id="notes-title">"Notes and reports"</h2>
            {move || reports.with(|s| status(s, "reports", "reports"))}
            {move || documents.with(|s| status(s, "notes", "documents"))}
            {move || (settled() && entries.with(Vec::is_empty)).then(|| view! {
                <p class="empty" id="notes-empty">"No notes or reports recorded."</p>
            })}
            <div class="notes" id="notes">
                <For
                    each=move || entries.get().into_iter().take(shown.get())
                    key=|(key, _)| key.clone()
                    children=move |(key, e)| view! { <EntryCard entry=e key=key labs=labs client=client.get_value()/> }
                />
            </div>
            {move || {
                let total = entries.with(Vec::len);
                (total > shown.get()).then(|| view! {
                    <button class="more" on:click=move |_| shown.update(|n| *n += WINDOW * 5)>
                        {format!("Show more ({total} in all)")}
                    </button>
                })
            }}
        </section>
    }
}

/// Reports and documents in one list, newest first, from whichever searches have finished.
pub fn listed(
    reports: SectionSignal<Vec<Value>>,
    documents: SectionSignal<Vec<Value>>,
    base: &FhirBase,
) -> Vec<Entry> {
    let mut b = EntriesBuilder::default();
    reports.with(|r| {
        if let Section::Ready(v) = r {
            b.add_reports(v, base)
        }
    });
    documents.with(|d| {
        if let Section::Ready(v) = d {
            b.add_documents(v, base)
        }
    });
    b.finish()
}

#[component]
fn EntryCard(
    entry: Entry,
    /// Unique in the list: the heading's id comes from it.
    key: String,
    labs: SectionSignal<Labs>,
    client: FhirClient<Browser>,
) -> impl IntoView {
    let Entry {
        kind,
        id,
        title,
        category,
        date,
        status,
        ended,
        authors,
        summary,
        results,
        attachments,
        narrative,
        ..
    } = entry;
    let (what, summary_label) = match kind {
        Kind::Report => ("Report", "Conclusion: "),
        Kind::Note => ("Note", "Description: "),
    };
    let meta = [what.to_string(), category, status, authors]
        .into_iter()
        .filter(|s| s != crate::chart::records::UNKNOWN)
        .collect::<Vec<_>>()
        .join(" · ");
    // With nothing else to read, the narrative is the entry: shown open.
    let narrative_open = summary.is_none() && attachments.is_empty() && results.is_empty();
    let heading = format!("note-{}", sanitize_id(&key));
    let entry_title = title.clone();
    let labelled_by = heading.clone();
    view! {
        <article class="note" class:inactive=ended id=entry_element_id(&key) data-id=id aria-labelledby=labelled_by>
            <h3 id=heading>
                {title}" "<span class="date note-date">{date}</span>
            </h3>
            <p class="muted note-meta">{meta}</p>
            {summary.map(|s| view! { <p class="note-summary"><strong>{summary_label}</strong>{s}</p> })}
            {(!results.is_empty()).then(|| view! {
                <div class="note-results">
                    <h4>"Results"</h4>
                    <ul>{results.into_iter().map(|r| view! {
                        <li>{move || labs.with(|l| {
                            let (text, date) = result_line(l, &r);
                            view! { {text}{date.map(|d| view! { " "<span class="date">{format!("({d})")}</span> })} }
                        })}</li>
                    }).collect_view()}</ul>
                </div>
            })}
            {attachments.into_iter().map(|a| {
                // Said once: an attachment titled like its entry is named by its type alone.
                let named = a.title != entry_title;
                view! { <AttachmentView att=a named=named client=client.clone()/> }
            }).collect_view()}
            {narrative.map(|n| view! { <NarrativeView narrative=n client=client.clone() open=narrative_open/> })}
        </article>
    }
}

/// The element id of the entry listed under `key`.
fn entry_element_id(key: &str) -> String {
    format!("entry-{}", sanitize_id(key))
}

/// A list key (`Report/{id}/{n}`; FHIR ids are letters, digits, `-` and `.`) as an element id
/// fragment: `/` becomes `_`, anything else outside letters, digits, `-` and `.` becomes `~`.
fn sanitize_id(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '/' => '_',
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => c,
            _ => '~',
        })
        .collect()
}

/// One result of a report: the lab as loaded (value, flag as words; and its date, kept on one
/// line), else the reference's own words.
fn result_line(
    labs: &Section<Labs>,
    r: &crate::chart::documents::ResultRef,
) -> (String, Option<String>) {
    let loaded = match (labs, &r.observation_id) {
        (Section::Ready(l), Some(id)) => l.by_id.get(id),
        _ => None,
    };
    match loaded {
        Some(lab) => {
            let flag = lab
                .flag
                .filter(|f| f.is_abnormal())
                .map(|f| format!(" {}", f.text()))
                .unwrap_or_default();
            (
                format!("{}: {}{flag}", lab.name, lab.value),
                Some(lab.date.clone()),
            )
        }
        None => {
            let name = r
                .display
                .clone()
                .or_else(|| r.reference.clone())
                .unwrap_or_else(|| "(unnamed result)".into());
            let text = match labs {
                Section::Loading { .. } => format!("{name} (labs loading…)"),
                _ => format!("{name} (not among the lab results loaded)"),
            };
            (text, None)
        }
    }
}

#[derive(Clone)]
enum Fetch {
    Idle,
    Loading,
    Done(Shown),
    Failed(String),
}

#[component]
fn AttachmentView(att: Attachment, named: bool, client: FhirClient<Browser>) -> impl IntoView {
    let header = view! {
        <p class="attachment-title">
            {named.then(|| view! { <strong>{att.title.clone()}</strong>" " })}
            <span class="muted">{if named { format!("({})", att.describe()) } else { capitalised(&att.describe()) }}</span>
        </p>
    };
    let body = match att.source.clone() {
        Source::Inline(bytes) => {
            let shown = show(&att, bytes, client.base(), &web::decode_text);
            view! { <ShownView shown=shown att=att.clone() client=client.clone()/> }.into_any()
        }
        Source::Fhir(url) => {
            let state = RwSignal::new_local(Fetch::Idle);
            let a = StoredValue::new_local(att.clone());
            let c = StoredValue::new_local(client.clone());
            let get = move |_| {
                state.set(Fetch::Loading);
                let (a, c, url) = (a.get_value(), c.get_value(), url.clone());
                spawn_local(async move {
                    match c.get_bytes(&url, a.accept()).await {
                        Ok(f) => state.set(Fetch::Done(show(&a, f.bytes, c.base(), &web::decode_text))),
                        Err(e) => state.set(Fetch::Failed(format!(
                            "The attachment could not be fetched: {e}. Try again, or open it in the EHR."
                        ))),
                    }
                });
            };
            let label = format!("Get {} ({})", att.media.noun(), att.describe());
            view! {
                {move || match state.get() {
                    Fetch::Idle => view! { <button class="get-attachment" on:click=get.clone()>{label.clone()}</button> }.into_any(),
                    Fetch::Loading => view! { <p class="status" role="status">"Fetching the attachment…"</p> }.into_any(),
                    Fetch::Done(shown) => view! { <ShownView shown=shown att=a.get_value() client=c.get_value()/> }.into_any(),
                    Fetch::Failed(msg) => view! {
                        <p class="error">{msg}</p>
                        <button class="get-attachment" on:click=get.clone()>"Try again"</button>
                    }.into_any(),
                }}
            }
            .into_any()
        }
        Source::Outside(url) => view! {
            <p class="muted attachment-outside">{format!(
                "Stored at {}, outside this EHR's FHIR server: not fetched by this app. Open it in the EHR.",
                origin_of(&url)
            )}</p>
        }
        .into_any(),
        Source::BadData => view! { <p class="error">"The attachment's content is damaged (its data is not base64) and cannot be shown. Open it in the EHR."</p> }.into_any(),
        Source::Missing => view! { <p class="muted">"The attachment has no content."</p> }.into_any(),
    };
    view! { <div class="attachment">{header}{body}</div> }
}

#[component]
fn ShownView(shown: Shown, att: Attachment, client: FhirClient<Browser>) -> impl IntoView {
    match shown {
        Shown::Text(t) => view! { <pre class="note-text">{t}</pre> }.into_any(),
        Shown::Html(result) => view! { <NarrativeBody result=result client=client/> }.into_any(),
        Shown::HtmlSource(text) => view! { <HtmlSourceView text=text client=client/> }.into_any(),
        Shown::File {
            bytes,
            blob_type,
            view: how,
        } => view! { <FileLinks bytes=bytes blob_type=blob_type how=how att=att/> }.into_any(),
    }
}

/// An HTML attachment, shown once the browser has parsed it (`web::sanitize_html`: in the
/// parser frame, which loads with the first one).
#[component]
fn HtmlSourceView(text: String, client: FhirClient<Browser>) -> impl IntoView {
    let parsed = LocalResource::new({
        let (text, base) = (text, client.base().clone());
        move || {
            let (text, base) = (text.clone(), base.clone());
            async move { web::sanitize_html(&text, &base).await }
        }
    });
    let client = StoredValue::new_local(client);
    view! {
        {move || match parsed.get() {
            Some(result) => view! { <NarrativeBody result=result client=client.get_value()/> }.into_any(),
            None => view! { <p class="status">"Preparing the attachment…"</p> }.into_any(),
        }}
    }
}

/// A file fetched or decoded: shown (an image), opened in the browser's viewer (a PDF) or
/// saved, from a Blob URL revoked when this view goes.
#[component]
fn FileLinks(
    bytes: Vec<u8>,
    blob_type: &'static str,
    how: Option<View>,
    att: Attachment,
) -> impl IntoView {
    let url = match web::blob_url(&bytes, blob_type) {
        Ok(u) => u,
        Err(e) => {
            return view! { <p class="error">{format!("The browser could not hold the file: {e}. Open it in the EHR.")}</p> }.into_any();
        }
    };
    {
        let url = url.clone();
        on_cleanup(move || web::revoke_blob_url(&url));
    }
    let name = att.file_name();
    let size = size_text(bytes.len() as u64);
    let download = view! { <a class="button-link download" href=url.clone() download=name>{format!("Download ({size})")}</a> };
    match how {
        Some(View::Image) => view! {
            <img class="attachment-image" src=url.clone() alt=att.title.clone()/>
            <p>{download}</p>
        }
        .into_any(),
        Some(View::Pdf) => view! {
            <p class="file-links">
                <a class="button-link open-pdf" href=url.clone() target="_blank" rel="noopener noreferrer">"Open PDF"</a>
                " "{download}
            </p>
        }
        .into_any(),
        None => view! {
            <p class="muted">"This app does not display this kind of file; it can be saved and opened with another program."</p>
            <p>{download}</p>
        }
        .into_any(),
    }
}

#[component]
fn NarrativeView(
    narrative: NarrativeShown,
    client: FhirClient<Browser>,
    open: bool,
) -> impl IntoView {
    let body = match narrative {
        NarrativeShown::Sanitized(result) => view! { <NarrativeBody result=result client=client/> }.into_any(),
        NarrativeShown::Repair(text) => view! {
            <p class="muted notice narrative-repaired">"This narrative is not well-formed XHTML: the browser's HTML parser repaired it before the same safety checks."</p>
            <HtmlSourceView text=text client=client/>
        }.into_any(),
    };
    view! {
        <details class="narrative" open=open>
            <summary>"Narrative"</summary>
            {body}
        </details>
    }
}

/// Sanitized markup, as DOM nodes built by `web::narrative_dom`, with notices for what was
/// left out; images on the FHIR server are fetched with the token and shown from Blob URLs.
#[component]
fn NarrativeBody(
    result: Result<Narrative, NarrativeError>,
    client: FhirClient<Browser>,
) -> impl IntoView {
    let n = match result {
        Ok(n) => n,
        Err(e) => {
            return view! {
                <p class="notice narrative-refused">{format!("This content is not shown: {e}. Open it in the EHR.")}</p>
            }
            .into_any()
        }
    };
    let holder = NodeRef::<leptos::html::Div>::new();
    let notices = [
        (n.removed > 0).then_some("Some formatting or content was left out for safety."),
        n.truncated
            .then_some("Parts nested too deeply were left out."),
    ];
    let nodes = n.nodes;
    // Built once, on an emptied element: when a view is rebuilt, Leptos may hand the existing
    // `div` to the new one, whose nodes must replace the old ones, not follow them (seen before
    // the list was keyed: each narrative appeared twice).
    let built = std::cell::Cell::new(false);
    Effect::new(move || {
        let Some(div) = holder.get() else { return };
        if built.replace(true) {
            return;
        }
        div.set_text_content(None);
        match web::narrative_dom(&nodes) {
            Ok((fragment, images)) => {
                let _ = div.append_child(&fragment);
                for (placeholder, url) in images {
                    let c = client.clone();
                    spawn_local(async move {
                        let accept = "image/png, image/jpeg, image/gif, image/webp";
                        let Ok(f) = c.get_bytes(&url, accept).await else {
                            return;
                        };
                        let media = Media::of(f.content_type.as_deref().unwrap_or(""));
                        if let Media::Image(t) = media {
                            if let Ok(src) = web::blob_url(&f.bytes, t) {
                                web::show_image(&placeholder, &src);
                                // The image has its pixels once loaded; the URL is not needed after.
                                let s = src.clone();
                                spawn_local(async move {
                                    web::sleep(60_000).await;
                                    web::revoke_blob_url(&s);
                                });
                            }
                        }
                    });
                }
            }
            Err(e) => div.set_text_content(Some(&format!(
                "This content could not be shown: {e}. Open it in the EHR."
            ))),
        }
    });
    view! {
        <div class="narrative-body" node_ref=holder></div>
        {notices.into_iter().flatten().map(|t| view! { <p class="muted notice">{t}</p> }).collect_view()}
    }
    .into_any()
}
