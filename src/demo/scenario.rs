//! A guided scenario as its TOML file says it: the stream's shards, then stages, each with an
//! explanation, how long it runs, what it changes (template or size, key strategy, rate, API,
//! rate limit, a reshard) and what it claims (see `claims::Expect`). Settings a stage leaves out
//! carry on from the stage before, as they would in the workbench.

use crate::demo::claims::Expect;
use crate::kinesis::shard_map::ShardMap;
use crate::producer::config::MAX_RECORD_BYTES;
use crate::tui::app::App;
use serde::Deserialize;
use std::sync::Arc;

/// Most shards a scenario's stream may have (it is created on the local server).
const MAX_SHARDS: u32 = 64;
/// Longest a stage may run, seconds.
const MAX_STAGE_SECS: f64 = 3600.0;
/// Most stages in a scenario.
const MAX_STAGES: usize = 100;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// One line: what the scenario shows.
    pub title: String,
    /// The open shards of its stream when it starts.
    pub shards: u32,
    #[serde(rename = "stage")]
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: String,
    /// A few sentences shown beside the live view.
    pub explain: String,
    pub seconds: f64,
    /// Seconds at the start of the stage its claims leave out (the change taking effect).
    pub settle: Option<f64>,
    /// A key strategy, as `kwb put --key` takes it.
    pub key: Option<String>,
    /// A rate, as `kwb put --rate` takes it (a number is records/s).
    pub rate: Option<Rate>,
    /// Payloads of this many bytes.
    pub size: Option<usize>,
    /// A shipped template's name, or a template's text.
    pub template: Option<String>,
    /// aggregated, put-records or put-record.
    pub api: Option<String>,
    /// The producer's rate limit, percent of each shard's limits.
    pub rate_limit: Option<f64>,
    /// Done as the stage starts, while sending goes on: `split` (the hottest shard, where its
    /// advice says) or `scale:N`.
    pub action: Option<String>,
    #[serde(default)]
    pub expect: Expect,
}

/// A rate written as a number or as a shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Rate {
    PerSec(f64),
    Shape(String),
}

impl Rate {
    pub fn spec(&self) -> String {
        match self {
            Rate::PerSec(r) => r.to_string(),
            Rate::Shape(s) => s.clone(),
        }
    }
}

/// A stage's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Split the hottest open shard where its advice says (else in the middle).
    SplitHottest,
    /// Make the stream this many open shards of equal ranges.
    Scale(u32),
}

impl Stage {
    pub fn action(&self) -> Result<Option<Action>, String> {
        let Some(text) = self.action.as_deref() else {
            return Ok(None);
        };
        let count = text.strip_prefix("scale:").map(|n| n.parse::<u32>());
        match (text, count) {
            ("split", _) => Ok(Some(Action::SplitHottest)),
            (_, Some(Ok(n))) if (1..=MAX_SHARDS).contains(&n) => Ok(Some(Action::Scale(n))),
            _ => Err(format!(
                "action {text:?}: split (the hottest shard) or scale:N (N from 1 to {MAX_SHARDS})"
            )),
        }
    }

    /// Seconds its claims leave out at its start.
    pub fn settle(&self) -> f64 {
        self.settle.unwrap_or((self.seconds / 4.0).min(3.0))
    }
}

/// An error of a setting as the command line words it, in the file's own terms.
fn field_names(error: &str) -> String {
    error
        .replace("--key help", "kwb put --key help")
        .replace("--key \"", "key \"")
        .replace("--rate \"", "rate \"")
        .replace("setting rate_limit_percent", "rate_limit")
}

