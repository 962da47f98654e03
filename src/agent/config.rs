//! The Kinesis Agent's configuration, in either form its users have: `agent.json` (flows, each
//! a file pattern into a stream, with the agent's processing and buffering options) or the flat
//! `kinesis.properties` (one flow). Every setting is checked as it is read: an unknown key, a
//! wrong type or a value out of the agent's own range is an error that names the file, the key
//! and what is allowed. Firehose flows are refused. Credentials are not taken from the file:
//! kwb uses the standard AWS chain.

use crate::compose::keys::KeyStrategy;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The agent's buffer age range, ms.
const BUFFER_AGE_MS: (u64, u64) = (1_000, 900_000);
const DEFAULT_BUFFER_AGE_MS: u64 = 60_000;
/// Records and bytes a buffer (one PutRecords request) holds at most.
const MAX_BUFFER_RECORDS: u64 = 500;
const MAX_BUFFER_BYTES: u64 = 5 * 1024 * 1024;
/// Longest truncated-record terminator, bytes.
const MAX_TERMINATOR_BYTES: usize = 1024;

/// Where a newly found file is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialPosition {
    StartOfFile,
    EndOfFile,
}

/// How records get their partition keys (kwb's `key` overrides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKeyOption {
    /// A random key per record.
    Random,
    /// A hash of the record's data: equal records, equal keys.
    Deterministic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    CommonApacheLog,
    CombinedApacheLog,
    ApacheErrorLog,
    Syslog,
    Rfc3164Syslog,
    Rfc5424Syslog,
}

const LOG_FORMATS: [(&str, LogFormat); 6] = [
    ("COMMONAPACHELOG", LogFormat::CommonApacheLog),
    ("COMBINEDAPACHELOG", LogFormat::CombinedApacheLog),
    ("APACHEERRORLOG", LogFormat::ApacheErrorLog),
    ("SYSLOG", LogFormat::Syslog),
    ("RFC3164SYSLOG", LogFormat::Rfc3164Syslog),
    ("RFC5424SYSLOG", LogFormat::Rfc5424Syslog),
];

/// One of a flow's `dataProcessingOptions`, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processing {
    /// Multi-line records joined into one line.
    SingleLine,
    CsvToJson {
        field_names: Vec<String>,
        delimiter: String,
    },
    LogToJson {
        format: LogFormat,
        match_pattern: Option<String>,
        field_names: Option<Vec<String>>,
    },
    /// The record wrapped with its file name and time.
    AddMetadata,
}

/// One file pattern into one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub file_pattern: String,
    pub stream: String,
    pub partition_key: PartitionKeyOption,
    pub processing: Vec<Processing>,
    /// A line matching it starts a record; the lines up to the next one belong to it.
    pub multi_line_start: Option<String>,
    pub skip_header_lines: u64,
    /// Ends a record cut to the stream's record limit.
    pub truncated_record_terminator: String,
    pub max_buffer_age: Duration,
    pub max_buffer_records: u64,
    pub max_buffer_bytes: u64,
    pub initial_position: InitialPosition,
    /// kwb's own: KPL aggregation (on unless turned off).
    pub aggregation: bool,
    /// kwb's own: any `kwb put --key` strategy instead of `partitionKeyOption`.
    pub key: Option<String>,
}

/// A whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub checkpoint_file: Option<PathBuf>,
    pub kinesis_endpoint: Option<String>,
    pub cloudwatch_endpoint: Option<String>,
    pub cloudwatch_region: Option<String>,
    pub emit_metrics: bool,
    pub flows: Vec<Flow>,
}

/// Reads a configuration file: JSON when it is an object, else the properties form.
pub fn load(path: &Path) -> Result<AgentConfig, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    parse(&name, &text)
}

/// Reads a configuration from `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<AgentConfig, String> {
    if text.trim_start().starts_with('{') {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("{file}: not valid JSON: {e}"))?;
        from_json(file, &value, "flows")
    } else {
        from_properties(file, text)
    }
}

