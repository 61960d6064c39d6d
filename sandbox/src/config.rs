//! Every knob of the sandbox EHR: address, registered clients, launch behaviour and faults.
//! Each flag has an environment variable twin (`--token-lifetime` ↔ `SANDBOX_TOKEN_LIFETIME`),
//! so scripts and tests can set them either way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// A client registered with the authorization server (SMART App Launch 2.2, "Registering a SMART App").
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    /// Exact redirect URIs: the authorize endpoint compares byte for byte (RFC 9700 §2.1).
    pub redirect_uris: Vec<String>,
    /// Scopes this client may be granted; `None` allows every scope the server knows.
    pub allowed_scopes: Option<Vec<String>>,
    /// A confidential client authenticates with this secret (HTTP Basic); public clients have none.
    pub secret: Option<String>,
}

/// Misbehaviour on demand, for demos and tests of the app's error handling.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Added to every API response (discovery, token, FHIR).
    pub latency_ms: u64,
    /// Added to the authorize step (`/auth/authorize`): a real EHR's sign-in and launch-context
    /// lookup takes a few hundred milliseconds even when the user is already signed in.
    pub authorize_latency_ms: u64,
    /// Share (0.0 to 1.0) of API requests answered with a 500 or 503.
    pub failure_rate: f64,
    /// The token endpoint rejects every authorization code with `invalid_grant`.
    pub reject_code: bool,
    /// The token endpoint rejects every refresh token with `invalid_grant`.
    pub reject_refresh: bool,
    /// Responses of these endpoints come back malformed (an HTML page or truncated JSON).
    pub malformed: Vec<Malformed>,
    /// `.well-known/smart-configuration` answers 307 to this URL or path (clients must not follow).
    pub discovery_redirect: Option<String>,
    /// Discovery advertises this URL as the token endpoint: a mix-up attack (RFC 9700 §4.4)
    /// that sends the code and verifier to another server.
    pub foreign_token_endpoint: Option<String>,
    /// `.well-known/smart-configuration` leaves out `code_challenge_methods_supported`.
    pub omit_pkce_methods: bool,
    /// FHIR reads and searches answer 401 whatever the token: a session the server has ended.
    pub fhir_unauthorized: bool,
    /// The id_token's signature does not verify (its last signature byte is changed): a token
    /// the client must refuse.
    pub bad_id_token_signature: bool,
    /// Searches of this resource type answer 500 (one section of a chart failing alone).
    pub fail_searches: Option<String>,
    /// Reads and searches of this resource type answer 403, though the scope covers it (the
    /// user's role may not see it): the EHR's own 403 shape under `--profile`.
    pub forbid: Option<String>,
    /// API requests whose query contains the text wait this long before the answer (one
    /// search slower than the next: answers that arrive out of order).
    pub slow_queries: Vec<(String, u64)>,
    /// Requests whose path starts with one of these never get an answer (a server that hangs),
    /// e.g. `/fhir/.well-known/smart-configuration` or `/fhir/Patient/patient-01`.
    pub hang: Vec<String>,
    /// Authorization responses leave out `iss`, though discovery advertises
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §2.4: clients must refuse them).
    pub omit_callback_iss: bool,
    /// Claims written over the id_token's own before it is signed (e.g. another audience, an
    /// `azp`, an `iat` in the future): a token whose signature holds and whose claims must not.
    pub id_token_claims: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Discovery answers with an HTML "login" page and status 200.
    Discovery,
    /// The token endpoint answers with truncated JSON.
    Token,
    /// FHIR reads and searches answer with truncated JSON.
    Fhir,
}

