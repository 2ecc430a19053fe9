//! The release binary is linked at a fixed address (not PIE) on Linux with
//! glibc.
//!
//! Why: `chathost run` idles for days, and its biggest tables (chrono-tz's
//! zones, html5ever's entity names) are tables of pointers. In a PIE binary
//! the loader rewrites each of them at start (1.5 MiB of them then stay in
//! memory as the process's own) after reading 1.4 MiB of relocation
//! records (the `.data.rel.ro` and `.rela.dyn` sections; `readelf -S`);
//! linked at a fixed address neither happens: idle resident memory 9.5 MiB
//! after start-up instead of 12.2 MiB (BENCHMARKS.md, "idle").
//! Needs a linker that knows `-no-pie` (gcc 6 or later, clang).
//!
//! The cost: chathost's own code (with the bundled SQLite and the TLS
//! library) sits at the same address in every run, so an attacker who
//! found a memory-safety bug would know where its code is; shared
//! libraries, stack and heap are still placed at random. This is also Go's
//! default on Linux. `CHATHOST_PIE=1 cargo build --release --locked`
//! builds a PIE binary for a host who prefers that.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CHATHOST_PIE");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    // A static build (`+crt-static`) is linked `-static-pie`: left alone.
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let pie_wanted = std::env::var_os("CHATHOST_PIE").is_some_and(|v| v != "0" && !v.is_empty());
    if linux_gnu && !crt_static && var("PROFILE") == "release" && !pie_wanted {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
