//! What the sandbox remembers: launch contexts, pending authorizations, codes, grants and tokens.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use crate::config::{Config, Faults};
use crate::data::{Data, PractitionerInfo};
use crate::keys::Signer;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum User {
    Practitioner(String),
    Patient(String),
}

impl User {
    pub fn reference(&self) -> String {
        match self {
            User::Practitioner(id) => format!("Practitioner/{id}"),
            User::Patient(id) => format!("Patient/{id}"),
        }
    }
}

/// Made by the EHR launch page; the `launch` parameter names it (SMART App Launch 2.2 §EHR launch).
#[derive(Clone, Debug)]
pub struct LaunchContext {
    pub user: User,
    pub patient: String,
    pub encounter: Option<String>,
    /// False when the app runs inside the EHR's frame, which shows its own banner.
    pub need_patient_banner: bool,
    /// What the launch button sat beside (SMART 2.2 `fhirContext` items), as sent.
    pub fhir_context: Vec<serde_json::Value>,
    /// SMART 2.2 `intent`, as typed on the launch page.
    pub intent: Option<String>,
    pub created: Instant,
}

/// An authorize request waiting for login, patient choice or approval.
#[derive(Clone, Debug)]
pub struct PendingAuth {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    pub requested: Vec<String>,
    pub launch: Option<LaunchContext>,
    pub user: Option<User>,
    pub patient: Option<String>,
    pub created: Instant,
}

/// Everything a grant carries into tokens and FHIR access.
#[derive(Clone, Debug)]
pub struct GrantContext {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub user: Option<User>,
    pub need_patient_banner: bool,
    pub fhir_context: Vec<serde_json::Value>,
    pub intent: Option<String>,
}

#[derive(Debug)]
pub struct CodeEntry {
    pub redirect_uri: String,
    pub code_challenge: String,
    pub context: GrantContext,
    pub expires: Instant,
    /// The grant the code was exchanged for; a second exchange revokes it (RFC 6749 §4.1.2).
    pub redeemed: Option<u64>,
}

#[derive(Debug)]
pub struct Grant {
    pub context: GrantContext,
    pub revoked: bool,
}

#[derive(Debug)]
pub struct AccessEntry {
    pub grant: u64,
    pub expires: Instant,
}

#[derive(Debug)]
pub struct RefreshEntry {
    pub grant: u64,
    /// Replaced by a newer token; presenting it again is a reuse (RFC 9700 §4.14.2).
    pub rotated: bool,
}

#[derive(Default)]
pub struct Store {
    pub launches: HashMap<String, LaunchContext>,
    pub pending: HashMap<String, PendingAuth>,
    pub codes: HashMap<String, CodeEntry>,
    pub grants: HashMap<u64, Grant>,
    pub access: HashMap<String, AccessEntry>,
    pub refresh: HashMap<String, RefreshEntry>,
    next_grant: u64,
}

impl Store {
    pub fn new_grant(&mut self, context: GrantContext) -> u64 {
        self.next_grant += 1;
        self.grants.insert(
            self.next_grant,
            Grant {
                context,
                revoked: false,
            },
        );
        self.next_grant
    }

    pub fn revoke(&mut self, grant: u64) {
        if let Some(g) = self.grants.get_mut(&grant) {
            g.revoked = true;
        }
        self.access.retain(|_, a| a.grant != grant);
    }

    /// Drops what has expired long ago so a long-running sandbox does not grow without bound.
    pub fn sweep(&mut self, now: Instant) {
        let ten_min = std::time::Duration::from_secs(600);
        self.launches
            .retain(|_, l| now.duration_since(l.created) < ten_min * 6);
        self.pending
            .retain(|_, p| now.duration_since(p.created) < ten_min);
        self.codes.retain(|_, c| c.expires + ten_min > now);
        self.access.retain(|_, a| a.expires > now);
    }
}

pub struct Sandbox {
    pub config: Config,
    pub fhir_base: String,
    pub data: Data,
    pub practitioners: Vec<PractitionerInfo>,
    pub faults: RwLock<Faults>,
    pub store: Mutex<Store>,
    /// Origins of the registered redirect URIs: the browser apps CORS lets in.
    pub app_origins: Vec<String>,
    pub stats: Stats,
}

/// Request counters (`/_admin/stats`).
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    /// Requests to the revocation endpoint (RFC 7009).
    pub revocation_requests: AtomicU64,
    pub authorize_requests: AtomicU64,
    pub fhir_requests: AtomicU64,
    /// FHIR requests answered 401 (no, a bad or an expired token; or the 401 fault).
    pub fhir_unauthorized: AtomicU64,
    /// Response body bytes sent, all paths.
    pub bytes_sent: AtomicU64,
    /// Epoch milliseconds of the last authorize request (the benchmark's "redirect left").
    pub last_authorize_ms: AtomicU64,
}

impl Sandbox {
    pub fn new(config: Config) -> Self {
        // The RSA key takes a moment to make: make it beside the data, not before serving.
        std::thread::spawn(|| {
            Signer::shared();
        });
        let (data, practitioners) = crate::data::generate(config.seed, config.big_observations);
        let mut app_origins: Vec<String> = Vec::new();
        for c in &config.clients {
            for r in &c.redirect_uris {
                if let Ok(u) = url::Url::parse(r) {
                    let o = u.origin().ascii_serialization();
                    if !app_origins.contains(&o) {
                        app_origins.push(o);
                    }
                }
            }
        }
        Self {
            fhir_base: format!("{}/fhir", config.public_url),
            faults: RwLock::new(config.faults.clone()),
            data,
            practitioners,
            store: Mutex::new(Store::default()),
            app_origins,
            stats: Stats::default(),
            config,
        }
    }

    /// The id_token signing key (waits for its generation the first time, if still running).
    pub fn signer(&self) -> Arc<Signer> {
        Signer::shared()
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock poisons it; the data is still consistent enough for a
        // sandbox, so keep serving rather than fail every later request.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// An access token granted directly, without the authorize dance: for benchmarks and tools
    /// that measure the FHIR server alone.
    pub fn grant_direct(&self, scopes: &str, patient: Option<&str>) -> String {
        let mut store = self.store();
        let grant = store.new_grant(GrantContext {
            client_id: self.config.clients[0].id.clone(),
            scopes: crate::scopes::known_tokens(scopes),
            patient: patient.map(str::to_string),
            encounter: None,
            user: None,
            need_patient_banner: true,
            fhir_context: Vec::new(),
            intent: None,
        });
        let token = random_token();
        store.access.insert(
            token.clone(),
            AccessEntry {
                grant,
                expires: Instant::now() + self.config.token_lifetime,
            },
        );
        token
    }

    pub fn client(&self, id: &str) -> Option<&crate::config::Client> {
        self.config.clients.iter().find(|c| c.id == id)
    }
}

/// 256 random bits, base64url: codes, tokens, launch ids, request ids.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}
