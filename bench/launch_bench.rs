//! The launch benchmark: smart-launch side by side with a fhirclient.js reference app, in one run,
//! against the sandbox EHR, in headless Chromium. Writes BENCHMARKS.md.
//!
//!     scripts/bench.sh            (builds everything, then runs this with --launches 20)
//!
//! Measures the transfer size of each app, then alternates EHR launches of the two apps and
//! records for each: navigation to authorize redirect, navigation to patient name painted,
//! requests and bytes until the name is painted; and loads the 10,000-observation record.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use sandbox::state::{LaunchContext, User};
use serde_json::{json, Value};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Requests seen by a server: (epoch ms, path, response bytes).
#[derive(Default)]
struct Log(Mutex<Vec<(u64, String, u64)>>);

impl Log {
    fn take(&self) -> Vec<(u64, String, u64)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

async fn record(State(log): State<Arc<Log>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let at = now_ms();
    let res = next.run(req).await;
    let bytes = axum::body::HttpBody::size_hint(res.body())
        .exact()
        .unwrap_or(0);
    log.0.lock().unwrap().push((at, path, bytes));
    res
}

/// A plain static server for the reference app (and fhir-client.min.js from npm).
fn reference_router(dir: PathBuf, lib: PathBuf) -> Router {
    Router::new().fallback(move |req: Request| {
        let (dir, lib) = (dir.clone(), lib.clone());
        async move {
            let name = req.uri().path().trim_start_matches('/').to_string();
            let file = match name.as_str() {
                "fhir-client.min.js" => lib,
                "launch.html" | "index.html" | "launch.js" | "app.js" => dir.join(&name),
                _ => return (axum::http::StatusCode::NOT_FOUND, "not found").into_response(),
            };
            // Served as app-host serves ours: the same caching and compression.
            match tokio::fs::read(&file).await {
                Ok(b) => sandbox::app_host::file_response(req.headers(), &file, b),
                Err(_) => (axum::http::StatusCode::NOT_FOUND, "not found").into_response(),
            }
        }
    })
}

struct Sizes {
    files: Vec<(String, usize, usize, usize)>,
}

fn gzip9(b: &[u8]) -> usize {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b).unwrap();
    e.finish().unwrap().len()
}

fn brotli(b: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut std::io::Cursor::new(b), &mut out, &params).unwrap();
    out.len()
}

fn sizes(files: &[(String, PathBuf)]) -> Sizes {
    Sizes {
        files: files
            .iter()
            .map(|(name, p)| {
                let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                (name.clone(), b.len(), gzip9(&b), brotli(&b))
            })
            .collect(),
    }
}

impl Sizes {
    fn total(&self) -> (usize, usize, usize) {
        self.files
            .iter()
            .fold((0, 0, 0), |a, f| (a.0 + f.1, a.1 + f.2, a.2 + f.3))
    }
}

fn kb(b: usize) -> String {
    format!("{:.1}", b as f64 / 1000.0)
}

#[derive(Clone, Debug, Default)]
struct Launch {
    to_authorize: f64,
    to_name: f64,
    requests: usize,
    bytes: u64,
    /// `path (bytes)` of each request until the name was painted, in order.
    paths: Vec<String>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.0), q(0.9), q(1.0))
}