impl Malformed {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "discovery" => Ok(Self::Discovery),
            "token" => Ok(Self::Token),
            "fhir" => Ok(Self::Fhir),
            other => Err(format!(
                "unknown --malformed target {other:?} (use discovery, token or fhir)"
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// The origin the sandbox is reached at; the FHIR base is `{public_url}/fhir`.
    pub public_url: String,
    pub clients: Vec<Client>,
    /// The app the EHR launch page launches.
    pub app_url: String,
    /// Serve a SMART v1 server: no `.well-known/smart-configuration`, only `metadata`.
    pub smart_v1_only: bool,
    /// Skip login, patient picker and approval pages (for automated tests and benchmarks).
    pub auto_approve: bool,
    /// With auto-approve, the patient chosen for a standalone `launch/patient` request.
    pub auto_patient: Option<String>,
    pub token_lifetime: Duration,
    pub code_lifetime: Duration,
    pub faults: Faults,
    /// Seed of the data generator: the same seed gives the same patients.
    pub seed: u64,
    /// Observations of the large-record patient.
    pub big_observations: usize,
    /// Print one line per request to stderr.
    pub log_requests: bool,
    /// Which EHR's ways the sandbox imitates (`--profile`, [`crate::profile`]).
    pub profile: crate::profile::Profile,
    /// Where a profile whose authorization server lies on another host serves it: another
    /// port of this address (`--auth-port`; 0: any free port). Its origin is [`Config::auth_url`].
    pub auth_port: u16,
    /// The authorization server's origin when it is another (set when the sandbox starts).
    pub auth_url: Option<String>,
}

pub const DEFAULT_CLIENT_ID: &str = "smart-launch";
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8000/launch.html";

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000),
            public_url: "http://localhost:9000".into(),
            clients: vec![Client {
                id: DEFAULT_CLIENT_ID.into(),
                redirect_uris: vec![DEFAULT_REDIRECT_URI.into()],
                allowed_scopes: None,
                secret: None,
            }],
            app_url: DEFAULT_REDIRECT_URI.into(),
            smart_v1_only: false,
            auto_approve: false,
            auto_patient: None,
            token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(60),
            faults: Faults::default(),
            seed: 42,
            big_observations: 10_000,
            log_requests: true,
            profile: crate::profile::Profile::Spec,
            auth_port: 0,
            auth_url: None,
        }
    }
}