/// Reads the settings of one object, each key at most once, and refuses keys left unread.
struct Reader<'a> {
    file: &'a str,
    /// Where the object is, e.g. `flows[0].`.
    at: String,
    object: &'a Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    fn new(file: &'a str, at: String, value: &'a Value) -> Result<Reader<'a>, String> {
        let object = value.as_object().ok_or_else(|| {
            format!(
                "{file}: {}: an object ({{...}}) is expected",
                at.trim_end_matches('.')
            )
        })?;
        Ok(Reader {
            file,
            at,
            object,
            read: Vec::new(),
        })
    }

    fn error(&self, key: &str, message: impl std::fmt::Display) -> String {
        format!("{}: {}{key}: {message}", self.file, self.at)
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.object.get(key)
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.error(key, format!("{other} is not a string"))),
        }
    }

    fn required(&mut self, key: &'static str) -> Result<String, String> {
        match self.string(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(self.error(key, "is required and may not be empty")),
        }
    }

    fn bool(&mut self, key: &'static str, default: bool) -> Result<bool, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(other) => Err(self.error(key, format!("{other}: true or false"))),
        }
    }

    /// A whole number within `range` (numbers may also come as strings, as the agent takes).
    fn number(
        &mut self,
        key: &'static str,
        default: u64,
        range: (u64, u64),
    ) -> Result<u64, String> {
        let value = match self.get(key) {
            None | Some(Value::Null) => return Ok(default),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        value
            .filter(|v| (range.0..=range.1).contains(v))
            .ok_or_else(|| {
                let shown = self
                    .object
                    .get(key)
                    .map(Value::to_string)
                    .unwrap_or_default();
                self.error(
                    key,
                    format!("{shown}: a whole number from {} to {}", range.0, range.1),
                )
            })
    }

    /// One of `allowed` (as the agent spells them, upper case).
    fn choice<T: Copy>(
        &mut self,
        key: &'static str,
        allowed: &[(&str, T)],
        default: T,
    ) -> Result<T, String> {
        let Some(text) = self.string(key)? else {
            return Ok(default);
        };
        allowed
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                self.error(key, format!("{text:?}: one of {}", names.join(", ")))
            })
    }

    fn regex(&mut self, key: &'static str) -> Result<Option<String>, String> {
        let Some(pattern) = self.string(key)?.filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        regex::Regex::new(&pattern)
            .map_err(|e| self.error(key, format!("not a regular expression: {e}")))?;
        Ok(Some(pattern))
    }

    fn strings(&mut self, key: &'static str) -> Result<Option<Vec<String>>, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| self.error(key, "a list of strings")),
            Some(_) => Err(self.error(key, "a non-empty list of strings")),
        }
    }

    /// Refuses keys no setting read.
    fn done(self, allowed_more: &str) -> Result<(), String> {
        let unknown: Vec<&String> = self
            .object
            .keys()
            .filter(|k| !self.read.contains(&k.as_str()))
            .collect();
        match unknown.first() {
            None => Ok(()),
            Some(key) => Err(format!(
                "{}: {}{key}: not a setting kwb knows; the settings here are {}{allowed_more}",
                self.file,
                self.at,
                self.read.join(", ")
            )),
        }
    }
}

/// Keys that carry credentials: refused, kwb takes them from the AWS chain.
const CREDENTIAL_KEYS: [&str; 4] = [
    "awsAccessKeyId",
    "awsSecretAccessKey",
    "awsSessionToken",
    "userDefinedCredentialsProvider.classname",
];

fn refuse_credentials(file: &str, keys: impl IntoIterator<Item = String>) -> Result<(), String> {
    for key in keys {
        if CREDENTIAL_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{file}: {key}: kwb takes credentials from the standard AWS chain (AWS_PROFILE, --profile, environment, instance roles), never from this file: remove it"
            ));
        }
    }
    Ok(())
}

