//! The patient's chart as plain data: rows for each clinical section, vital-sign series, lab
//! groups, the SVG graphs' maths ([`graph`]) and the launch context's rules ([`context`]). Pure
//! and tested natively;
//! the components in `ui` only lay these out. Everything here is text for the UI to render as
//! text.

pub mod context;
pub mod documents;
pub mod flags;
pub mod format;
pub mod graph;
pub mod labs;
pub mod layout;
pub mod records;
pub mod sort;
pub mod time;
pub mod vitals;