/// The sandbox's command line (`sandbox --help`). Each option also reads `SANDBOX_<NAME>` (e.g.
/// `SANDBOX_PORT=9001`) when it is not given; options that repeat take several values separated
/// by spaces there.
#[derive(clap::Parser, Debug)]
#[command(
    name = "sandbox",
    about = "A strict local SMART on FHIR EHR (authorization server, FHIR R4 server, launch page)",
    after_help = "Each option also reads SANDBOX_<NAME> when it is not given, e.g. SANDBOX_PORT=9001 \
                  (options that repeat: several values separated by spaces)."
)]
struct Cli {
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long, value_name = "ADDR")]
    host: Option<String>,
    /// Port to listen on [default: 9000]
    #[arg(long)]
    port: Option<String>,
    /// Origin the sandbox is reached at [default: http://localhost:PORT]
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// App launched by the EHR launch page [default: http://localhost:8000/launch.html]
    #[arg(long, value_name = "URL")]
    app_url: Option<String>,
    /// Id of the registered public client [default: smart-launch]
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Its redirect URI (repeat for several) [default: http://localhost:8000/launch.html]
    #[arg(long, value_name = "URI")]
    redirect_uri: Vec<String>,
    /// Register another client (repeatable): id=ID,redirect=URI[ URI...],scopes=S1 S2...,secret=SECRET
    /// (scopes and secret optional; a secret makes it confidential)
    #[arg(long, value_name = "SPEC")]
    client: Vec<String>,
    /// Behave as an EHR does: spec (the specification, default), epic, oracle, veradigm, athena,
    /// meditech, launcher (sandbox/src/profile.rs)
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Port of the authorization server, for profiles that put it on another host (oracle,
    /// athena) [default: PORT+1]
    #[arg(long)]
    auth_port: Option<String>,
    /// No .well-known/smart-configuration; metadata only
    #[arg(long)]
    smart_v1_only: bool,
    /// No login, patient picker or approval pages
    #[arg(long)]
    auto_approve: bool,
    /// Patient chosen by auto-approve in a standalone launch
    #[arg(long, value_name = "ID")]
    auto_patient: Option<String>,
    /// Access token lifetime [default: 3600, or the profile's]
    #[arg(long, value_name = "SECS")]
    token_lifetime: Option<String>,
    /// Authorization code lifetime [default: 60]
    #[arg(long, value_name = "SECS")]
    code_lifetime: Option<String>,
    /// Delay added to every API response [default: 0]
    #[arg(long, value_name = "MS")]
    latency_ms: Option<String>,
    /// Delay added to the authorize step [default: 0]
    #[arg(long, value_name = "MS")]
    authorize_latency_ms: Option<String>,
    /// Share of API requests failing with 500/503, 0..1 [default: 0]
    #[arg(long, value_name = "P")]
    failure_rate: Option<String>,
    /// Token endpoint rejects every authorization code
    #[arg(long)]
    reject_code: bool,
    /// Token endpoint rejects every refresh token
    #[arg(long)]
    reject_refresh: bool,
    /// discovery | token | fhir answers malformed (repeatable)
    #[arg(long, value_name = "TARGET")]
    malformed: Vec<String>,
    /// .well-known answers 307 to URL or /path (clients must not follow)
    #[arg(long, value_name = "URL")]
    discovery_redirect: Option<String>,
    /// Discovery advertises URL as token_endpoint (a mix-up attack)
    #[arg(long, value_name = "URL")]
    foreign_token_endpoint: Option<String>,
    /// .well-known without code_challenge_methods_supported
    #[arg(long)]
    omit_pkce_methods: bool,
    /// FHIR answers 401 to every request (a dead session)
    #[arg(long)]
    fhir_unauthorized: bool,
    /// id_tokens carry a signature that does not verify
    #[arg(long)]
    bad_id_token_signature: bool,
    /// Searches of TYPE (e.g. Condition) answer 500
    #[arg(long, value_name = "TYPE")]
    fail_searches: Option<String>,
    /// Reads and searches of TYPE answer 403 though the scope covers it
    #[arg(long, value_name = "TYPE")]
    forbid: Option<String>,
    /// Requests whose query contains TEXT answer MS later (repeatable)
    #[arg(long, value_name = "TEXT=MS")]
    slow_query: Vec<String>,
    /// Requests whose path starts with PATH never answer (repeatable), e.g.
    /// /fhir/.well-known/smart-configuration or /fhir/Patient/
    #[arg(long, value_name = "PATH")]
    hang: Vec<String>,
    /// Authorization responses without iss, though it is advertised
    #[arg(long)]
    omit_callback_iss: bool,
    /// Claims written over the id_token's (signed as usual): a JSON object, e.g. an aud list with
    /// another audience, an azp, a future iat
    #[arg(long, value_name = "JSON")]
    id_token_claims: Option<String>,
    /// Data generator seed [default: 42]
    #[arg(long, value_name = "N")]
    seed: Option<String>,
    /// Observations of the large-record patient [default: 10000]
    #[arg(long, value_name = "N")]
    big_observations: Option<String>,
    /// No request log
    #[arg(long)]
    quiet: bool,
}

/// Reads the command line (clap), each option falling back to its `SANDBOX_*` variable.
pub fn from_args_and_env(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, String> {
    use clap::Parser;
    let cli =
        Cli::try_parse_from(std::iter::once("sandbox".to_string()).chain(args.iter().cloned()))
            .map_err(|e| e.to_string())?;
    let var = |name: &str| {
        env(&format!(
            "SANDBOX_{}",
            name.to_uppercase().replace('-', "_")
        ))
    };
    let one = |given: Option<String>, name: &str| given.or_else(|| var(name));
    let many = |given: Vec<String>, name: &str| -> Vec<String> {
        if !given.is_empty() {
            return given;
        }
        var(name)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let flag =
        |given: bool, name: &str| given || var(name).is_some_and(|v| v != "false" && v != "0");
    fn num<T: std::str::FromStr>(name: &str, v: Option<String>, default: T) -> Result<T, String> {
        match v {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: {v:?} is not a valid number")),
        }
    }

    let mut c = Config::default();
    let host: IpAddr = match one(cli.host, "host") {
        Some(h) => h
            .parse()
            .map_err(|_| format!("--host: {h:?} is not an IP address"))?,
        None => c.listen.ip(),
    };
    let port: u16 = num("port", one(cli.port, "port"), 9000)?;
    c.listen = SocketAddr::new(host, port);
    c.public_url = one(cli.public_url, "public-url")
        .unwrap_or_else(|| format!("http://localhost:{port}"))
        .trim_end_matches('/')
        .to_string();
    url::Url::parse(&c.public_url).map_err(|e| format!("--public-url: {e}"))?;
    if let Some(app) = one(cli.app_url, "app-url") {
        url::Url::parse(&app).map_err(|e| format!("--app-url: {e}"))?;
        c.app_url = app;
    }
    if let Some(id) = one(cli.client_id, "client-id") {
        c.clients[0].id = id;
    }
    let redirects = many(cli.redirect_uri, "redirect-uri");
    if !redirects.is_empty() {
        for r in &redirects {
            url::Url::parse(r).map_err(|e| format!("--redirect-uri {r:?}: {e}"))?;
        }
        c.clients[0].redirect_uris = redirects;
    }
    // A client's spec holds spaces: it is never split (nor read from the environment).
    for spec in &cli.client {
        c.clients.push(parse_client(spec)?);
    }
    if let Some(p) = one(cli.profile, "profile") {
        c.profile = crate::profile::Profile::parse(&p)?;
    }
    c.auth_port = num(
        "auth-port",
        one(cli.auth_port, "auth-port"),
        port.saturating_add(1),
    )?;
    c.smart_v1_only = flag(cli.smart_v1_only, "smart-v1-only");
    c.auto_approve = flag(cli.auto_approve, "auto-approve");
    c.auto_patient = one(cli.auto_patient, "auto-patient");
    c.token_lifetime = Duration::from_secs(num(
        "token-lifetime",
        one(cli.token_lifetime, "token-lifetime"),
        c.profile.default_token_lifetime_s(),
    )?);
    c.code_lifetime = Duration::from_secs(num(
        "code-lifetime",
        one(cli.code_lifetime, "code-lifetime"),
        60,
    )?);
    c.faults.latency_ms = num("latency-ms", one(cli.latency_ms, "latency-ms"), 0)?;
    c.faults.authorize_latency_ms = num(
        "authorize-latency-ms",
        one(cli.authorize_latency_ms, "authorize-latency-ms"),
        0,
    )?;
    c.faults.failure_rate = num("failure-rate", one(cli.failure_rate, "failure-rate"), 0.0)?;
    if !(0.0..=1.0).contains(&c.faults.failure_rate) {
        return Err("--failure-rate must lie between 0 and 1".into());
    }
    c.faults.reject_code = flag(cli.reject_code, "reject-code");
    c.faults.reject_refresh = flag(cli.reject_refresh, "reject-refresh");
    c.faults.malformed = many(cli.malformed, "malformed")
        .iter()
        .map(|m| Malformed::parse(m))
        .collect::<Result<_, _>>()?;
    if let Some(u) = one(cli.discovery_redirect, "discovery-redirect") {
        if !u.starts_with('/') {
            url::Url::parse(&u).map_err(|e| format!("--discovery-redirect: {e}"))?;
        }
        c.faults.discovery_redirect = Some(u);
    }
    if let Some(u) = one(cli.foreign_token_endpoint, "foreign-token-endpoint") {
        url::Url::parse(&u).map_err(|e| format!("--foreign-token-endpoint: {e}"))?;
        c.faults.foreign_token_endpoint = Some(u);
    }
    c.faults.omit_pkce_methods = flag(cli.omit_pkce_methods, "omit-pkce-methods");
    c.faults.fhir_unauthorized = flag(cli.fhir_unauthorized, "fhir-unauthorized");
    c.faults.bad_id_token_signature = flag(cli.bad_id_token_signature, "bad-id-token-signature");
    c.faults.fail_searches = one(cli.fail_searches, "fail-searches");
    c.faults.forbid = one(cli.forbid, "forbid");
    for q in many(cli.slow_query, "slow-query") {
        let (text, ms) = q
            .rsplit_once('=')
            .ok_or_else(|| format!("--slow-query: {q:?} is not TEXT=MS"))?;
        c.faults.slow_queries.push((
            text.to_string(),
            num("slow-query", Some(ms.to_string()), 0)?,
        ));
    }
    c.faults.hang = many(cli.hang, "hang");
    if let Some(bad) = c.faults.hang.iter().find(|p| !p.starts_with('/')) {
        return Err(format!("--hang: {bad:?} is not a path (it starts with /)"));
    }
    c.faults.omit_callback_iss = flag(cli.omit_callback_iss, "omit-callback-iss");
    if let Some(j) = one(cli.id_token_claims, "id-token-claims") {
        c.faults.id_token_claims = Some(id_token_claims(&j)?);
    }
    c.seed = num("seed", one(cli.seed, "seed"), 42)?;
    c.big_observations = num(
        "big-observations",
        one(cli.big_observations, "big-observations"),
        10_000,
    )?;
    c.log_requests = !flag(cli.quiet, "quiet");
    Ok(c)
}

/// `--id-token-claims`: a JSON object.
pub fn id_token_claims(j: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(j) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(format!("--id-token-claims: {j:?} is not a JSON object")),
    }
}

/// `id=ID,redirect=URI[ URI...],scopes=S1 S2...,secret=SECRET`.
pub fn parse_client(spec: &str) -> Result<Client, String> {
    let mut client = Client {
        id: String::new(),
        redirect_uris: Vec::new(),
        allowed_scopes: None,
        secret: None,
    };
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--client: {part:?} is not key=value"))?;
        match k.trim() {
            "id" => client.id = v.trim().to_string(),
            "redirect" => {
                for r in v.split_whitespace() {
                    url::Url::parse(r).map_err(|e| format!("--client redirect {r:?}: {e}"))?;
                    client.redirect_uris.push(r.to_string());
                }
            }
            "scopes" => {
                client.allowed_scopes = Some(v.split_whitespace().map(str::to_string).collect())
            }
            "secret" => client.secret = Some(v.to_string()),
            other => {
                return Err(format!(
                    "--client: unknown key {other:?} (id, redirect, scopes, secret)"
                ))
            }
        }
    }
    if client.id.is_empty() || client.redirect_uris.is_empty() {
        return Err("--client needs at least id=... and redirect=...".into());
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        from_args_and_env(&args, &|_| None)
    }

    #[test]
    fn defaults_match_the_app() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.public_url, "http://localhost:9000");
        assert_eq!(c.clients[0].id, "smart-launch");
        assert_eq!(c.clients[0].redirect_uris, vec![DEFAULT_REDIRECT_URI]);
    }

    #[test]
    fn flags_and_env() {
        let c = parse(&["--port", "9100", "--reject-code", "--malformed=token"]).unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.public_url, "http://localhost:9100");
        assert!(c.faults.reject_code);
        assert_eq!(c.faults.malformed, vec![Malformed::Token]);
        let c = parse(&[
            "--foreign-token-endpoint",
            "http://localhost:9999/token",
            "--omit-pkce-methods",
            "--fhir-unauthorized",
            "--bad-id-token-signature",
            "--fail-searches",
            "Condition",
            "--forbid",
            "AllergyIntolerance",
            "--slow-query",
            "name=Smith=1500",
            "--latency-ms",
            "30",
            "--authorize-latency-ms",
            "200",
        ])
        .unwrap();
        assert_eq!(
            (c.faults.latency_ms, c.faults.authorize_latency_ms),
            (30, 200)
        );
        assert_eq!(
            c.faults.foreign_token_endpoint.as_deref(),
            Some("http://localhost:9999/token")
        );
        assert!(c.faults.omit_pkce_methods && c.faults.fhir_unauthorized);
        assert!(c.faults.bad_id_token_signature);
        assert_eq!(c.faults.fail_searches.as_deref(), Some("Condition"));
        assert_eq!(c.faults.forbid.as_deref(), Some("AllergyIntolerance"));
        assert_eq!(c.faults.slow_queries, [("name=Smith".to_string(), 1500)]);
        assert!(parse(&["--foreign-token-endpoint", "nope"]).is_err());
        let c = parse(&[
            "--hang",
            "/fhir/.well-known",
            "--hang=/fhir/Patient/",
            "--omit-callback-iss",
            "--id-token-claims",
            r#"{"aud":["smart-launch","other"]}"#,
        ])
        .unwrap();
        assert_eq!(c.faults.hang, vec!["/fhir/.well-known", "/fhir/Patient/"]);
        assert!(c.faults.omit_callback_iss);
        assert_eq!(
            c.faults.id_token_claims.as_ref().map(|m| m["aud"].clone()),
            Some(serde_json::json!(["smart-launch", "other"]))
        );
        assert!(parse(&["--hang", "fhir"]).is_err());
        assert_eq!(
            parse(&["--profile", "epic"]).unwrap().profile,
            crate::profile::Profile::Epic
        );
        assert!(parse(&["--profile", "nope"]).is_err());
        let oracle = parse(&["--profile", "oracle", "--port", "9100"]).unwrap();
        assert_eq!(
            (oracle.auth_port, oracle.token_lifetime.as_secs()),
            (9101, 570)
        );
        let v = parse(&["--profile", "veradigm", "--token-lifetime", "60"]).unwrap();
        assert_eq!(
            v.token_lifetime.as_secs(),
            60,
            "the flag wins over the profile"
        );
        assert!(parse(&["--id-token-claims", "[1]"]).is_err());
        let env = |k: &str| match k {
            "SANDBOX_TOKEN_LIFETIME" => Some("10".to_string()),
            "SANDBOX_HANG" => Some("/a /b".to_string()),
            "SANDBOX_AUTO_APPROVE" => Some("1".to_string()),
            "SANDBOX_QUIET" => Some("false".to_string()),
            _ => None,
        };
        let c = from_args_and_env(&[], &env).unwrap();
        assert_eq!(c.token_lifetime, Duration::from_secs(10));
        assert_eq!(
            c.faults.hang,
            ["/a", "/b"],
            "repeatable options split on spaces"
        );
        assert!(c.auto_approve && c.log_requests);
        let given = from_args_and_env(&["--hang".into(), "/c".into()], &env).unwrap();
        assert_eq!(given.faults.hang, ["/c"], "the command line wins");
    }

    #[test]
    fn help_and_unknown_options() {
        let help = parse(&["--help"]).unwrap_err();
        assert!(
            help.contains("--slow-query") && help.contains("SANDBOX_"),
            "{help}"
        );
        let unknown = parse(&["--no-such-option"]).unwrap_err();
        assert!(unknown.contains("--no-such-option"), "{unknown}");
        assert!(parse(&["--port"]).is_err(), "a value is needed");
        assert!(parse(&["--port", "x"]).is_err());
    }

    #[test]
    fn extra_clients() {
        let c = parse(&["--client", "id=other,redirect=http://localhost:3000/cb http://localhost:3000/cb2,scopes=launch patient/*.rs,secret=s"]).unwrap();
        assert_eq!(c.clients.len(), 2);
        let other = &c.clients[1];
        assert_eq!(other.redirect_uris.len(), 2);
        assert_eq!(
            other.allowed_scopes.as_deref(),
            Some(&["launch".to_string(), "patient/*.rs".to_string()][..])
        );
        assert_eq!(other.secret.as_deref(), Some("s"));
        assert!(parse(&["--client", "id=x"]).is_err());
        assert!(parse(&["--client", "id=x,redirect=notaurl"]).is_err());
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(parse(&["--nope"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--failure-rate", "2"]).is_err());
        assert!(parse(&["--malformed", "all"]).is_err());
    }
}
