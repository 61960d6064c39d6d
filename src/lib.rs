//! smart-launch: a SMART on FHIR app for the browser; this crate is the chart, the Leptos app
//! the user sees.
//!
//! - [`smart`], [`fhir`], [`http_url`], [`platform`]: the protocol core, its own crate
//!   (`core/`, `smart-launch-core`), re-exported here under the same names
//! - [`chart`]: what the chart shows, worked out natively (rows, graphs, dates, the launch
//!   context)
//! - [`failure`]: what each failure tells the user and what they can do next
//! - `web` (wasm32 only): the browser implementation of [`platform::Platform`] and the page
//! - `ui` (wasm32 only): the Leptos components of launch.html

// No panic from what a server, a URL or storage sent: no unchecked indexing or slicing outside
// the tests (unwrap and expect: the workspace's lints).
#![cfg_attr(not(test), warn(clippy::indexing_slicing, clippy::string_slice))]

pub use smart_launch_core::{fhir, http_url, platform, smart};

pub mod chart;
pub mod failure;

#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;
