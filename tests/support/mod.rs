//! End-to-end harness: the sandbox EHR and the built app on two loopback origins (ephemeral
//! ports), Debian's chromedriver + headless Chromium, and a WebDriver client.
// Test harness: a broken setup fails the test with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

pub mod cdp;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use sandbox::config::Config;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Env {
    /// Where launch.html lies, without the trailing slash (`http://localhost:PORT[/sub/path]`).
    pub app: String,
    /// Every request the app's host answered: path, status, `Content-Encoding`.
    pub app_requests: RequestLog,
    pub sandbox: sandbox::Running,
    /// A second configured EHR (`id` "second"), when the test asked for one ([`start_two`]).
    pub second: Option<sandbox::Running>,
    pub browser: Client,
    pub driver: Child,
    driver_port: u16,
    _profile: TempDir,
    _dist: TempDir,
}

/// A test that fails (panics) before `close` would leave its headless Chromium running: dozens
/// piled up over a day's runs and skewed the benchmark. Killing chromedriver's process group
/// takes the browser with it, whatever way the test ended.
impl Drop for Env {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Path, status and `Content-Encoding` of each response, in order.
pub type RequestLog = Arc<std::sync::Mutex<Vec<(String, u16, Option<String>)>>>;

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "smart-launch-e2e-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&p).expect("temp dir");
    TempDir(p)
}

/// The built app: `APP_DIST` or `dist/` (README's test command builds it with Trunk first).
pub fn dist() -> PathBuf {
    let p = std::env::var_os("APP_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("dist"));
    assert!(
        p.join("launch.html").exists(),
        "{} has no launch.html: build the app first (scripts/test.sh does: trunk build --offline)",
        p.display()
    );
    p
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read dist") {
        let e = e.expect("dist entry");
        if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy dist file");
        }
    }
}

async fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

pub const ALL_SCOPES: &str = "online_access patient/Patient.rs patient/Practitioner.rs patient/Condition.rs \
    patient/Observation.rs patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Encounter.rs \
    patient/DiagnosticReport.rs patient/DocumentReference.rs";

pub async fn start(tweak: impl FnOnce(&mut Config)) -> Env {
    start_with(tweak, |_| {}).await
}

/// Like [`start`], with the app's configuration entry for the sandbox changed by `app`.
pub async fn start_with(
    tweak: impl FnOnce(&mut Config),
    app_entry: impl FnOnce(&mut Value),
) -> Env {
    start_hosted(Hosting::AppHost, tweak, app_entry).await
}

/// How the built app is served.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hosting {
    /// app-host, with its Content-Security-Policy and other security headers.
    AppHost,
    /// The same files with none of app-host's security headers, as a plain static host, a CDN
    /// or `trunk serve` would serve them: what the app guarantees by itself.
    Plain,
    /// app-host's files under a sub-path ([`SUB_PATH`]), as README's deployment example has it.
    SubPath,
}

/// Where [`Hosting::SubPath`] serves the app.
pub const SUB_PATH: &str = "/smart-launch";

pub async fn start_hosted(
    host_kind: Hosting,
    tweak: impl FnOnce(&mut Config),
    app_entry: impl FnOnce(&mut Value),
) -> Env {
    start_full(host_kind, tweak, app_entry, None::<fn(&mut Config)>).await
}

/// Two configured EHRs, each a sandbox of its own (another origin): `sandbox` (the first,
/// changed by `first`) and `second`, changed by `second`.
pub async fn start_two(first: impl FnOnce(&mut Config), second: impl FnOnce(&mut Config)) -> Env {
    start_full(Hosting::AppHost, first, |_| {}, Some(second)).await
}

