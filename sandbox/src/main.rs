//! `sandbox`: runs the sandbox EHR. `sandbox --help` lists every knob.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match sandbox::config::from_args_and_env(&args, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(msg) => {
            let help = args.iter().any(|a| a == "--help" || a == "-h");
            eprintln!("{msg}");
            std::process::exit(if help { 0 } else { 2 });
        }
    };
    let running = match sandbox::spawn(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sandbox: cannot listen: {e} (is another sandbox running? try --port)");
            std::process::exit(1);
        }
    };
    let sb = &running.sandbox;
    eprintln!(
        "sandbox EHR ready in {} ms on http://{}\n  EHR launch page:   {}/\n  FHIR base (iss):   {}\n  client:            {} -> {}",
        started.elapsed().as_millis(),
        running.addr,
        sb.config.public_url,
        sb.fhir_base,
        sb.config.clients[0].id,
        sb.config.clients[0].redirect_uris.join(", "),
    );
    let _ = tokio::signal::ctrl_c().await;
}
