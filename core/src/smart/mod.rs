//! The SMART App Launch protocol core, one module per step of the specification. Pure Rust: no
//! browser imports; time and randomness come in as arguments or through [`crate::platform`].
//!
//! 1. [`config`]: the EHRs the app is registered with; exact issuer matching
//! 2. [`launch`]: what a visit to launch.html is (EHR launch, standalone, callback)
//! 3. [`discovery`]: `.well-known/smart-configuration` and the v1 `metadata` fallback
//! 4. [`authorize`] (+ [`pkce`], [`scopes`]): the authorize redirect and the pending request
//! 5. [`callback`]: state checks that turn a redirect into an [`secret::AuthCode`]
//! 6. [`token`]: code exchange, refresh, token response checks
//! 7. [`id_token`]: OpenID Connect id_token checks
//! 8. [`flow`]: steps 1-4 in sequence over a [`crate::platform::Platform`]
//! 9. [`session`]: the session's life and its one owner, from the callback (exchange, id_token
//!    check, confirm) through resume, refresh and the end to sign-out and revocation; the only
//!    code that touches this tab's storage
//!
//! [`handoff`] is what the launch module passes on to the chart. After the launch: [`granted`] reads the granted scopes as EHRs spell them (what the chart
//! may ask for) and [`style`] checks the EHR's `smart_style_url` values. [`fields`] reads the JSON records above with serde and
//! names the field at fault in errors; [`secret`] holds the redacted secret types.

pub mod authorize;
pub mod callback;
pub mod config;
pub mod discovery;
pub mod fields;
pub mod flow;
pub mod granted;
pub mod handoff;
pub mod id_token;
pub mod launch;
pub mod pkce;
pub mod scopes;
pub mod secret;
pub mod session;
pub mod style;
pub mod token;
