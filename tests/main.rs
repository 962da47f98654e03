//! kwb's integration tests, as one test binary: it links once, and the files' tests run side by
//! side (each file is a module of it; `common` holds what they share). A new file here needs its
//! `mod` line below, or it is not compiled.

mod common;

mod cli;
mod cli_edges;
mod cloudwatch;
mod demo;
mod faults;
mod help;
mod hotkeys;
mod kpl_compat;
mod producer;
mod rate_shapes;
mod read;
mod readme;
mod resharding;
mod roundtrip;
mod server_metrics;
mod strategies;
mod stream_modes;
mod throttling;
mod tui;

/// Every test file is a module of this binary (Cargo builds only tests/main.rs).
#[test]
fn every_test_file_is_compiled() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && stem != "main" {
            let line = format!("\nmod {stem};\n");
            assert!(main.contains(&line), "tests/main.rs lacks `mod {stem};`");
        }
    }
}