impl Scenario {
    /// Reads a scenario and checks every stage's settings as the workbench would apply them
    /// (`what` names it in errors).
    pub fn parse(what: &str, text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| format!("{what}: {e}"))?;
        let fail = |message: String| Err(format!("{what}: {message}"));
        let within = |message: String| format!("{what}: {message}");
        if !(1..=MAX_SHARDS).contains(&scenario.shards) {
            return fail(format!(
                "shards = {}: a scenario's stream has 1 to {MAX_SHARDS} shards",
                scenario.shards
            ));
        }
        let mut scratch = App::new(
            "scenario",
            "check",
            Arc::new(ShardMap::even_split(scenario.shards)),
        );
        if scenario.stages.is_empty() {
            return fail("no [[stage]]: a scenario has at least one".into());
        }
        if scenario.stages.len() > MAX_STAGES {
            return fail(format!(
                "{} stages: a scenario has at most {MAX_STAGES}",
                scenario.stages.len()
            ));
        }
        // The open shards as each stage's action leaves them.
        let mut open = scenario.shards;
        for (i, stage) in scenario.stages.iter().enumerate() {
            let at = format!("stage {} ({:?})", i + 1, stage.name);
            if stage
                .size
                .is_some_and(|n| !(1..MAX_RECORD_BYTES).contains(&n))
            {
                return fail(format!(
                    "{at}: size = {}: 1 to {} bytes (a record's data and key; the stream's own limit applies when sending)",
                    stage.size.unwrap_or_default(),
                    MAX_RECORD_BYTES - 1
                ));
            }
            if !(stage.seconds.is_finite() && (1.0..=MAX_STAGE_SECS).contains(&stage.seconds)) {
                return fail(format!(
                    "{at}: seconds = {}: 1 to {MAX_STAGE_SECS}",
                    stage.seconds
                ));
            }
            if !(0.0..stage.seconds).contains(&stage.settle()) {
                return fail(format!(
                    "{at}: settle = {}: 0 to less than the stage's {} seconds",
                    stage.settle(),
                    stage.seconds
                ));
            }
            if stage.size.is_some() && stage.template.is_some() {
                return fail(format!("{at}: size and template: one or the other"));
            }
            let action = stage.action().map_err(|e| within(format!("{at}: {e}")))?;
            // The settings as the workbench applies them, one stage after another, on the
            // shards as the stages before left them.
            scratch.map = Arc::new(ShardMap::even_split(open));
            scratch
                .apply_stage(stage)
                .map_err(|e| within(format!("{at}: {}", field_names(&e))))?;
            open = match action {
                Some(Action::SplitHottest) if open < MAX_SHARDS => open + 1,
                Some(Action::SplitHottest) => {
                    return fail(format!("{at}: action split: at most {MAX_SHARDS} shards"))
                }
                Some(Action::Scale(n)) => n,
                None => open,
            };
            stage
                .expect
                .check(open as usize)
                .map_err(|e| within(format!("{at}: expect: {e}")))?;
        }
        Ok(scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_stage(stage: &str) -> Result<Scenario, String> {
        let text =
            format!("title = \"t\"\nshards = 2\n[[stage]]\nname = \"s\"\nexplain = \"e\"\n{stage}");
        Scenario::parse("my.toml", &text)
    }

    #[test]
    fn settings_carry_on_and_a_number_or_a_shape_is_a_rate() {
        let s = parse_stage("seconds = 5\nrate = 100\n[[stage]]\nname = \"b\"\nexplain = \"e\"\nseconds = 2\nrate = \"ramp:0:100:10\"").unwrap();
        assert_eq!(s.stages[0].rate, Some(Rate::PerSec(100.0)));
        assert_eq!(s.stages[1].rate.as_ref().unwrap().spec(), "ramp:0:100:10");
        assert_eq!(s.stages[0].settle(), 1.25);
        assert_eq!(s.stages[1].key, None);
    }

    #[test]
    fn every_mistake_names_the_file_the_stage_and_the_limit() {
        for (stage, says) in [
            ("seconds = 0", "stage 1 (\"s\"): seconds = 0: 1 to 3600"),
            (
                "seconds = 5e20",
                "seconds = 500000000000000000000: 1 to 3600",
            ),
            ("seconds = nan", "seconds = NaN: 1 to 3600"),
            (
                "seconds = 5\nsettle = 5",
                "settle = 5: 0 to less than the stage's 5 seconds",
            ),
            ("seconds = 5\nsettle = -1", "settle = -1"),
            (
                "seconds = 5\nkey = \"hot\"",
                "): key \"hot\" is not a strategy",
            ),
            (
                "seconds = 5\nrate = -3",
                "\"-3\" is not a number from 0 to 10000000",
            ),
            (
                "seconds = 5\napi = \"soap\"",
                "api \"soap\": aggregated, put-records or put-record",
            ),
            ("seconds = 5\nrate_limit = 0", "rate_limit = 0"),
            (
                "seconds = 5\nsize = 10\ntemplate = \"{{seq}}\"",
                "size and template: one or the other",
            ),
            ("seconds = 5\ntemplate = \"{{nope}}\"", "template:"),
            (
                "seconds = 5\naction = \"scale:0\"",
                "action \"scale:0\": split (the hottest shard) or scale:N",
            ),
            ("seconds = 5\naction = \"merge\"", "action \"merge\""),
            (
                "seconds = 5\n[stage.expect]\nmax_shard_share = 1.5",
                "expect: max_shard_share = 1.5: a share from 0 to 1",
            ),
            (
                "seconds = 5\n[stage.expect]\nmin_records_per_sec = -1",
                "min_records_per_sec = -1: a number from 0 up",
            ),
            (
                "seconds = 5\n[stage.expect]\nthrottles = 1",
                "unknown field `throttles`",
            ),
            ("seconds = 5\nspeed = 2", "unknown field `speed`"),
            ("seconds = 5\nsize = 0", "size = 0: 1 to 10485759 bytes"),
            ("seconds = 5\nsize = 20000000", "size = 20000000: 1 to 10485759 bytes"),
            ("seconds = 5\naction = \"scale:5\"", "action scale:5: shard count 5 is out of range: from 1 (half the 2 open shards) to 4"),
            ("seconds = 5\n[stage.expect]\nthrottled_shards = 3", "throttled_shards = 3: the stream has 2 open shards then"),
            ("seconds = 5\naction = \"split\"\n[stage.expect]\nopen_shards = 2", "open_shards = 2: the stream has 3 open shards then"),
            ("seconds = 5\n[stage.expect]\nonly_shards = []", "only_shards = []: name at least one shard"),
            ("seconds = 5\n[stage.expect]\nno_failures = false", "no_failures = false claims nothing"),
            ("seconds = 5\n[stage.expect]\nadvice = \" \"", "give the words the advice must contain"),
            ("seconds = 5\n[stage.expect]\nmin_shard_share = 0.9\nmax_shard_share = 0.1", "the least shard share (0.9) is over the most (0.1)"),
        ] {
            let error = parse_stage(stage).unwrap_err();
            assert!(error.starts_with("my.toml: "), "{error}");
            assert!(error.contains(says), "{stage:?}: {error}");
        }
        let none = Scenario::parse("x", "title = \"t\"\nshards = 1\nstage = []").unwrap_err();
        assert!(none.contains("no [[stage]]"), "{none}");
        let many = format!(
            "title = \"t\"\nshards = 1\n{}",
            "[[stage]]\nname = \"s\"\nexplain = \"e\"\nseconds = 1\n".repeat(101)
        );
        let error = Scenario::parse("x", &many).unwrap_err();
        assert!(
            error.contains("101 stages: a scenario has at most 100"),
            "{error}"
        );
        let shards = Scenario::parse("x", "title = \"t\"\nshards = 0\nstage = []").unwrap_err();
        assert!(
            shards.contains("shards = 0: a scenario's stream has 1 to 64 shards"),
            "{shards}"
        );
    }
}