async fn start_full(
    host_kind: Hosting,
    tweak: impl FnOnce(&mut Config),
    app_entry: impl FnOnce(&mut Value),
    second: Option<impl FnOnce(&mut Config)>,
) -> Env {
    // The app's origin first: the sandbox must know its redirect URI.
    let app_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind app");
    let app_port = app_listener.local_addr().expect("addr").port();
    let app = match host_kind {
        Hosting::SubPath => format!("http://localhost:{app_port}{SUB_PATH}"),
        _ => format!("http://localhost:{app_port}"),
    };
    let mut config = Config {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        log_requests: false,
        app_url: format!("{app}/launch.html"),
        ..Config::default()
    };
    config.clients[0].redirect_uris = vec![format!("{app}/launch.html")];
    let second_config = second.map(|tweak_second| {
        let mut c = config.clone();
        tweak_second(&mut c);
        c
    });
    tweak(&mut config);
    let sandbox = sandbox::spawn(config).await.expect("sandbox starts");
    let second = match second_config {
        Some(c) => Some(sandbox::spawn(c).await.expect("second sandbox starts")),
        None => None,
    };

    // The app as deployed: the built files plus a config.json naming this sandbox.
    let dist_copy = temp_dir("dist");
    copy_dir(&dist(), &dist_copy.0);
    let mut entry = json!({
        "id": "sandbox", "name": "Sandbox EHR", "iss": sandbox.sandbox.fhir_base, "client_id": "smart-launch",
        "scopes": ALL_SCOPES,
    });
    // An authorization server on another origin (a profile's): named, as an administrator
    // would, in the entry's extra_origins.
    if let Some(auth) = &sandbox.sandbox.config.auth_url {
        entry["extra_origins"] = json!([auth]);
    }
    app_entry(&mut entry);
    let mut entries = vec![entry];
    if let Some(b) = &second {
        entries.push(json!({
            "id": "second", "name": "Second EHR", "iss": b.sandbox.fhir_base, "client_id": "smart-launch",
            "scopes": ALL_SCOPES,
        }));
    }
    let app_config = json!({ "ehrs": entries });
    std::fs::write(dist_copy.0.join("config.json"), app_config.to_string()).expect("write config");
    let host = sandbox::app_host::AppHost::new(&dist_copy.0).expect("app host");
    let mut router = host.router();
    if host_kind == Hosting::Plain {
        router = router.layer(axum::middleware::map_response(
            |mut res: axum::response::Response| async move {
                let h = res.headers_mut();
                for name in [
                    "content-security-policy",
                    "referrer-policy",
                    "x-content-type-options",
                ] {
                    h.remove(name);
                }
                res
            },
        ));
    }
    if host_kind == Hosting::SubPath {
        router = axum::Router::new().nest_service(SUB_PATH, router);
    }
    let app_requests: RequestLog = Arc::default();
    let log = app_requests.clone();
    router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let log = log.clone();
            async move {
                let path = req.uri().path().to_string();
                let res = next.run(req).await;
                let coding = res
                    .headers()
                    .get("content-encoding")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                if let Ok(mut l) = log.lock() {
                    l.push((path, res.status().as_u16(), coding));
                }
                res
            }
        },
    ));
    tokio::spawn(async move {
        let _ = axum::serve(app_listener, router).await;
    });

    let port = free_port().await;
    let driver = Command::new(
        std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
    )
    .arg(format!("--port={port}"))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    // Its own process group, with the Chromium it starts: see `impl Drop for Env`.
    .process_group(0)
    .kill_on_drop(true)
    .spawn()
    .expect("chromedriver (apt-get install chromium-driver; scripts/setup.sh does it)");
    let profile = temp_dir("profile");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium} (set CHROMIUM, or apt-get install chromium; scripts/setup.sh does it)"
    );
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--window-size=1100,900",
                "--host-resolver-rules=MAP localhost 127.0.0.1",
                format!("--user-data-dir={}", profile.0.display()),
            ],
            // The network's DevTools events, for what the server cannot see: a file taken from
            // the HTTP cache, and what kind of load asked for it ([`Env::network`]).
            "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
        },
        "goog:loggingPrefs": { "browser": "ALL", "performance": "ALL" },
    });
    let caps = match caps {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let mut browser = None;
    for _ in 0..100 {
        let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        b.capabilities(caps.clone());
        match b.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => {
                browser = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Env {
        app,
        app_requests,
        sandbox,
        second,
        browser: browser.expect("a WebDriver session with headless Chromium"),
        driver,
        driver_port: port,
        _profile: profile,
        _dist: dist_copy,
    }
}

impl Env {
    pub fn fhir(&self) -> &str {
        &self.sandbox.sandbox.fhir_base
    }

    /// Changes the sandbox's faults while it runs (as `POST /_admin/faults` would).
    pub fn set_faults(&self, change: impl FnOnce(&mut sandbox::config::Faults)) {
        change(
            &mut self
                .sandbox
                .sandbox
                .faults
                .write()
                .unwrap_or_else(|e| e.into_inner()),
        );
    }

    pub fn stat(&self, name: &str) -> usize {
        let s = &self.sandbox.sandbox.stats;
        match name {
            "token" => s.token_requests.load(Ordering::Relaxed) as usize,
            "revoke" => s.revocation_requests.load(Ordering::Relaxed) as usize,
            "authorize" => s.authorize_requests.load(Ordering::Relaxed) as usize,
            "fhir" => s.fhir_requests.load(Ordering::Relaxed) as usize,
            "fhir-401" => s.fhir_unauthorized.load(Ordering::Relaxed) as usize,
            _ => s.requests.load(Ordering::Relaxed) as usize,
        }
    }

    /// The element `css`, waiting for it to appear. Any error is retried until the deadline, not
    /// only "no such element": a find sent while the page navigates (a redirect, the app moving to
    /// the authorize page) is answered "aborted by navigation", which says nothing about the page
    /// that comes next (it made CI fail once).
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.browser.find(Locator::Css(css)).await {
                Ok(el) => return el,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("{css} did not appear: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn text(&self, css: &str) -> String {
        let el = self.element(css).await;
        el.text().await.unwrap_or_default()
    }

    /// The files this test's app host serves (a copy of the build, with this test's
    /// config.json); read from disk on every request, so a test may change them.
    pub fn served_files(&self) -> &Path {
        &self._dist.0
    }

    /// Waits until `css` shows text that satisfies `ok`; returns it.
    pub async fn text_when(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(el) = self.browser.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if ok(&t) {
                        return t;
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                let src = self.browser.source().await.unwrap_or_default();
                panic!(
                    "{css} never showed the expected text; page:\n{}",
                    &src[..src.len().min(3000)]
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `css` once it is there. A click answered with an error (the element went stale,
    /// or the page navigated on its own between the find and the click) did not happen, so it
    /// is tried again, on the element found anew, until the deadline.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.element(css).await.click().await {
                Ok(_) => return,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("clicking {css}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    pub async fn select(&self, css: &str, value: &str) {
        let el = self.element(css).await;
        el.select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// An EHR launch from the sandbox's launch page for `patient`, approved at the consent page.
    pub async fn ehr_launch(&self, patient: &str) {
        self.ehr_launch_auto(patient).await;
        self.click("#allow").await;
    }

    /// An EHR launch from the sandbox's launch page for `patient`, without the consent step (a
    /// sandbox with auto-approve has none).
    pub async fn ehr_launch_auto(&self, patient: &str) {
        self.open_sandbox_page(patient).await;
        self.click("#launch").await;
    }

    /// The sandbox's EHR launch page with `patient` chosen, once it is shown.
    pub async fn open_sandbox_page(&self, patient: &str) {
        let page = format!(
            "{}/?patient={patient}",
            self.sandbox.sandbox.config.public_url
        );
        self.browser.goto(&page).await.unwrap();
        self.element("#launch").await;
    }

    pub async fn open_tab(&self, tab: &str) {
        self.click(&format!("#tab-{tab}")).await;
    }

    /// Rows of a table's body.
    pub async fn rows(&self, table_css: &str) -> usize {
        self.browser
            .find_all(Locator::Css(&format!("{table_css} tbody tr")))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Resources of `resource_type` in the sandbox's record of `patient`.
    pub fn record(&self, resource_type: &'static str, patient: &str) -> Vec<Value> {
        self.sandbox
            .sandbox
            .data
            .by_patient
            .get(&(resource_type, patient.to_string()))
            .map(|v| v.iter().map(|r| r.json.clone()).collect())
            .unwrap_or_default()
    }

    pub async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = self.browser.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    /// The name a clinician expects for `id`, from the sandbox's own record and worked out here
    /// (not by the app's code under test): the official name, else the first; its `text`, else
    /// prefixes, given names, family name and suffixes (FHIR R4 HumanName).
    pub fn patient_name(&self, id: &str) -> String {
        let r = &self.sandbox.sandbox.data.by_id[&("Patient", id.to_string())];
        let names = r.json["name"].as_array().cloned().unwrap_or_default();
        let name = names
            .iter()
            .find(|n| n["use"] == "official")
            .or_else(|| names.first())
            .cloned()
            .unwrap_or(Value::Null);
        if let Some(t) = name["text"].as_str() {
            return t.trim().to_string();
        }
        let words = |k: &str| -> Vec<String> {
            match &name[k] {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            }
        };
        let mut parts = words("prefix");
        parts.extend(words("given"));
        parts.extend(words("family"));
        parts.extend(words("suffix"));
        parts
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// axe-core (npm, tools/node_modules) run on the current page against WCAG 2.1 A and AA:
    /// each violation as `rule: help — first elements`. Injected through WebDriver, which the
    /// page's Content-Security-Policy does not govern.
    pub async fn axe(&self) -> Vec<String> {
        let src = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/node_modules/axe-core/axe.min.js"),
        )
        .expect("axe-core (scripts/setup.sh installs it into tools/)");
        self.browser
            .execute(&format!("{src}\nreturn typeof axe;"), vec![])
            .await
            .expect("axe-core loads");
        let v = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' — ' +
                       v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    }

    pub async fn session_storage(&self) -> Value {
        self.browser
            .execute("return Object.assign({}, window.sessionStorage);", vec![])
            .await
            .unwrap_or(Value::Null)
    }

    /// The session this tab stored (its key ends with the tab's id), parsed.
    pub async fn stored_session(&self) -> Option<Value> {
        stored_session(&self.session_storage().await)
    }

    pub async fn local_storage_len(&self) -> u64 {
        self.browser
            .execute("return window.localStorage.length;", vec![])
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    }

    /// Chromedriver's log of `kind` since the last call (`goog:loggingPrefs` turns them on).
    async fn driver_log(&self, kind: &str) -> Vec<Value> {
        let id = self
            .browser
            .session_id()
            .await
            .ok()
            .flatten()
            .expect("a WebDriver session");
        let (_, body) = http(
            &format!("http://127.0.0.1:{}/session/{id}/se/log", self.driver_port),
            Some(json!({ "type": kind }).to_string().as_str()),
        )
        .await;
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        v["value"].as_array().cloned().unwrap_or_default()
    }

    /// The browser's console since the last call: each entry as `LEVEL message`.
    pub async fn console(&self) -> Vec<String> {
        self.driver_log("browser")
            .await
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["level"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// The DevTools `Network.requestWillBeSent` events since the last call, in order, across
    /// every page of the tab: each request's `params` (`request.url`, `type`: "Document",
    /// "Script", "Fetch", "Other" for a prefetch…), whether the server saw it or the HTTP cache
    /// answered it.
    pub async fn network(&self) -> Vec<Value> {
        self.driver_log("performance")
            .await
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e["message"].as_str()?).ok())
            .filter(|m| m["message"]["method"] == "Network.requestWillBeSent")
            .map(|m| m["message"]["params"].clone())
            .collect()
    }

    pub async fn close(self) {
        let _ = self.browser.clone().close().await;
    }
}

/// A practitioner's standalone launch without a patient (user-level scopes, the entry asks for no
/// patient): the app on its patient search screen.
pub async fn start_practitioner_search() -> Env {
    let env = start_with(
        |_| {},
        |entry| {
            entry["standalone_patient"] = Value::Bool(false);
            entry["scopes"] = Value::String("online_access user/Patient.rs user/Practitioner.rs user/Condition.rs user/Observation.rs user/MedicationRequest.rs user/AllergyIntolerance.rs user/Encounter.rs user/DiagnosticReport.rs user/DocumentReference.rs".into());
        },
    )
    .await;
    env.browser
        .goto(&format!("{}/launch.html", env.app))
        .await
        .unwrap();
    env.click("#ehr-sandbox").await;
    env.click("#login-practitioner").await;
    env.click("#allow").await;
    env.element("#search-name").await;
    env
}

/// A TCP server that counts connections and answers nothing useful: proof of "no request sent".
pub async fn counting_server() -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::Relaxed);
        }
    });
    (port, count)
}

/// One HTTP/1.1 request (GET, or POST with a JSON body) over a plain TCP connection: the status
/// line and headers, and the body. Redirects are not followed: a test reads `Location` itself.
pub async fn http(url: &str, json_body: Option<&str>) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let u = url::Url::parse(url).expect("a URL");
    let host = u.host_str().expect("a host");
    let port = u.port_or_known_default().expect("a port");
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    let mut conn = tokio::net::TcpStream::connect((host, port))
        .await
        .expect("connect");
    let request = match json_body {
        Some(b) => format!(
            "POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        ),
        None => format!("GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"),
    };
    conn.write_all(request.as_bytes()).await.expect("send");
    // Read until the headers end, then the body's Content-Length: a server may keep the
    // connection open whatever the request said.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                });
                if length.is_some_and(|n| body.len() >= n) {
                    return (head.to_string(), body.to_string());
                }
            }
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                    return (head.to_string(), body.to_string());
                }
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .unwrap_or_else(|_| panic!("{url} did not answer"))
}

/// An authorization code that `ehr` (a sandbox with auto-approve) issues to this app's client
/// for a sign-in this browser never started: what an attacker holding a code of their own
/// would deliver to someone else's sign-in.
pub async fn code_from(ehr: &sandbox::Running, redirect_uri: &str) -> String {
    let fhir = &ehr.sandbox.fhir_base;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", "smart-launch")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "launch/patient openid fhirUser patient/*.rs")
        .append_pair("state", "the-attackers-own-state")
        .append_pair("aud", fhir)
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    let (head, _) = http(
        &format!("{}/auth/authorize?{query}", ehr.sandbox.config.public_url),
        None,
    )
    .await;
    let location = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no redirect from the authorize endpoint: {head}"));
    url::Url::parse(&location)
        .expect("a redirect URL")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// The session entry in a copy of sessionStorage (the app keys it by the tab's id), parsed.
pub fn stored_session(stored: &Value) -> Option<Value> {
    let (_, v) = stored
        .as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("smart-launch.session."))?;
    serde_json::from_str(v.as_str()?).ok()
}
