//! Rate shapes hold their target over 10 s on the local server: the records each shape sends
//! come within 5 % of the integral of its rate, all within the 10 s (plus the final flush), and
//! every one is delivered. A wall-clock check by design (the issue asks for one, run by the
//! test script); the margins are wide. The four shapes run
//! side by side, so the whole check takes about ten seconds.

use crate::common;

use kwb::compose::rate::RateShape;

#[test]
fn every_rate_shape_sends_its_integral_within_five_percent() {
    let data = tempfile::tempdir().unwrap();
    let shapes = [
        "1000",
        "ramp:200:2000:10",
        "burst:2000:2:3",
        "sine:200:1800:5",
    ];
    let runs: Vec<_> = shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let data = data.path().to_path_buf();
            let shape = shape.to_string();
            std::thread::spawn(move || {
                let stream = format!("shape-{i}");
                let args = [
                    "put",
                    "--stream",
                    &stream,
                    "--rate",
                    &shape,
                    "--duration",
                    "10",
                    "--json",
                ];
                let stdout = common::stdout_of(common::kwb_command(&data).args(args));
                (
                    shape,
                    serde_json::from_str::<serde_json::Value>(&stdout).unwrap(),
                )
            })
        })
        .collect();
    for run in runs {
        let (shape, summary) = run.join().unwrap();
        let expected = shape.parse::<RateShape>().unwrap().records_by(10.0);
        let sent = summary["records"].as_f64().unwrap();
        println!("{shape}: sent {sent}, expected {expected:.0}");
        assert!(
            (sent - expected).abs() <= 0.05 * expected,
            "{shape}: sent {sent}, expected {expected:.0}"
        );
        assert_eq!(summary["ok"], summary["records"], "{shape}: {summary}");
        // Sending fell behind its schedule if delivering took much past the 10 s.
        let elapsed = summary["elapsed_s"].as_f64().unwrap();
        assert!(
            elapsed <= 10.5,
            "{shape}: took {elapsed} s to send 10 s worth"
        );
    }
}