/// The JSON form; `flow_at` prefixes the flows' keys in errors (`flows[N].`, or nothing for the
/// properties form's one flow).
fn from_json(file: &str, value: &Value, flow_at: &str) -> Result<AgentConfig, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("{file}: an object is expected"))?;
    refuse_credentials(file, object.keys().cloned())?;
    let mut top = Reader::new(file, String::new(), value)?;
    let config = AgentConfig {
        checkpoint_file: top.string("checkpointFile")?.map(PathBuf::from),
        kinesis_endpoint: top.string("kinesis.endpoint")?,
        cloudwatch_endpoint: top.string("cloudwatch.endpoint")?,
        cloudwatch_region: top.string("cloudwatch.region")?,
        emit_metrics: top.bool("cloudwatch.emitMetrics", true)?,
        flows: Vec::new(),
    };
    let flows = match top.get("flows") {
        Some(Value::Array(flows)) if !flows.is_empty() => flows,
        _ => {
            return Err(format!(
                "{file}: flows: a non-empty list of flows is required"
            ))
        }
    };
    top.done("")?;
    let flows = flows
        .iter()
        .enumerate()
        .map(|(i, flow)| {
            let at = if flow_at.is_empty() {
                String::new()
            } else {
                format!("{flow_at}[{i}].")
            };
            json_flow(file, at, flow)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AgentConfig { flows, ..config })
}

fn json_flow(file: &str, at: String, value: &Value) -> Result<Flow, String> {
    let mut r = Reader::new(file, at.clone(), value)?;
    if r.string("deliveryStream")?.is_some() {
        return Err(r.error(
            "deliveryStream",
            "Firehose delivery streams are not kwb's: name a Kinesis data stream with kinesisStream",
        ));
    }
    let file_pattern = r.required("filePattern")?;
    let stream = r.required("kinesisStream")?;
    crate::kinesis::admin::validate_stream_name(&stream)
        .map_err(|e| r.error("kinesisStream", e))?;
    let partition_key = r.choice(
        "partitionKeyOption",
        &[
            ("RANDOM", PartitionKeyOption::Random),
            ("DETERMINISTIC", PartitionKeyOption::Deterministic),
        ],
        PartitionKeyOption::Random,
    )?;
    let processing = match r.get("dataProcessingOptions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(options)) => options
            .iter()
            .enumerate()
            .map(|(j, o)| processing(file, &format!("{at}dataProcessingOptions[{j}]."), o))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(r.error("dataProcessingOptions", "a list of options")),
    };
    let multi_line_start = r.regex("multiLineStartPattern")?;
    let skip_header_lines = r.number("skipHeaderLines", 0, (0, 1_000_000))?;
    let truncated_record_terminator = r
        .string("truncatedRecordTerminator")?
        .unwrap_or_else(|| "\n".into());
    if truncated_record_terminator.len() > MAX_TERMINATOR_BYTES {
        return Err(r.error(
            "truncatedRecordTerminator",
            format!("at most {MAX_TERMINATOR_BYTES} bytes"),
        ));
    }
    let max_buffer_age = Duration::from_millis(r.number(
        "maxBufferAgeMillis",
        DEFAULT_BUFFER_AGE_MS,
        BUFFER_AGE_MS,
    )?);
    let max_buffer_records = r.number(
        "maxBufferSizeRecords",
        MAX_BUFFER_RECORDS,
        (1, MAX_BUFFER_RECORDS),
    )?;
    let max_buffer_bytes = r.number(
        "maxBufferSizeBytes",
        MAX_BUFFER_BYTES,
        (1, MAX_BUFFER_BYTES),
    )?;
    let initial_position = r.choice(
        "initialPosition",
        &[
            ("START_OF_FILE", InitialPosition::StartOfFile),
            ("END_OF_FILE", InitialPosition::EndOfFile),
        ],
        InitialPosition::EndOfFile,
    )?;
    let aggregation = r.bool("aggregation", true)?;
    let key = r.string("key")?;
    if let Some(spec) = &key {
        spec.parse::<KeyStrategy>().map_err(|e| r.error("key", e))?;
    }
    r.done(" (and kwb's own aggregation and key)")?;
    Ok(Flow {
        file_pattern,
        stream,
        partition_key,
        processing,
        multi_line_start,
        skip_header_lines,
        truncated_record_terminator,
        max_buffer_age,
        max_buffer_records,
        max_buffer_bytes,
        initial_position,
        aggregation,
        key,
    })
}

