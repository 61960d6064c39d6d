//! This tab's slice of sessionStorage: the one place that reads and writes the pending sign-ins,
//! the launched session and the patient a practitioner picked. Private to `smart::session`,
//! which owns the session's life.
//!
//! A browser gives each tab its own sessionStorage, but an EHR's embedded browser may not: Epic
//! Hyperspace shares one sessionStorage between the app's tabs, and Epic's tutorial advises a
//! per-tab identifier. With one fixed key, a reload in one tab would resume the patient another
//! tab launched with. So every entry is keyed by this tab's id, which lives in `window.name`
//! (kept by a tab across reloads and navigations, never shared between tabs):
//! - a `window.name` the EHR or the app already set names the tab (hashed: the name may be long
//!   or carry anything);
//! - an unnamed tab gets a random name when a launch starts ([`assign_tab`]), and the pending
//!   sign-in keeps it, so the callback restores it where a browser cleared the name on the way
//!   through the EHR's sign-in pages (HTML, "browsing context names", cross-site navigation).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::record::Session;
use crate::platform::{CryptoError, Platform, StorageError};
use crate::smart::authorize::{PendingAuthorization, PENDING_PREFIX};

pub const SESSION_PREFIX: &str = "smart-launch.session.";
const SELECTED_PREFIX: &str = "smart-launch.selected-patient.";
/// The `window.name` the app gives an unnamed tab, before its random part.
const TAB_NAME_PREFIX: &str = "smart-launch-";

/// The id the keys of a tab named `name` end with; none for an unnamed tab.
fn tab_id(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let digest = Sha256::digest(name.as_bytes());
    // 128 bits: ids of different names do not meet.
    Some(URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default()))
}

fn current<P: Platform>(p: &P) -> Option<String> {
    tab_id(&p.tab_name())
}

