//! The browser, one module per concern, each thin and typed: every browser failure becomes a
//! typed error; nothing from JavaScript is unwrapped.
//!
//! - `smart_launch_browser` (the `browser/` crate, shared with the launch module): the core's
//!   [`crate::platform::Platform`] ([`Browser`]), the address bar, navigation, the files beside
//!   the app, what the launch module hands on
//! - [`page`]: title, focus, CSS variables, time zone
//! - [`dom`]: DOM built from sanitized nodes
//! - [`html`]: HTML attachments parsed by the browser in the parser frame
//! - [`files`]: Blob URLs, `TextDecoder`
//! - [`timing`]: timers, the next paint, performance marks

mod dom;
mod files;
mod html;
mod page;
mod timing;

pub(crate) use dom::Dom;
pub use dom::{narrative_dom, show_image};
pub use files::{blob_url, decode_text, revoke_blob_url};
pub use html::sanitize_html;
pub use page::{
    focus, focus_heading, remove_element, reveal, set_css_variables, set_title,
    use_local_time_zone, viewport_width,
};
pub(crate) use smart_launch_browser::describe;
pub use smart_launch_browser::page::{fetch_text, navigate, page_url};
pub use smart_launch_browser::{handoff, mark, Browser};
pub use timing::{after_paint, mark_after_paint, sleep};