fn processing(file: &str, at: &str, value: &Value) -> Result<Processing, String> {
    let mut r = Reader::new(file, at.to_string(), value)?;
    let name = r.required("optionName")?;
    let option = match name.as_str() {
        "SINGLELINE" => Processing::SingleLine,
        "CSVTOJSON" => Processing::CsvToJson {
            field_names: r
                .strings("customFieldNames")?
                .ok_or_else(|| r.error("customFieldNames", "CSVTOJSON needs the field names"))?,
            delimiter: r.string("delimiter")?.unwrap_or_else(|| ",".into()),
        },
        "LOGTOJSON" => Processing::LogToJson {
            format: r.choice("logFormat", &LOG_FORMATS, LogFormat::CommonApacheLog)?,
            match_pattern: r.regex("matchPattern")?,
            field_names: r.strings("customFieldNames")?,
        },
        "ADDMETADATA" => Processing::AddMetadata,
        "ADDEC2METADATA" => {
            return Err(r.error(
                "optionName",
                "ADDEC2METADATA needs the EC2 instance metadata service, which kwb does not read: use ADDMETADATA",
            ))
        }
        other => {
            return Err(r.error(
                "optionName",
                format!("{other:?}: one of SINGLELINE, CSVTOJSON, LOGTOJSON, ADDMETADATA"),
            ))
        }
    };
    if let Processing::LogToJson {
        match_pattern: None,
        field_names: Some(_),
        ..
    } = option
    {
        return Err(r.error(
            "customFieldNames",
            "go with a matchPattern whose groups they name",
        ));
    }
    r.done("")?;
    Ok(option)
}