/// This tab's name, given a random one first if it has none: called when a launch starts, so
/// that the session it ends in is this tab's.
pub fn assign_tab<P: Platform>(p: &P) -> Result<String, CryptoError> {
    let name = p.tab_name();
    if !name.is_empty() {
        return Ok(name);
    }
    let mut bytes = [0u8; 16];
    p.random(&mut bytes)?;
    let name = format!("{TAB_NAME_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    p.set_tab_name(&name);
    Ok(name)
}

/// Back on the callback: the tab takes the name it had when its launch started, if the browser
/// dropped it on the way (or this is another tab of a shared storage, which then owns the
/// session it completes).
pub fn restore_tab<P: Platform>(p: &P, name: &str) {
    if !name.is_empty() && p.tab_name() != name {
        p.set_tab_name(name);
    }
}

fn session_key<P: Platform>(p: &P) -> Option<String> {
    current(p).map(|id| format!("{SESSION_PREFIX}{id}"))
}

/// Mirrors the session for a reload of this tab.
pub fn save_session<P: Platform>(p: &P, session: &Session) -> Result<(), StorageError> {
    assign_tab(p).map_err(|e| StorageError(e.to_string()))?;
    let key =
        session_key(p).ok_or_else(|| StorageError("this tab could not be given a name".into()))?;
    p.save(&key, &session.to_json())
}

/// The session this tab stored, if it can still be read; an unreadable one is dropped.
pub fn load_session<P: Platform>(p: &P) -> Option<Session> {
    let key = session_key(p)?;
    let s = Session::from_json(&p.load(&key)?);
    if s.is_none() {
        p.remove(&key);
    }
    s
}

/// Whether this tab still has a stored session (it ends when another part of the app ends it).
pub fn has_session<P: Platform>(p: &P) -> bool {
    session_key(p).is_some_and(|k| p.load(&k).is_some())
}

/// Forgets this tab's session and its picked patient; other tabs' entries stay.
pub fn forget_session<P: Platform>(p: &P) {
    if let Some(id) = current(p) {
        p.remove(&format!("{SESSION_PREFIX}{id}"));
        p.remove(&format!("{SELECTED_PREFIX}{id}"));
    }
}

/// The patient a practitioner picked in this tab (kept across a reload).
pub fn selected_patient<P: Platform>(p: &P) -> Option<String> {
    p.load(&format!("{SELECTED_PREFIX}{}", current(p)?))
}

pub fn select_patient<P: Platform>(p: &P, id: &str) -> Result<(), StorageError> {
    let tab = current(p).ok_or_else(|| StorageError("this tab has no name".into()))?;
    p.save(&format!("{SELECTED_PREFIX}{tab}"), id)
}

pub fn clear_selected_patient<P: Platform>(p: &P) {
    if let Some(id) = current(p) {
        p.remove(&format!("{SELECTED_PREFIX}{id}"));
    }
}

/// Keeps a sign-in until its callback, under its `state` (single use: [`take_pending`]).
pub fn save_pending<P: Platform>(
    p: &P,
    pending: &PendingAuthorization,
) -> Result<(), StorageError> {
    p.save(
        &PendingAuthorization::storage_key(&pending.state),
        &pending.to_json_text(),
    )
}

/// The pending sign-in named by `state`, left in place.
pub fn peek_pending<P: Platform>(p: &P, state: &str) -> Option<PendingAuthorization> {
    PendingAuthorization::from_json_text(&p.load(&PendingAuthorization::storage_key(state))?)
}

/// Takes (reads and deletes) the pending sign-in named by `state`: single use.
pub fn take_pending<P: Platform>(p: &P, state: &str) -> Option<PendingAuthorization> {
    let key = PendingAuthorization::storage_key(state);
    let stored = p.load(&key);
    p.remove(&key);
    PendingAuthorization::from_json_text(&stored?)
}

/// Drops the pending sign-in named by `state`, if any.
pub fn drop_pending<P: Platform>(p: &P, state: &str) {
    p.remove(&PendingAuthorization::storage_key(state));
}

/// Drops every pending sign-in for which `drop` holds; one that cannot be read is dropped too.
pub fn drop_pending_where<P: Platform>(p: &P, drop: impl Fn(&PendingAuthorization) -> bool) {
    for key in p
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(PENDING_PREFIX))
    {
        let gone = p
            .load(&key)
            .and_then(|v| PendingAuthorization::from_json_text(&v))
            .is_none_or(|pending| drop(&pending));
        if gone {
            p.remove(&key);
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::Scripted;

    #[test]
    fn an_unnamed_tab_is_named_once_and_keeps_its_name() {
        let p = Scripted::new(|_| unreachable!());
        assert_eq!(current(&p), None);
        let name = assign_tab(&p).unwrap();
        assert!(name.starts_with(TAB_NAME_PREFIX), "{name}");
        assert_eq!(p.tab_name(), name);
        assert_eq!(assign_tab(&p).unwrap(), name, "not renamed");
    }

    #[test]
    fn a_name_the_ehr_gave_the_tab_is_kept() {
        let p = Scripted::new(|_| unreachable!());
        p.set_tab_name("SMARTApp");
        assert_eq!(assign_tab(&p).unwrap(), "SMARTApp");
        assert_eq!(p.tab_name(), "SMARTApp");
        assert_eq!(current(&p).map(|id| id.len()), Some(22));
    }

    #[test]
    fn tabs_sharing_one_storage_keep_their_own_sessions() {
        let p = Scripted::new(|_| unreachable!());
        let session = |patient: &str| {
            super::super::record::tests::session(
                0,
                &format!(r#"{{"access_token":"a","token_type":"Bearer","patient":"{patient}"}}"#),
            )
        };
        p.set_tab_name("tab-a");
        save_session(&p, &session("a")).unwrap();
        select_patient(&p, "picked-a").unwrap();
        p.set_tab_name("tab-b");
        assert!(load_session(&p).is_none(), "tab b has none yet");
        save_session(&p, &session("b")).unwrap();
        assert_eq!(
            load_session(&p).unwrap().context.patient.as_deref(),
            Some("b")
        );
        assert_eq!(selected_patient(&p), None);

        p.set_tab_name("tab-a");
        assert_eq!(
            load_session(&p).unwrap().context.patient.as_deref(),
            Some("a")
        );
        assert_eq!(selected_patient(&p).as_deref(), Some("picked-a"));
        forget_session(&p);
        assert!(!has_session(&p));
        assert_eq!(selected_patient(&p), None);
        p.set_tab_name("tab-b");
        assert!(has_session(&p), "signing out in one tab leaves the other");
    }

    #[test]
    fn a_name_dropped_on_the_way_is_restored() {
        let p = Scripted::new(|_| unreachable!());
        let name = assign_tab(&p).unwrap();
        p.set_tab_name("");
        restore_tab(&p, &name);
        assert_eq!(p.tab_name(), name);
        restore_tab(&p, "");
        assert_eq!(
            p.tab_name(),
            name,
            "an old pending sign-in without a name changes nothing"
        );
    }

    #[test]
    fn an_unreadable_session_is_dropped() {
        let p = Scripted::new(|_| unreachable!());
        p.set_tab_name("t");
        let key = session_key(&p).unwrap();
        p.save(&key, "{not json").unwrap();
        assert!(load_session(&p).is_none());
        assert_eq!(p.load(&key), None);
    }
}
