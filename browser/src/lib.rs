//! The browser side that both of smart-launch's wasm modules need, thin and typed: every browser
//! failure becomes a typed error; nothing from JavaScript is unwrapped. (Empty on other targets:
//! the protocol core it serves is tested natively.)
//!
//! - [`platform`]: the core's `Platform` (fetch, storage, the tab's name, the clock,
//!   randomness, RS256)
//! - [`page`]: the address bar, navigation, the files served beside the app
//! - [`handoff`]: what the launch module passes on to the chart

#![cfg(target_arch = "wasm32")]
// No panic from what JavaScript or the network gave (unwrap and expect: the workspace's lints).
#![warn(clippy::indexing_slicing, clippy::string_slice)]

pub mod handoff;
pub mod page;
pub mod platform;

pub use platform::{describe, Browser};

/// A `performance.mark` (User Timing), for the benchmark to read; no data in the name.
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}
