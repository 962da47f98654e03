//! What the views show for a shard: its load in the last complete period as kwb's producer saw
//! it, as the stream saw it (the embedded server's counts or CloudWatch), or the higher of the
//! two; and how much of the stream's load came from other producers.

use crate::producer::config::{SHARD_BYTES_PER_SEC, SHARD_RECORDS_PER_SEC};
use crate::producer::metrics::ShardSnapshot;
use crate::stream_metrics::{Series, StreamMetrics};
use crate::tui::app::{App, ViewSource};

/// Per second, over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    /// Kinesis records (what the shard limit counts).
    pub records: f64,
    pub bytes: f64,
    pub throttled: f64,
}

impl Load {
    /// The share of the shard's write limit used: records or bytes, whichever is higher.
    pub fn utilisation(&self) -> f64 {
        (self.records / SHARD_RECORDS_PER_SEC).max(self.bytes / SHARD_BYTES_PER_SEC)
    }

    /// Whether the bytes limit is nearer than the records limit.
    pub fn bytes_bind(&self) -> bool {
        self.bytes / SHARD_BYTES_PER_SEC >= self.records / SHARD_RECORDS_PER_SEC
    }
}

/// Other producers are named when the stream saw this many more records/s than kwb sent
/// (and at least `OTHERS_MIN_SHARE` more).
const OTHERS_MIN_RECORDS: f64 = 5.0;
const OTHERS_MIN_SHARE: f64 = 0.1;

/// The value of second `i` of a producer series.
fn at(series: &[u64], i: usize) -> f64 {
    series.get(i).copied().unwrap_or(0) as f64
}

/// The producer's load in second `i` of its series.
pub fn producer_at(s: &ShardSnapshot, i: usize) -> Load {
    Load {
        records: at(&s.kinesis_records_per_sec, i),
        bytes: at(&s.bytes_per_sec, i),
        throttled: at(&s.throttled_per_sec, i),
    }
}

/// The producer's load in the last complete second (the last entry is the current second).
pub fn producer(s: &ShardSnapshot) -> Load {
    s.kinesis_records_per_sec
        .len()
        .checked_sub(2)
        .map_or_else(Load::default, |i| producer_at(s, i))
}

/// The index of a stream series' last complete period with data: with 1-second periods the
/// last entry is the current second; CloudWatch's minutes are complete but may come late.
fn last_complete(m: &StreamMetrics, series: &Series) -> Option<usize> {
    if m.period.as_secs() <= 1 {
        series.len().checked_sub(2)
    } else {
        series.iter().rposition(Option::is_some)
    }
}

/// The stream's load on a shard in its last complete period, if there is a reading.
pub fn stream(app: &App, shard_id: &str) -> Option<Load> {
    let m = app.server.as_ref()?;
    let s = m.shards.get(shard_id)?;
    let i = last_complete(m, &s.incoming_records)?;
    let per_sec = |series: &Series| {
        series.get(i).copied().flatten().unwrap_or(0.0) / m.period.as_secs_f64().max(1.0)
    };
    Some(Load {
        records: per_sec(&s.incoming_records),
        bytes: per_sec(&s.incoming_bytes),
        throttled: per_sec(&s.write_throttled),
    })
}

/// The load the current view shows for a shard.
pub fn shown(app: &App, shard_id: &str) -> Load {
    let kwb = app
        .metrics
        .shards
        .get(shard_id)
        .map(producer)
        .unwrap_or_default();
    match app.view_source {
        ViewSource::Producer => kwb,
        ViewSource::Server => stream(app, shard_id).unwrap_or_default(),
        ViewSource::Both => match stream(app, shard_id) {
            Some(s) if s.utilisation() > kwb.utilisation() => s,
            _ => kwb,
        },
    }
}

/// Records/s the stream took on a shard beyond what kwb sent, when that is more than noise.
pub fn other_producers(app: &App, shard_id: &str) -> Option<f64> {
    let seen = stream(app, shard_id)?.records;
    let sent = app
        .metrics
        .shards
        .get(shard_id)
        .map_or(0.0, |s| producer(s).records);
    let extra = seen - sent;
    (extra >= OTHERS_MIN_RECORDS && extra >= sent * OTHERS_MIN_SHARE).then_some(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::shard_map::ShardMap;
    use crate::stream_metrics::{ShardSeries, Source};
    use std::sync::Arc;
    use std::time::Duration;

    fn app_with(kwb_records: u64, stream_records: f64, period: u64) -> App {
        let mut app = App::new("s", "t", Arc::new(ShardMap::even_split(1)));
        app.metrics.shards.insert(
            "shardId-000000000000".into(),
            ShardSnapshot {
                kinesis_records_per_sec: vec![kwb_records, kwb_records, 0],
                ..ShardSnapshot::default()
            },
        );
        let mut server = StreamMetrics {
            stream: "s".into(),
            source: Source::Server,
            period: Duration::from_secs(period),
            shards: Default::default(),
            stream_level: Default::default(),
        };
        let series = if period == 1 {
            vec![Some(stream_records), Some(stream_records), Some(0.0)]
        } else {
            vec![Some(stream_records * period as f64), None]
        };
        server.shards.insert(
            "shardId-000000000000".into(),
            ShardSeries {
                incoming_records: series.clone(),
                incoming_bytes: vec![Some(0.0); series.len()],
                write_throttled: vec![Some(0.0); series.len()],
                ..Default::default()
            },
        );
        app.server = Some(server);
        app
    }

    #[test]
    fn the_view_source_chooses_whose_load_is_shown() {
        let mut app = app_with(100, 900.0, 1);
        let id = "shardId-000000000000";
        assert_eq!(shown(&app, id).records, 100.0);
        app.view_source = ViewSource::Server;
        assert_eq!(shown(&app, id).records, 900.0);
        app.view_source = ViewSource::Both;
        assert_eq!(shown(&app, id).records, 900.0, "the higher of the two");
        assert!((shown(&app, id).utilisation() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn other_producers_are_the_stream_s_records_beyond_kwb_s() {
        let id = "shardId-000000000000";
        assert_eq!(other_producers(&app_with(100, 900.0, 1), id), Some(800.0));
        assert_eq!(other_producers(&app_with(100, 103.0, 1), id), None, "noise");
        // CloudWatch: per-minute sums, the latest minute with data, as a rate.
        assert_eq!(other_producers(&app_with(0, 50.0, 60), id), Some(50.0));
    }
}
