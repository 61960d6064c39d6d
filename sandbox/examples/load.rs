//! `load`: many complete SMART launch flows at once against the sandbox, over loopback HTTP, each
//! checked step by step; a load generator and its report, not a test (run it in release mode):
//!
//!     cargo run --release -p sandbox --example load [-- --flows 200 --refreshes 3]
//!
//! Every flow, all of them started together: the authorize request (PKCE S256, its own
//! `state`; auto-approved) → the code exchanged → a second authorize whose code is exchanged by
//! **two token requests at once**, of which exactly one may succeed, and whose tokens that
//! second use revokes (RFC 6749 §4.1.2) → two FHIR reads with the first tokens → a chain of
//! refreshes, each rotating the refresh token and followed by a read with the new access token
//! → the first, long rotated, refresh token sent again, which must be refused and revoke the
//! grant (RFC 9700 §4.14.2), so that the newest access token then gets a 401. Any other answer
//! is a flow's error. Prints flows per second and the flows' times; exits 1 when a flow failed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use sandbox::config::{Config, DEFAULT_CLIENT_ID, DEFAULT_REDIRECT_URI};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(clap::Parser)]
#[command(
    name = "load",
    about = "Complete SMART launch flows at once against the sandbox"
)]
struct Cli {
    /// Flows started together
    #[arg(long, default_value_t = 200)]
    flows: usize,
    /// Refreshes per flow (each rotates the refresh token)
    #[arg(long, default_value_t = 3)]
    refreshes: usize,
}

const SCOPE: &str = "launch/patient openid fhirUser offline_access patient/*.rs";

struct Peer {
    http: Client,
    fhir: String,
    auth: String,
}

/// What went wrong in a flow, in words.
type Step<T> = Result<T, String>;

