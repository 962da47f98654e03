//! Guided scenarios of producing into Kinesis (`kwb demo`): each one a TOML file in
//! `assets/scenarios`, shipped inside the binary, run in the workbench beside the live view or
//! headless to its end, where each stage's claims are checked against what it measured.

pub mod claims;
pub mod headless;
pub mod measure;
pub mod scenario;

use crate::kinesis::admin::{
    delete_stream, describe, ensure_stream, on_demand_refusal, stream_status, AdminError,
};
use crate::kinesis::client::{connect, Connection, TargetArgs};
use scenario::Scenario;
use std::time::{Duration, Instant};

/// The scenarios kwb ships, by name, in the order `kwb demo` lists them.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "random-keys",
        include_str!("../../assets/scenarios/random-keys.toml"),
    ),
    (
        "hot-key",
        include_str!("../../assets/scenarios/hot-key.toml"),
    ),
    (
        "explicit-hash-keys",
        include_str!("../../assets/scenarios/explicit-hash-keys.toml"),
    ),
    (
        "aggregation",
        include_str!("../../assets/scenarios/aggregation.toml"),
    ),
    (
        "three-apis",
        include_str!("../../assets/scenarios/three-apis.toml"),
    ),
    (
        "throttling-retries",
        include_str!("../../assets/scenarios/throttling-retries.toml"),
    ),
    (
        "split-hot-shard",
        include_str!("../../assets/scenarios/split-hot-shard.toml"),
    ),
    (
        "zipf-split",
        include_str!("../../assets/scenarios/zipf-split.toml"),
    ),
];

/// How long a demo waits for its old stream to be deleted on the local server.
const DELETE_WAIT: Duration = Duration::from_secs(30);

/// A shipped scenario by name, or a scenario file by path (a name ending in `.toml`).
pub fn find(name: &str) -> anyhow::Result<(String, Scenario)> {
    if name.ends_with(".toml") {
        let text = std::fs::read_to_string(name)
            .map_err(|e| anyhow::anyhow!("scenario file {name}: {e}"))?;
        let stem = std::path::Path::new(name)
            .file_stem()
            .map_or(name.to_string(), |s| s.to_string_lossy().into_owned());
        return Ok((
            stem,
            Scenario::parse(name, &text).map_err(anyhow::Error::msg)?,
        ));
    }
    let (_, text) = SHIPPED.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
        anyhow::anyhow!(
            "no scenario {name:?}: the scenarios are {} (kwb demo lists them), or name a scenario file ending in .toml",
            names.join(", ")
        )
    })?;
    let scenario = Scenario::parse(name, text).map_err(anyhow::Error::msg)?;
    Ok((name.to_string(), scenario))
}

/// The stream a scenario uses unless told otherwise.
pub fn default_stream(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    format!("kwb-demo-{safe}")
}

/// Connects and readies the scenario's stream: on the local server its own stream is made anew
/// with the scenario's shards (a stream named otherwise is created if missing); anywhere else the
/// stream must exist with that many open shards.
pub async fn open(
    target: &TargetArgs,
    stream: &str,
    name: &str,
    scenario: &Scenario,
) -> anyhow::Result<Connection> {
    let connection = connect(target).await?;
    let local = connection.is_embedded();
    let admin = &connection.admin;
    if local && stream == default_stream(name) && stream_status(admin, stream).await?.is_some() {
        delete_stream(admin, stream).await?;
        let start = Instant::now();
        while stream_status(admin, stream).await?.is_some() {
            if start.elapsed() > DELETE_WAIT {
                anyhow::bail!(
                    "the demo's old stream {stream} was not deleted within {} s",
                    DELETE_WAIT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    match ensure_stream(admin, stream, scenario.shards, local).await {
        Ok(_) => {}
        Err(AdminError::NotFound(_)) => anyhow::bail!(
            "stream {stream:?} does not exist on {}: a demo uses an existing stream with {} open shards there (kwb streams create {stream} --shards {})",
            connection.target,
            scenario.shards,
            scenario.shards
        ),
        Err(e) => anyhow::bail!("{e} (target: {})", connection.target),
    }
    // One description says both how many shards are open and whether Kinesis manages them.
    let summary = describe(admin, stream).await?;
    let open = usize::try_from(summary.open_shards).unwrap_or(0);
    let on_demand = summary.facts().on_demand;
    let reshards = scenario.stages.iter().any(|s| s.action.is_some());
    if on_demand && reshards {
        anyhow::bail!(
            "scenario {name} splits or scales its stream, and {}",
            on_demand_refusal(stream)
        );
    }
    if open != scenario.shards as usize && on_demand {
        anyhow::bail!(
            "stream {stream} is on-demand with {open} open shards (Kinesis sets them) and scenario {name} starts from {}: leave out --stream for the demo's own stream on the local server",
            scenario.shards
        );
    }
    if open != scenario.shards as usize {
        anyhow::bail!(
            "stream {stream} has {open} open shards and scenario {name} starts from {}: kwb streams scale {stream} {} first, or leave out --stream for the demo's own stream on the local server",
            scenario.shards,
            scenario.shards
        );
    }
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_parses_and_every_file_is_shipped() {
        for (name, text) in SHIPPED {
            Scenario::parse(name, text).unwrap();
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenarios");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut shipped: Vec<String> = SHIPPED.iter().map(|(n, _)| format!("{n}.toml")).collect();
        shipped.sort();
        assert_eq!(files, shipped);
    }

    #[test]
    fn unknown_names_list_the_scenarios() {
        let error = find("nope").unwrap_err().to_string();
        assert!(error.contains("random-keys, hot-key"), "{error}");
        let error = find("/no/such/file.toml").unwrap_err().to_string();
        assert!(
            error.starts_with("scenario file /no/such/file.toml:"),
            "{error}"
        );
    }
}
