//! The release binary is linked at a fixed address (not PIE) on Linux.
//!
//! Why: `chathost run` idles for days, and its biggest tables (chrono-tz's
//! zones, html5ever's entity names) are tables of pointers. In a PIE binary
//! the loader rewrites every one of them at start, so they all sit in
//! memory for good (about 3 MiB, BENCHMARKS.md "idle"); linked at a fixed
//! address they stay on disk until read. Libraries, stack and heap are
//! still placed at random. `CHATHOST_PIE=1 cargo build --release` builds a
//! PIE binary for a host who prefers that.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CHATHOST_PIE");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let pie_wanted = std::env::var_os("CHATHOST_PIE").is_some_and(|v| v != "0" && !v.is_empty());
    if linux_gnu && var("PROFILE") == "release" && !pie_wanted {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
