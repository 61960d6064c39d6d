//! `app-host DIR [--port 8000] [--host 127.0.0.1]`: serves the built app with its security headers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut port: u16 = 8000;
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| fail("--port needs a number"))
            }
            "--host" => {
                host = args
                    .next()
                    .and_then(|h| h.parse().ok())
                    .unwrap_or_else(|| fail("--host needs an IP address"))
            }
            "--help" => fail("usage: app-host DIR [--port 8000] [--host 127.0.0.1]"),
            d => dir = Some(PathBuf::from(d)),
        }
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from("dist"));
    let host_app = sandbox::app_host::AppHost::new(&dir).unwrap_or_else(|e| fail(&e));
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on {host}:{port}: {e}")));
    eprintln!(
        "app ready on http://localhost:{port}/launch.html (serving {})",
        dir.display()
    );
    if let Err(e) = axum::serve(listener, host_app.router()).await {
        fail(&format!("app host stopped: {e}"));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}