fn check(ok: bool, what: impl FnOnce() -> String) -> Step<()> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Peer {
    async fn token(&self, form: &[(&str, &str)]) -> Step<(StatusCode, Value)> {
        let r = self
            .http
            .post(format!("{}/token", self.auth))
            .form(form)
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let status = r.status();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    async fn read(&self, path: &str, token: &str) -> Step<StatusCode> {
        let r = self
            .http
            .get(format!("{}/{path}", self.fhir))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status == StatusCode::OK {
            check(body["resourceType"].is_string(), || {
                format!("GET {path}: not FHIR")
            })?;
        }
        Ok(status)
    }

    async fn refresh(&self, refresh_token: &str) -> Step<(StatusCode, Value)> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", DEFAULT_CLIENT_ID),
        ])
        .await
    }

    /// An authorize request of its own (PKCE S256, its own `state`), auto-approved: the code
    /// and the PKCE verifier that goes with it.
    async fn authorize(&self, state: &str) -> Step<(String, String)> {
        let mut entropy = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut entropy);
        let verifier = URL_SAFE_NO_PAD.encode(entropy);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let mut authorize = url::Url::parse(&format!("{}/authorize", self.auth))
            .map_err(|e| format!("authorize URL: {e}"))?;
        authorize.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
            ("scope", SCOPE),
            ("state", state),
            ("aud", &self.fhir),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let r = self
            .http
            .get(authorize)
            .send()
            .await
            .map_err(|e| format!("authorize: {e}"))?;
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        check(r.status() == StatusCode::SEE_OTHER, || {
            format!("authorize answered {}", r.status())
        })?;
        check(param(&location, "state").as_deref() == Some(state), || {
            format!("another flow's state came back: {location}")
        })?;
        let code = param(&location, "code").ok_or("no code in the redirect")?;
        Ok((code, verifier))
    }

    /// The token request that exchanges `code`.
    async fn exchange(&self, code: &str, verifier: &str) -> Step<(StatusCode, Value)> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
            ("client_id", DEFAULT_CLIENT_ID),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// A code exchanged by two token requests at once: exactly one succeeds, and the second use
    /// revokes the tokens the first got (RFC 6749 §4.1.2), so they no longer read.
    async fn code_used_twice(&self, n: usize) -> Step<u32> {
        let (code, verifier) = self.authorize(&format!("twice-{n}")).await?;
        let (a, b) = tokio::join!(
            self.exchange(&code, &verifier),
            self.exchange(&code, &verifier)
        );
        let answers = [a?, b?];
        let won: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::OK)
            .map(|(_, body)| body)
            .collect();
        check(won.len() == 1, || {
            format!("the code was accepted {} times", won.len())
        })?;
        let lost = answers.iter().find(|(s, _)| *s != StatusCode::OK);
        check(
            lost.is_some_and(|(s, body)| {
                *s == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant"
            }),
            || format!("the second use of the code: {lost:?}"),
        )?;
        let access = won[0]["access_token"].as_str().ok_or("no access token")?;
        let patient = won[0]["patient"]
            .as_str()
            .ok_or("no patient in the token")?;
        let s = self.read(&format!("Patient/{patient}"), access).await?;
        check(s == StatusCode::UNAUTHORIZED, || {
            format!("a token of a code used twice still reads: {s}")
        })?;
        Ok(4)
    }

    /// One flow, start to end; the number of requests it sent.
    async fn flow(&self, n: usize, refreshes: usize) -> Step<u32> {
        let (code, verifier) = self.authorize(&format!("flow-{n}")).await?;
        let (s, tokens) = self.exchange(&code, &verifier).await?;
        check(s == StatusCode::OK, || {
            format!("the exchange: {s} {tokens}")
        })?;
        let mut requests = self.code_used_twice(n).await? + 2;
        let patient = tokens["patient"]
            .as_str()
            .ok_or("no patient in the token")?;
        let mut access = tokens["access_token"]
            .as_str()
            .ok_or("no access token")?
            .to_string();
        let first_refresh = tokens["refresh_token"]
            .as_str()
            .ok_or("no refresh token")?
            .to_string();

        for path in [
            format!("Patient/{patient}"),
            format!("Observation?patient={patient}&_count=50"),
        ] {
            let s = self.read(&path, &access).await?;
            requests += 1;
            check(s == StatusCode::OK, || format!("GET {path}: {s}"))?;
        }

        let mut refresh = first_refresh.clone();
        for i in 0..refreshes {
            let (s, body) = self.refresh(&refresh).await?;
            requests += 1;
            check(s == StatusCode::OK, || format!("refresh {i}: {s} {body}"))?;
            let next = body["refresh_token"].as_str().ok_or("no rotated token")?;
            check(next != refresh, || format!("refresh {i} did not rotate"))?;
            refresh = next.to_string();
            access = body["access_token"]
                .as_str()
                .ok_or("no access token")?
                .to_string();
            let s = self.read(&format!("Patient/{patient}"), &access).await?;
            requests += 1;
            check(s == StatusCode::OK, || {
                format!("read after refresh {i}: {s}")
            })?;
        }

        if refreshes > 0 {
            // A rotated refresh token used again: refused, and the whole grant revoked.
            let (s, body) = self.refresh(&first_refresh).await?;
            check(
                s == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant",
                || format!("a rotated refresh token was accepted: {s}"),
            )?;
            let s = self.read(&format!("Patient/{patient}"), &access).await?;
            check(s == StatusCode::UNAUTHORIZED, || {
                format!("the revoked grant's token still reads: {s}")
            })?;
            requests += 2;
        }
        Ok(requests)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let cli = <Cli as clap::Parser>::parse();
    let config = Config {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        auto_approve: true,
        log_requests: false,
        ..Config::default()
    };
    let running = match sandbox::spawn(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load: the sandbox did not start: {e}");
            std::process::exit(2);
        }
    };
    let c = &running.sandbox.config;
    let base = c.public_url.clone();
    let peer = std::sync::Arc::new(Peer {
        // No connection limit: each flow's requests go out as they would from its own browser.
        http: Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap_or_default(),
        fhir: format!("{base}/fhir"),
        auth: format!(
            "{}{}",
            c.auth_url.as_deref().unwrap_or(&base),
            c.profile.auth_path()
        ),
    });

    let start = Instant::now();
    let flows: Vec<_> = (0..cli.flows)
        .map(|n| {
            let peer = peer.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                (peer.flow(n, cli.refreshes).await, t.elapsed())
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = Vec::new();
    let mut requests = 0u32;
    for f in flows {
        match f.await {
            Ok((Ok(sent), t)) => {
                times.push(t);
                requests += sent;
            }
            Ok((Err(e), _)) => errors.push(e),
            Err(e) => errors.push(format!("the flow's task failed: {e}")),
        }
    }
    let wall = start.elapsed();
    times.sort();
    let stats = &running.sandbox.stats;
    println!(
        "{} flows at once ({} refreshes each), {} completed, {} failed, in {:.2} s: {:.0} flows/s, \
         {:.0} requests/s ({} requests; the sandbox counted {} token requests); \
         a flow took {:.0} ms median, {:.0} ms p95, {:.0} ms max",
        cli.flows,
        cli.refreshes,
        times.len(),
        errors.len(),
        wall.as_secs_f64(),
        times.len() as f64 / wall.as_secs_f64(),
        f64::from(requests) / wall.as_secs_f64(),
        requests,
        stats.token_requests.load(Ordering::Relaxed),
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.95).as_secs_f64() * 1000.0,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    for e in errors.iter().take(10) {
        println!("  error: {e}");
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
