//! The browser, one module per concern, each thin and typed: every browser failure becomes a
//! typed error; nothing from JavaScript is unwrapped.
//!
//! - [`platform`]: the core's [`crate::platform::Platform`] (fetch, storage, the tab's name,
//!   the clock, randomness, RS256)
//! - [`page`]: the address bar, navigation, title, focus, CSS variables, time zone
//! - [`dom`]: DOM built from sanitized nodes
//! - [`html`]: HTML attachments parsed by the browser in the parser frame
//! - [`files`]: Blob URLs, `TextDecoder`
//! - [`timing`]: timers, the next paint, performance marks

mod dom;
mod files;
mod html;
mod page;
mod platform;
mod timing;

pub(crate) use dom::Dom;
pub use dom::{narrative_dom, show_image};
pub use files::{blob_url, decode_text, revoke_blob_url};
pub use html::sanitize_html;
pub use page::{
    fetch_text, focus, focus_heading, navigate, page_url, query, remove_element, reveal,
    set_css_variables, set_title, strip_query, use_local_time_zone, viewport_width,
};
pub(crate) use platform::describe;
pub use platform::Browser;
pub use timing::{after_paint, mark, mark_after_paint, sleep};