async fn mark_epoch(b: &Client, name: &str, limit: Duration) -> Option<f64> {
    let script = format!(
        "const e = performance.getEntriesByName('{name}'); return e.length ? performance.timeOrigin + e[0].startTime : null;"
    );
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(v) = b.execute(&script, vec![]).await {
            if let Some(t) = v.as_f64() {
                return Some(t);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

struct Bench {
    sandbox: Arc<sandbox::Sandbox>,
    sandbox_log: Arc<Log>,
    browser: Client,
}

impl Bench {
    async fn launch(&self, app_url: &str, static_log: &Log, patient: &str) -> Launch {
        let launch = sandbox::oauth::new_launch(
            &self.sandbox,
            LaunchContext {
                user: User::Practitioner("dr-adams".into()),
                patient: patient.into(),
                encounter: None,
                need_patient_banner: true,
                created: Instant::now(),
            },
        );
        let url = format!(
            "{app_url}?iss={}&launch={launch}",
            url::form_urlencoded::byte_serialize(self.sandbox.fhir_base.as_bytes())
                .collect::<String>()
        );
        // Leave the previous page for a blank one so nothing of it runs during the measurement.
        self.browser.goto("about:blank").await.unwrap();
        static_log.take();
        self.sandbox_log.take();
        let t0 = now_ms();
        self.browser.goto(&url).await.unwrap();
        let painted = mark_epoch(
            &self.browser,
            "patient-name-painted",
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|| panic!("{app_url}: the patient's name was never painted"));
        let authorize = self.sandbox.stats.last_authorize_ms.load(Ordering::Relaxed);
        // Requests made until the name was painted, the authorize navigation left out.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut all: Vec<(u64, String, u64)> = static_log.take();
        all.extend(
            self.sandbox_log
                .take()
                .into_iter()
                .filter(|(_, p, _)| p != "/auth/authorize"),
        );
        let before: Vec<&(u64, String, u64)> = all
            .iter()
            .filter(|(at, _, _)| (*at as f64) <= painted)
            .collect();
        Launch {
            to_authorize: authorize.saturating_sub(t0) as f64,
            to_name: painted - t0 as f64,
            requests: before.len(),
            bytes: before.iter().map(|(_, _, b)| *b).sum(),
            paths: before
                .iter()
                .map(|(_, p, b)| format!("{p} ({b} B)"))
                .collect(),
        }
    }
}

fn arg(name: &str, default: usize) -> usize {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let launches = arg("--launches", 20).max(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // APP_DIST measures another build (e.g. an earlier commit's) against the same reference.
    let dist = std::env::var_os("APP_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("dist"));
    let reference = root.join("bench/reference");
    let lib = root.join("bench/node_modules/fhirclient/build/fhir-client.min.js");

    // 1. Transfer sizes.
    let mut ours: Vec<(String, PathBuf)> = std::fs::read_dir(&dist)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
        .collect();
    ours.sort();
    let ours = sizes(&ours);
    let theirs = sizes(&[
        ("launch.html".into(), reference.join("launch.html")),
        ("launch.js".into(), reference.join("launch.js")),
        ("index.html".into(), reference.join("index.html")),
        ("app.js".into(), reference.join("app.js")),
        ("fhir-client.min.js".into(), lib.clone()),
    ]);

    // 2. Servers: the sandbox, our app's host, the reference's host.
    let app_log = Arc::new(Log::default());
    let ref_log = Arc::new(Log::default());
    let sandbox_log = Arc::new(Log::default());
    let app_l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let app_port = app_l.local_addr().unwrap().port();
    drop(app_l);
    let ref_port_l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let ref_port = ref_port_l.local_addr().unwrap().port();
    drop(ref_port_l);
    let sb_l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let sb_port = sb_l.local_addr().unwrap().port();
    let mut config = sandbox::Config {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, sb_port)),
        public_url: format!("http://localhost:{sb_port}"),
        auto_approve: true,
        log_requests: false,
        ..sandbox::Config::default()
    };
    config.clients[0].redirect_uris = vec![format!("http://localhost:{app_port}/launch.html")];
    config.clients.push(sandbox::config::Client {
        id: "fhirclient-reference".into(),
        redirect_uris: vec![format!("http://localhost:{ref_port}/index.html")],
        allowed_scopes: None,
        secret: None,
    });
    let sb = Arc::new(sandbox::Sandbox::new(config));
    let sb_router = sandbox::router(sb.clone()).layer(axum::middleware::from_fn_with_state(
        sandbox_log.clone(),
        record,
    ));
    tokio::spawn(async move { axum::serve(sb_l, sb_router).await });

    let app_dir = std::env::temp_dir().join(format!("smart-launch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&app_dir).unwrap();
    for (name, path) in std::fs::read_dir(&dist)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name(), e.path()))
    {
        std::fs::copy(path, app_dir.join(name)).unwrap();
    }
    let entry = json!({ "ehrs": [{ "id": "sandbox", "name": "Sandbox EHR", "iss": sb.fhir_base, "client_id": "smart-launch",
        "scopes": "online_access patient/Patient.rs patient/Practitioner.rs patient/Condition.rs patient/Observation.rs patient/MedicationRequest.rs patient/AllergyIntolerance.rs patient/Encounter.rs" }] });
    std::fs::write(app_dir.join("config.json"), entry.to_string()).unwrap();
    let host = sandbox::app_host::AppHost::new(&app_dir).unwrap();
    let app_router = host.router().layer(axum::middleware::from_fn_with_state(
        app_log.clone(),
        record,
    ));
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, app_port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(l, app_router).await });
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, ref_port))
        .await
        .unwrap();
    let rr = reference_router(reference.clone(), lib.clone()).layer(
        axum::middleware::from_fn_with_state(ref_log.clone(), record),
    );
    tokio::spawn(async move { axum::serve(l, rr).await });

    // 3. Chromium.
    let port = {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let mut driver = tokio::process::Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver");
    let profile =
        std::env::temp_dir().join(format!("smart-launch-bench-profile-{}", std::process::id()));
    let caps = json!({ "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
        "--enable-precise-memory-info", "--window-size=1100,900", "--host-resolver-rules=MAP localhost 127.0.0.1",
        format!("--user-data-dir={}", profile.display()),
    ]}});
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let mut browser = None;
    for _ in 0..100 {
        let mut b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        b.capabilities(caps.clone());
        if let Ok(c) = b.connect(&format!("http://127.0.0.1:{port}")).await {
            browser = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bench = Bench {
        sandbox: sb.clone(),
        sandbox_log: sandbox_log.clone(),
        browser: browser.expect("a Chromium session"),
    };
    let our_url = format!("http://localhost:{app_port}/launch.html");
    let ref_url = format!("http://localhost:{ref_port}/launch.html");

    // Warm-up, then alternate.
    for _ in 0..2 {
        bench.launch(&our_url, &app_log, "patient-01").await;
        bench.launch(&ref_url, &ref_log, "patient-01").await;
    }
    let mut our_runs = Vec::new();
    let mut ref_runs = Vec::new();
    for i in 0..launches {
        let patient = format!("patient-{:02}", i % 27 + 1);
        our_runs.push(bench.launch(&our_url, &app_log, &patient).await);
        ref_runs.push(bench.launch(&ref_url, &ref_log, &patient).await);
        eprint!(".");
    }
    eprintln!();

    // 4. The 10,000-observation record.
    bench.launch(&our_url, &app_log, "big-record").await;
    let b = &bench.browser;
    b.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#tab-vitals"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = mark_epoch(b, "vitals-start", Duration::from_secs(60))
        .await
        .unwrap();
    let fetched = mark_epoch(b, "vitals-fetched", Duration::from_secs(120))
        .await
        .unwrap();
    let painted = mark_epoch(b, "vitals-painted", Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heap = b
        .execute("return [performance.memory ? performance.memory.usedJSHeapSize : null, Number(document.documentElement.dataset.wasmMemory || 'NaN')];", vec![])
        .await
        .unwrap();
    let used_heap = heap[0].as_f64().unwrap_or(f64::NAN);
    let wasm_memory = heap[1].as_f64().unwrap_or(f64::NAN);
    let big_obs =
        sb.data.by_patient[&("Observation", sandbox::data::BIG_PATIENT.to_string())].len();
    let _ = b.clone().close().await;
    let _ = driver.kill().await;
    let _ = std::fs::remove_dir_all(&app_dir);
    let _ = std::fs::remove_dir_all(&profile);

    // 5. The report.
    let stat = |runs: &[Launch], f: fn(&Launch) -> f64| -> (f64, (f64, f64, f64)) {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        (median(&mut v.clone()), spread(&mut v))
    };
    let (o_auth, o_auth_s) = stat(&our_runs, |l| l.to_authorize);
    let (r_auth, r_auth_s) = stat(&ref_runs, |l| l.to_authorize);
    let (o_name, o_name_s) = stat(&our_runs, |l| l.to_name);
    let (r_name, r_name_s) = stat(&ref_runs, |l| l.to_name);
    let (o_req, _) = stat(&our_runs, |l| l.requests as f64);
    let (r_req, _) = stat(&ref_runs, |l| l.requests as f64);
    let (o_bytes, _) = stat(&our_runs, |l| l.bytes as f64);
    let (r_bytes, _) = stat(&ref_runs, |l| l.bytes as f64);
    let (ot, tt) = (ours.total(), theirs.total());

    let mut md = String::new();
    md.push_str("# Benchmarks\n\n");
    md.push_str(&format!(
        "Produced by `scripts/bench.sh` (`cargo run --release --example launch-bench -- --launches {launches}`) on {} UTC,\n\
         on this project's machine kind: {} cores, {}, headless Debian Chromium ({}). Both apps ran in the same\n\
         run, alternating, against the same sandbox EHR on loopback (auto-approve), after two warm-up launches each.\n\
         Both hosts cache and compress the same way (`sandbox::app_host::file_response`): files whose names carry a\n\
         content hash (Trunk's wasm, JS, CSS) are `immutable`; the others are revalidated with an ETag (304 when\n\
         unchanged); text and wasm go out brotli-compressed. fhir-client.min.js has no hash in its name, so it is\n\
         revalidated on every page. Request sizes below are the bytes on the wire (compressed).\n\n",
        date_string(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        mem_string(),
        chromium_version(),
    ));
    md.push_str("## Transfer size of what the launch page loads\n\n| file | raw KB | gzip -9 KB | brotli KB |\n|---|---:|---:|---:|\n");
    for (name, s) in [
        ("smart-launch", &ours),
        ("fhirclient.js reference", &theirs),
    ] {
        for f in &s.files {
            md.push_str(&format!(
                "| {name}: {} | {} | {} | {} |\n",
                f.0,
                kb(f.1),
                kb(f.2),
                kb(f.3)
            ));
        }
        let t = s.total();
        md.push_str(&format!(
            "| **{name}: total** | **{}** | **{}** | **{}** |\n",
            kb(t.0),
            kb(t.1),
            kb(t.2)
        ));
    }
    md.push_str(&format!(
        "\nSize is a reported figure, not a gate (issue 10 retired the 80 KB target). smart-launch: {} KB gzip,\n\
         reference: {} KB gzip (library and its small page scripts; a typical fhirclient.js app adds React:\n\
         115.6 KB gzip before app code).\n\n",
        kb(ot.1),
        kb(tt.1),
    ));
    if let Some(dir) = std::env::var_os("BASELINE_DIST").map(PathBuf::from) {
        let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("BASELINE_DIST {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
            .collect();
        files.sort();
        let bt = sizes(&files).total();
        let label = std::env::var("BASELINE_LABEL").unwrap_or_else(|_| dir.display().to_string());
        md.push_str(&format!(
            "Against the baseline build ({label}):\n\n| build | raw KB | gzip -9 KB | brotli KB |\n|---|---:|---:|---:|\n\
             | baseline | {} | {} | {} |\n| this build | {} | {} | {} |\n| change | {:+.1} | {:+.1} | {:+.1} |\n\n",
            kb(bt.0), kb(bt.1), kb(bt.2), kb(ot.0), kb(ot.1), kb(ot.2),
            (ot.0 as f64 - bt.0 as f64) / 1000.0,
            (ot.1 as f64 - bt.1 as f64) / 1000.0,
            (ot.2 as f64 - bt.2 as f64) / 1000.0,
        ));
    }
    md.push_str(&format!(
        "## EHR launch, {launches} launches each (median; min / p90 / max)\n\n\
         | measure | smart-launch | fhirclient.js | ratio ours/ref |\n|---|---:|---:|---:|\n\
         | navigation → authorize redirect leaves (ms) | {:.0} ({:.0} / {:.0} / {:.0}) | {:.0} ({:.0} / {:.0} / {:.0}) | {:.2} |\n\
         | navigation → patient name painted (ms) | {:.0} ({:.0} / {:.0} / {:.0}) | {:.0} ({:.0} / {:.0} / {:.0}) | {:.2} |\n\
         | HTTP requests until the name is painted | {:.0} | {:.0} | {:.2} |\n\
         | bytes transferred until the name is painted (KB) | {} | {} | {:.2} |\n\n",
        o_auth, o_auth_s.0, o_auth_s.1, o_auth_s.2, r_auth, r_auth_s.0, r_auth_s.1, r_auth_s.2, o_auth / r_auth,
        o_name, o_name_s.0, o_name_s.1, o_name_s.2, r_name, r_name_s.0, r_name_s.1, r_name_s.2, o_name / r_name,
        o_req, r_req, o_req / r_req,
        kb(o_bytes as usize), kb(r_bytes as usize), o_bytes / r_bytes,
    ));
    md.push_str(&format!(
        "Target: our median launch-to-name ≤ the reference's: {}.\n\n",
        if o_name <= r_name {
            "met".to_string()
        } else {
            format!("missed by {:.0} ms", o_name - r_name)
        }
    ));
    for (name, runs) in [("smart-launch", &our_runs), ("fhirclient.js", &ref_runs)] {
        if let Some(last) = runs.last() {
            md.push_str(&format!(
                "Requests of the last {name} launch until the name was painted, in order \
                 (the authorize navigation left out; a 304 is 0 B):\n\n"
            ));
            for p in &last.paths {
                md.push_str(&format!("    {p}\n"));
            }
            md.push('\n');
        }
    }
    md.push_str(&format!(
        "## The {big_obs}-observation record (smart-launch)\n\n\
         | measure | value | target |\n|---|---:|---:|\n\
         | fetch all vital-sign pages (ms) | {:.0} | |\n\
         | last page arrived → vitals charts painted (ms) | {:.0} | < 500 |\n\
         | JS heap after (`performance.memory.usedJSHeapSize`, MB) | {:.1} | < 60 |\n\
         | wasm linear memory after (MB) | {:.1} | |\n\
         | JS heap + wasm memory (MB) | {:.1} | < 60 |\n",
        fetched - start,
        painted - fetched,
        used_heap / 1e6,
        wasm_memory / 1e6,
        (used_heap + wasm_memory) / 1e6,
    ));
    std::fs::write(root.join("BENCHMARKS.md"), &md).unwrap();
    println!("{md}");
}

fn date_string() -> String {
    let secs = now_ms() / 1000;
    let days = (secs / 86_400) as i64;
    let (y, m, d) = smart_launch::chart::time::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        (secs % 86_400) / 3600,
        (secs % 3600) / 60
    )
}

fn mem_string() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.0} GiB", kb / 1_048_576.0))
        .unwrap_or_else(|| "unknown memory".into())
}

fn chromium_version() -> String {
    std::process::Command::new("/usr/bin/chromium")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}
