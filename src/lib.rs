//! smart-launch: a SMART on FHIR app for the browser.
//!
//! - [`smart`]: the SMART App Launch protocol core (pure, tested natively)
//! - [`fhir`]: the FHIR client core: token destination rule, paging, errors, display
//! - [`http_url`]: absolute http(s) URLs (the url crate) with a strict layer, form encoding
//! - [`platform`]: what the core needs from its host (HTTP, storage, clock, randomness, crypto)
//! - `web` (wasm32 only): the browser implementation of [`platform::Platform`]
//! - `ui` (wasm32 only): the Leptos components of launch.html

pub mod chart;
pub mod fhir;
pub mod http_url;
pub mod platform;
pub mod smart;

#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub mod failure;

// The scripted platform uses native-only crates (the sandbox's signer, rsa).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod testing;
