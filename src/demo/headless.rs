//! `kwb demo NAME --headless`: a scenario run to its end without a terminal, on the same
//! session, app and stage clock as the workbench. Each stage is measured from its settling time
//! to its end and its claims checked; the report says what each stage measured and whether every
//! claim held.

use crate::demo::claims::Check;
use crate::demo::measure::Measure;
use crate::demo::open;
use crate::demo::scenario::Scenario;
use crate::kinesis::client::TargetArgs;
use crate::producer::metrics::MetricsSnapshot;
use crate::tui::app::{update, App};
use crate::tui::pane::demo::Demo;
use crate::tui::session::Session;
use serde::Serialize;
use std::time::{Duration, Instant};

/// How often the clock and the numbers are read.
const TICK: Duration = Duration::from_millis(100);
/// Keys the report names for the hottest shard.
const TOP_KEYS: usize = 5;
/// How long what is still pending at the end may take to be delivered.
const DRAIN: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: String,
    pub passed: bool,
    pub claims: Vec<Check>,
    #[serde(flatten)]
    pub measured: Measure,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub title: String,
    pub stream: String,
    pub target: String,
    pub seed: u64,
    /// The scenario's stages; `stages` has those that ran.
    pub stage_count: usize,
    pub stages: Vec<StageReport>,
    /// Every stage's claims held, nothing was left undelivered, and it ran to its end.
    pub passed: bool,
    /// User records delivered and failed over the whole run.
    pub delivered: u64,
    pub failed: u64,
    /// Records still pending when the run gave up waiting for them.
    pub undelivered: u64,
    pub interrupted: bool,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = format!(
            "demo {}: {} (stream {} on {}, seed {})\n",
            self.scenario, self.title, self.stream, self.target, self.seed
        );
        let total = self.stage_count;
        for (i, stage) in self.stages.iter().enumerate() {
            let m = &stage.measured;
            out += &format!(
                "stage {}/{total} {}: {}  {:.0} records/s, {:.0} Kinesis records/s, {:.0} API calls/s, {} throttled, {} failed, {} open {}\n",
                i + 1,
                stage.name,
                if stage.passed { "passed" } else { "FAILED" },
                m.records_per_sec,
                m.kinesis_records_per_sec,
                m.api_calls_per_sec,
                m.throttled,
                m.failed,
                m.open_shards,
                if m.open_shards == 1 { "shard" } else { "shards" },
            );
            if let (Some(hottest), Some(advice)) = (&m.hottest, &m.advice) {
                out += &format!("  hottest {hottest}: {advice}\n");
            }
            for check in &stage.claims {
                out += &format!(
                    "  {} {} (measured {})\n",
                    if check.passed { "ok  " } else { "FAIL" },
                    check.claim,
                    check.measured
                );
            }
        }
        out += &format!(
            "{}: {} delivered, {} failed, {} undelivered{}\n",
            if self.passed { "passed" } else { "FAILED" },
            self.delivered,
            self.failed,
            self.undelivered,
            if self.interrupted {
                ", interrupted"
            } else {
                ""
            }
        );
        out
    }
}

/// The stage being measured: its numbers at its start and once it has settled.
struct Running {
    index: usize,
    started: Instant,
    start: MetricsSnapshot,
    settled: Option<MetricsSnapshot>,
}

