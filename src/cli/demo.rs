//! `kwb demo`: the guided scenarios, listed, opened in the workbench, or run headless to their
//! end with a report of what each stage measured and whether its claims held.

use crate::cli::TargetFlags;
use crate::demo::{default_stream, find, headless, SHIPPED};
use crate::tui::pane::demo::Demo;
use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A scenario's name (kwb demo lists them) or a scenario file ending in .toml; without one,
    /// the list.
    pub name: Option<String>,
    /// Run the scenario to its end without the workbench and report each stage's numbers and
    /// claims (exit status 1 when a claim did not hold).
    #[arg(long)]
    pub headless: bool,
    /// The list, or the headless report, as JSON.
    #[arg(long)]
    pub json: bool,
    /// The stream (default: kwb-demo-NAME, made anew on the local server each run; elsewhere it
    /// must exist with the scenario's shards).
    #[arg(long)]
    pub stream: Option<String>,
    /// Seed of the random keys and data.
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// Let the scenario's stages split or scale a stream other than the local server's without
    /// asking (headless runs refuse without it; the workbench asks).
    #[arg(long)]
    pub yes: bool,
}

/// A scenario as the list shows it.
#[derive(Debug, Serialize)]
struct Listed {
    name: &'static str,
    title: String,
    shards: u32,
    stages: usize,
    seconds: f64,
}

fn list(json: bool) -> anyhow::Result<i32> {
    let mut listed = Vec::new();
    for (name, _) in SHIPPED {
        let (_, scenario) = find(name)?;
        listed.push(Listed {
            name,
            title: scenario.title.clone(),
            shards: scenario.shards,
            stages: scenario.stages.len(),
            seconds: scenario.stages.iter().map(|s| s.seconds).sum(),
        });
    }
    if json {
        println!("{}", serde_json::to_string(&listed)?);
        return Ok(0);
    }
    let width = listed.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for l in &listed {
        println!(
            "{:<width$}  {} ({} {}, {} {}, {:.0} s)",
            l.name,
            l.title,
            l.shards,
            if l.shards == 1 { "shard" } else { "shards" },
            l.stages,
            if l.stages == 1 { "stage" } else { "stages" },
            l.seconds
        );
    }
    Ok(0)
}

pub async fn run(target: &TargetFlags, args: DemoArgs) -> anyhow::Result<i32> {
    let Some(name) = args.name else {
        if args.headless {
            anyhow::bail!("--headless runs a scenario: name one (kwb demo lists them)");
        }
        return list(args.json);
    };
    if args.json && !args.headless {
        anyhow::bail!(
            "--json is the headless report's form: add --headless (the workbench draws the demo)"
        );
    }
    let (name, scenario) = find(&name)?;
    let stream = args.stream.unwrap_or_else(|| default_stream(&name));
    if !args.headless {
        let shards = scenario.shards;
        let mut demo = Demo::new(&name, scenario);
        // The local server's streams are the demo's own; elsewhere a reshard asks first.
        demo.ask_first = !args.yes;
        return crate::tui::run(&target.into(), &stream, shards, args.seed, Some(demo)).await;
    }
    let seed = args.seed.unwrap_or_else(crate::compose::fresh_seed);
    let report = headless::run(&target.into(), &stream, &name, scenario, seed, args.yes).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(if report.interrupted {
        130
    } else if report.passed {
        0
    } else {
        1
    })
}
