//! The entry point of launch.html (wasm32). Natively there is nothing to run: the core is tested
//! with `cargo test`, and the app is built with Trunk.

#[cfg(target_arch = "wasm32")]
fn main() {
    smart_launch::web::use_local_time_zone();
    // launch.html's placeholder (shown while the wasm loads) gives way to the app once the
    // page's first request is on its way (ui::run).
    smart_launch::ui::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("smart-launch is a browser app: build it with `trunk build` (see README.md).");
}