/// Runs a scenario to its end (or Ctrl-C) and reports it.
pub async fn run(
    target: &TargetArgs,
    stream: &str,
    name: &str,
    scenario: Scenario,
    seed: u64,
    yes: bool,
) -> anyhow::Result<Report> {
    let connection = open(target, stream, name, &scenario).await?;
    let action = scenario
        .stages
        .iter()
        .enumerate()
        .find_map(|(i, s)| Some((i, s.name.as_str(), s.action.as_deref()?)));
    if let (false, false, Some((i, stage, action))) = (connection.is_embedded(), yes, action) {
        anyhow::bail!(
            "scenario {name} reshards its stream (stage {} {stage:?}: {action}), and {stream} on {} is not the local server's: add --yes to let it",
            i + 1,
            connection.target
        );
    }
    let label = connection.target.to_string();
    let demo = Demo::new(name, scenario.clone());
    let (mut session, mut app, mut messages) = Session::start(connection, stream, seed, |map| {
        let mut app = App::new(stream, &label, map);
        app.demo = Some(demo);
        app
    })
    .await?;
    let mut tick = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut stages = Vec::new();
    let mut running: Option<Running> = None;
    let mut interrupted = false;
    loop {
        tokio::select! {
            _ = &mut ctrl_c => { interrupted = true; }
            Some(msg) = messages.recv() => update(&mut app, msg),
            _ = tick.tick() => { session.tick(&mut app); }
        }
        session.follow(&mut app);
        let demo = app.demo.as_ref().expect("a demo");
        let now_running = (demo.started.is_some() && !demo.done).then_some(demo.stage);
        let snapshot = || session.producer.metrics().snapshot(0);
        if running.as_ref().map(|r| r.index) != now_running || interrupted {
            if let Some(stage) = running.take() {
                let ran_out = !interrupted;
                // With the per-second history of the stage, for its latency.
                let history = stage.started.elapsed().as_secs() as usize + 2;
                let end = session.producer.metrics().snapshot(history);
                stages.push(measured(&session, &app, &scenario, stage, end, ran_out));
            }
            running = now_running.filter(|_| !interrupted).map(|index| Running {
                index,
                started: Instant::now(),
                start: snapshot(),
                settled: None,
            });
        }
        if let Some(r) = running.as_mut() {
            let settle = Duration::from_secs_f64(scenario.stages[r.index].settle());
            if r.settled.is_none() && r.started.elapsed() >= settle {
                r.settled = Some(snapshot());
            }
        }
        if interrupted || app.demo.as_ref().is_some_and(|d| d.done) {
            break;
        }
    }
    let (last, shutdown) = session.finish(DRAIN).await?;
    // Every record kept: none failed, none left undelivered.
    let passed = !interrupted
        && shutdown.undelivered == 0
        && last.failed() == 0
        && stages.len() == scenario.stages.len()
        && stages.iter().all(|s| s.passed);
    Ok(Report {
        scenario: name.to_string(),
        title: scenario.title.clone(),
        stream: stream.to_string(),
        target: label,
        seed,
        stage_count: scenario.stages.len(),
        stages,
        passed,
        delivered: last.sum(|s| s.user_records),
        failed: last.failed(),
        undelivered: shutdown.undelivered as u64,
        interrupted,
    })
}

/// A stage's numbers from its settling time (its start, if it ended before) to now, with the
/// hottest shard's keys, and its claims checked.
fn measured(
    session: &Session,
    app: &App,
    scenario: &Scenario,
    stage: Running,
    end: MetricsSnapshot,
    ran_out: bool,
) -> StageReport {
    let spec = &scenario.stages[stage.index];
    let from = stage.settled.as_ref().unwrap_or(&stage.start);
    let open: Vec<String> = app.map.open_shards().map(|s| s.shard_id.clone()).collect();
    let mut m = Measure::between(&stage.start, from, &end, &open);
    if let Some(hottest) = m.hottest.clone() {
        let sent = session
            .log
            .lock()
            .expect("key log")
            .view(Some(&hottest), TOP_KEYS);
        m = m.with_keys(&app.stream, sent, app.facts.on_demand);
    }
    let mut claims = spec.expect.checks(&m);
    // What every stage claims besides its own: it did what it says, records were delivered and
    // none failed, and it ran to its end.
    let demo = app.demo.as_ref().expect("a demo");
    for (_, why) in demo.troubles.iter().filter(|(i, _)| *i == stage.index) {
        claims.push(Check {
            claim: "the stage did what it says".into(),
            passed: false,
            measured: why.clone(),
        });
    }
    // Over the whole stage, settling time included.
    let delivered = end
        .sum(|s| s.user_records)
        .saturating_sub(stage.start.sum(|s| s.user_records));
    claims.push(Check {
        claim: "records delivered".into(),
        passed: delivered > 0,
        measured: delivered.to_string(),
    });
    claims.push(Check {
        claim: "no record failed".into(),
        passed: m.failed == 0,
        measured: format!("{} failed", m.failed),
    });
    if !ran_out {
        claims.push(Check {
            claim: "ran to its end".into(),
            passed: false,
            measured: "interrupted".into(),
        });
    }
    StageReport {
        name: spec.name.clone(),
        passed: claims.iter().all(|c| c.passed),
        claims,
        measured: m,
    }
}
