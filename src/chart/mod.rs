//! The patient's chart as plain data: rows for each clinical section, vital-sign series, lab
//! groups, chart maths, and the checks on `smart_style_url` values. Pure and tested natively;
//! the components in `ui` only lay these out. Everything here is text for the UI to render as
//! text.

pub mod context;
pub mod documents;
pub mod flags;
pub mod format;
pub mod labs;
pub mod layout;
pub mod plot;
pub mod records;
pub mod scopes;
pub mod sort;
pub mod style;
pub mod time;
pub mod vitals;