/// The flat form: `key=value` lines (`#` and `!` comments), one flow: read as the JSON form
/// with its flow's keys (`filePattern`, `kinesisStream`) in the one flow.
fn from_properties(file: &str, text: &str) -> Result<AgentConfig, String> {
    let mut top = Map::new();
    let mut flow = Map::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let (key, value) = line
            .split_once(['=', ':'])
            .ok_or_else(|| format!("{file}: line {}: key=value expected, got {line:?}", n + 1))?;
        let (key, value) = (
            key.trim().to_string(),
            Value::String(value.trim().to_string()),
        );
        match key.as_str() {
            "filePattern" | "kinesisStream" => flow.insert(key, value),
            _ => top.insert(key, value),
        };
    }
    top.insert("flows".into(), Value::Array(vec![Value::Object(flow)]));
    from_json(file, &Value::Object(top), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> AgentConfig {
        load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/agent")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn the_samples_of_both_forms_read_as_written() {
        let json = sample("agent.json");
        assert_eq!(json.flows.len(), 3);
        assert!(!json.emit_metrics);
        let app = &json.flows[0];
        assert_eq!(
            (app.file_pattern.as_str(), app.stream.as_str()),
            ("/var/log/app/*.log", "app-logs")
        );
        assert_eq!(app.initial_position, InitialPosition::StartOfFile);
        assert_eq!(app.max_buffer_age, Duration::from_secs(1));
        assert_eq!(
            app.multi_line_start.as_deref(),
            Some("^\\d{4}-\\d{2}-\\d{2}")
        );
        assert_eq!(
            (
                app.max_buffer_records,
                app.truncated_record_terminator.as_str()
            ),
            (500, "\n")
        );
        assert_eq!(
            json.flows[1].partition_key,
            PartitionKeyOption::Deterministic
        );
        assert_eq!(
            json.flows[1].processing,
            [Processing::LogToJson {
                format: LogFormat::CombinedApacheLog,
                match_pattern: None,
                field_names: None
            }]
        );
        assert_eq!(json.flows[2].skip_header_lines, 1);
        assert_eq!(json.flows[2].key.as_deref(), Some("field:/customer"));
        let properties = sample("kinesis.properties");
        assert_eq!(properties.flows.len(), 1);
        assert_eq!(properties.flows[0].stream, "app-logs");
        assert_eq!(properties.cloudwatch_region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            properties.flows[0].initial_position,
            InitialPosition::EndOfFile
        );
    }

    fn flow_error(flow: &str) -> String {
        let text = format!(
            r#"{{"flows": [{{"filePattern": "/tmp/*.log", "kinesisStream": "s"{flow}}}]}}"#
        );
        parse("agent.json", &text).unwrap_err()
    }

    #[test]
    fn every_mistake_names_the_file_the_key_and_what_is_allowed() {
        for (flow, says) in [
            (r#", "deliveryStream": "d""#, "flows[0].deliveryStream: Firehose delivery streams are not kwb's: name a Kinesis data stream with kinesisStream"),
            (r#", "partitionKeyOption": "HASH""#, "flows[0].partitionKeyOption: \"HASH\": one of RANDOM, DETERMINISTIC"),
            (r#", "maxBufferAgeMillis": 999"#, "flows[0].maxBufferAgeMillis: 999: a whole number from 1000 to 900000"),
            (r#", "maxBufferAgeMillis": -1"#, "maxBufferAgeMillis: -1: a whole number"),
            (r#", "maxBufferAgeMillis": 1e20"#, "maxBufferAgeMillis: 1e+20: a whole number"),
            (r#", "maxBufferSizeRecords": 501"#, "maxBufferSizeRecords: 501: a whole number from 1 to 500"),
            (r#", "maxBufferSizeBytes": 0"#, "maxBufferSizeBytes: 0: a whole number from 1 to 5242880"),
            (r#", "initialPosition": "MIDDLE""#, "one of START_OF_FILE, END_OF_FILE"),
            (r#", "multiLineStartPattern": "([""#, "flows[0].multiLineStartPattern: not a regular expression"),
            (r#", "skipHeaderLines": "many""#, "skipHeaderLines: \"many\": a whole number"),
            (r#", "key": "zipf:0:1""#, "flows[0].key: --key \"zipf:0:1\""),
            (r#", "aggregation": "yes""#, "flows[0].aggregation: \"yes\": true or false"),
            (r#", "filePatern": "x""#, "flows[0].filePatern: not a setting kwb knows"),
            (r#", "dataProcessingOptions": [{"optionName": "ADDEC2METADATA"}]"#, "dataProcessingOptions[0].optionName: ADDEC2METADATA needs the EC2 instance metadata service"),
            (r#", "dataProcessingOptions": [{"optionName": "UPPERCASE"}]"#, "\"UPPERCASE\": one of SINGLELINE, CSVTOJSON, LOGTOJSON, ADDMETADATA"),
            (r#", "dataProcessingOptions": [{"optionName": "CSVTOJSON"}]"#, "customFieldNames: CSVTOJSON needs the field names"),
            (r#", "dataProcessingOptions": [{"optionName": "LOGTOJSON", "logFormat": "NGINX"}]"#, "logFormat: \"NGINX\": one of COMMONAPACHELOG"),
            (r#", "dataProcessingOptions": [{"optionName": "LOGTOJSON", "customFieldNames": ["a"]}]"#, "customFieldNames: go with a matchPattern"),
            (r#", "dataProcessingOptions": [{"optionName": "SINGLELINE", "x": 1}]"#, "dataProcessingOptions[0].x: not a setting kwb knows"),
        ] {
            let error = flow_error(flow);
            assert!(error.starts_with("agent.json: "), "{error}");
            assert!(error.contains(says), "{flow}: {error}");
        }
        for (text, says) in [
            ("{}", "flows: a non-empty list of flows is required"),
            (r#"{"flows": []}"#, "flows: a non-empty list"),
            (
                r#"{"flows": [{"kinesisStream": "s"}]}"#,
                "flows[0].filePattern: is required",
            ),
            (
                r#"{"flows": [{"filePattern": "/x", "kinesisStream": "bad name"}]}"#,
                "flows[0].kinesisStream: stream name \"bad name\" is invalid",
            ),
            (
                r#"{"awsSecretAccessKey": "x", "flows": []}"#,
                "awsSecretAccessKey: kwb takes credentials from the standard AWS chain",
            ),
            (
                r#"{"flows": [{"filePattern": "/x", "kinesisStream": "s"}], "firehose.endpoint": "x"}"#,
                "agent.json: firehose.endpoint: not a setting kwb knows",
            ),
            ("{ not json", "agent.json: not valid JSON"),
            (
                "filePattern=/x\nkinesisStream=s\nregion=eu",
                "agent.json: region: not a setting kwb knows",
            ),
            (
                "filePattern=/x\nnonsense line",
                "line 2: key=value expected",
            ),
            ("kinesisStream=s", "filePattern: is required"),
            (
                "filePattern=/x\nkinesisStream=s\nawsAccessKeyId=AKIA",
                "awsAccessKeyId: kwb takes credentials",
            ),
        ] {
            let error = parse("agent.json", text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
            assert!(
                !error.contains("AKIA"),
                "a credential is never repeated: {error}"
            );
        }
    }
}
