//! Snapshots of every command's help and of the errors bad input gets, so that a change to what
//! users read is a visible, reviewed change.

use crate::common;

use clap::CommandFactory;
use kwb::cli::Cli;

#[test]
fn help_of_every_command() {
    let mut kwb = Cli::command();
    kwb.build();
    insta::assert_snapshot!("help_kwb", kwb.render_long_help().to_string());
    let names: Vec<String> = kwb
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names.iter().filter(|n| *n != "help") {
        let sub = kwb.find_subcommand_mut(name).unwrap();
        insta::assert_snapshot!(format!("help_{name}"), sub.render_long_help().to_string());
    }
}

fn error_of(args: &[&str]) -> String {
    let data = tempfile::tempdir().unwrap();
    // Commands other than put need the stream to exist before they get to their own checks.
    if args[0] != "put" {
        let created = common::kwb_command(data.path())
            .args(["put", "--count", "0"])
            .output()
            .unwrap();
        assert!(created.status.success());
    }
    let output = common::kwb_command(data.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    // A put that fails once the stream says its limits may have created it first, on a port
    // of the moment.
    String::from_utf8(output.stderr)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("created stream "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn errors_for_bad_input() {
    let cases: [(&str, &[&str]); 9] = [
        ("bad_strategy", &["put", "--key", "bogus"]),
        ("bad_zipf", &["put", "--key", "zipf:0:1"]),
        ("bad_rate", &["put", "--rate", "ramp:1:2"]),
        (
            "bad_template",
            &["put", "--template", "tests/data/bad-template.json"],
        ),
        ("too_large", &["put", "--size", "2000000"]),
        ("bad_start", &["read", "--from", "yesterday"]),
        ("bad_hash_key", &["put", "--key", "ehk:-1"]),
        ("metrics_too_far_back", &["metrics", "--minutes", "11"]),
        ("metrics_json_and_csv", &["metrics", "--json", "--csv"]),
    ];
    for (name, args) in cases {
        insta::assert_snapshot!(format!("error_{name}"), error_of(args));
    }
}
