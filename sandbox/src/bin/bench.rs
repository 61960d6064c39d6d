//! `sandbox-bench`: FHIR reads per second and the time of a 1,000-observation search page, over
//! loopback HTTP/1.1 keep-alive connections. A benchmark, not a test: run it in release mode.
//!
//!     cargo run --release -p sandbox --bin sandbox-bench [-- --seconds 5 --connections 8]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection speaking just enough HTTP/1.1 for GETs.
struct Conn {
    io: BufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Self {
            io: BufReader::new(s),
        })
    }

    /// GET `path`; returns (status, body length).
    async fn get(&mut self, path: &str, token: &str) -> std::io::Result<(u16, usize)> {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nAccept: application/fhir+json\r\n\r\n"
        );
        self.io.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        self.io.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            self.io.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        self.io.read_exact(&mut body).await?;
        Ok((status, len))
    }
}

#[derive(clap::Parser)]
#[command(
    name = "sandbox-bench",
    about = "FHIR reads per second and a 1,000-observation search page"
)]
struct Cli {
    /// How long the reads run, seconds
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Keep-alive connections reading at once
    #[arg(long, default_value_t = 8)]
    connections: usize,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Cli {
        seconds,
        connections,
    } = <Cli as clap::Parser>::parse();
    let config = sandbox::Config {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        log_requests: false,
        ..sandbox::Config::default()
    };
    let started = Instant::now();
    let running = sandbox::spawn(config).await?;
    println!(
        "sandbox started in {:.0} ms (data generation + key)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let addr = running.addr;
    let token = running.sandbox.grant_direct("user/*.rs", None);

    // Reads per second: `connections` clients reading Patient resources back to back.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let id = format!("/fhir/Patient/patient-{:02}", (n as usize + c) % 27 + 1);
                let (status, _) = conn.get(&id, &token).await?;
                assert_eq!(status, 200, "read failed");
                n += 1;
            }
            Ok::<u64, std::io::Error>(n)
        }));
    }
    let mut reads = 0;
    for t in tasks {
        reads += t.await.map_err(std::io::Error::other)??;
    }
    println!(
        "FHIR reads: {reads} in {seconds} s over {connections} connections = {:.0} reads/s (target >= 5000)",
        reads as f64 / seconds as f64
    );

    // A search page of 1,000 observations of the large record.
    let mut conn = Conn::open(addr).await?;
    let path = "/fhir/Observation?patient=big-record&_count=1000&_sort=-date";
    let (_, bytes) = conn.get(path, &token).await?; // warm-up
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let (status, _) = conn.get(path, &token).await?;
        assert_eq!(status, 200, "search failed");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "1,000-observation search page ({} KB): median {:.2} ms, p90 {:.2} ms, max {:.2} ms over 50 requests (target < 20 ms)",
        bytes / 1024,
        times[25],
        times[45],
        times[49]
    );
    Ok(())
}
