//! The profiles file: named sets of target, stream and producer settings in TOML.
//!
//! ```toml
//! default_profile = "local"
//!
//! [profiles.prod]
//! aws_profile = "prod"        # or endpoint_url = "http://localhost:4566"
//!                             # (and cloudwatch_endpoint_url, when CloudWatch is elsewhere)
//! region = "eu-west-1"
//! stream = "orders"
//! key = "field:/customer/id"
//! template = "/home/me/orders.json"
//! rate = "500"
//! rate_limit = 90
//! ```
//!
//! Precedence: command-line flags, then environment (`KWB_STREAM`, the standard `AWS_*`
//! variables), then the profile, then kwb's defaults. The profile's values become the command
//! line's defaults, so every command sees one merged set of settings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An endpoint URL, which may carry credentials: its `Debug` form hides them.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct EndpointUrl(pub String);

impl std::str::FromStr for EndpointUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(EndpointUrl(s.to_string()))
    }
}

impl std::fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// The settings one profile may hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub aws_profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<EndpointUrl>,
    /// CloudWatch's own endpoint (else `endpoint_url`).
    pub cloudwatch_endpoint_url: Option<EndpointUrl>,
    pub stream: Option<String>,
    pub shards: Option<u32>,
    pub template: Option<PathBuf>,
    pub key: Option<String>,
    pub rate: Option<String>,
    pub aggregate: Option<bool>,
    pub rate_limit: Option<f64>,
    pub max_buffered_ms: Option<u64>,
    pub record_ttl: Option<f64>,
    pub max_record_bytes: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}, line {line}, column {column}: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    #[error("{file}: profile {name:?} does not exist (profiles: {known})")]
    NoProfile {
        file: String,
        name: String,
        known: String,
    },
}

/// Where the profiles file is: `KWB_CONFIG`, else `config.toml` in the platform config folder.
pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os("KWB_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    directories::ProjectDirs::from("", "", "kwb")
        .map(|p| p.config_dir().join("config.toml"))
        .unwrap_or_else(|| PathBuf::from("kwb.toml"))
}

/// Reads a profiles file; a missing file is an empty one.
pub fn load(file: &Path) -> Result<ConfigFile, ConfigError> {
    let name = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => {
            return Err(ConfigError::Read {
                file: name,
                message: e.to_string(),
            })
        }
    };
    parse(&name, &text)
}

pub fn parse(name: &str, text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        // The key on the error's line, when it has one: `field = value`.
        let field = text
            .lines()
            .nth(line - 1)
            .and_then(|l| l.split_once('='))
            .map(|(key, _)| key.trim())
            .filter(|key| !key.is_empty() && !key.starts_with('['));
        let message = e.message().trim_end().to_string();
        ConfigError::Parse {
            file: name.to_string(),
            line,
            column: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
            message: match field {
                Some(field) if !message.contains(field) => format!("field {field}: {message}"),
                _ => message,
            },
        }
    })
}

/// The profile chosen, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub name: String,
    pub source: &'static str,
    pub profile: Profile,
}

impl ConfigFile {
    /// Picks the profile: `--profile NAME` when the file has one of that name (otherwise
    /// `--profile` names an AWS profile), else `KWB_PROFILE`, else `default_profile`.
    pub fn choose(
        &self,
        file: &Path,
        flag: Option<&str>,
        env: Option<&str>,
    ) -> Result<Option<Chosen>, ConfigError> {
        let pick = |name: &str, source| {
            self.profiles.get(name).cloned().map(|profile| Chosen {
                name: name.to_string(),
                source,
                profile,
            })
        };
        if let Some(chosen) = flag.and_then(|n| pick(n, "--profile")) {
            return Ok(Some(chosen));
        }
        for (name, source) in [
            (env, "KWB_PROFILE"),
            (self.default_profile.as_deref(), "default_profile"),
        ] {
            if let Some(name) = name {
                return pick(name, source)
                    .map(Some)
                    .ok_or_else(|| ConfigError::NoProfile {
                        file: file.display().to_string(),
                        name: name.to_string(),
                        known: if self.profiles.is_empty() {
                            "there are none".into()
                        } else {
                            self.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                        },
                    });
            }
        }
        Ok(None)
    }
}

/// Credentials seen in endpoint URLs, hidden wherever they appear (libraries log them in forms
/// that are not URLs, such as `host:user:password@host:port`).
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Remembers the user:password part of `url`, if it has one, so that `redact_urls` hides it
/// anywhere. Parts shorter than 4 characters are not remembered (hiding them would hide
/// ordinary words); the URL form is hidden regardless.
pub fn remember_credentials(url: &str) {
    let (_, authority, _) = url_parts(url);
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return;
    };
    let password = userinfo.split_once(':').map(|(_, p)| p);
    let mut secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    for secret in [Some(userinfo), password].into_iter().flatten() {
        if secret.chars().count() >= 4 && !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
        }
    }
}

/// Text with the user:password part of every URL in it, and every remembered credential,
/// hidden, for messages and logs.
pub fn redact_urls(text: &str) -> String {
    let mut out = redact_access_key_ids(&redact_url_forms(text));
    for secret in SECRETS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Every AWS access key id (AKIA… for long-term keys, ASIA… for temporary ones: 20 upper-case
/// letters and digits) in free text, hidden: the SDK's debug logs print them beside the
/// (redacted) secret, whichever provider loaded them.
fn redact_access_key_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let key_char = |b: &u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 20 <= bytes.len() {
        let candidate = &bytes[i..i + 20];
        let starts = candidate.starts_with(b"AKIA") || candidate.starts_with(b"ASIA");
        let bounded =
            (i == 0 || !key_char(&bytes[i - 1])) && bytes.get(i + 20).is_none_or(|b| !key_char(b));
        if starts && bounded && candidate.iter().all(key_char) {
            out.push_str(&text[copied..i]);
            out.push_str("***");
            i += 20;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Every `scheme://user:password@host` in free text with its user:password part hidden.
fn redact_url_forms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '`' | '"' | '\'' | '<' | '>') || c.is_whitespace()
            })
            .unwrap_or(after.len());
        out.push_str(&hide_userinfo(&after[..end]));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A URL with any user:password part hidden, for display.
pub fn redact_url(url: &str) -> String {
    let (scheme, authority, rest) = url_parts(url);
    format!("{scheme}{}{rest}", hide_userinfo(authority))
}

/// A URL's scheme with its `://` (or nothing), its authority, and the rest.
fn url_parts(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |at| at + 3);
    let (scheme, rest) = url.split_at(start);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (scheme, &rest[..end], &rest[end..])
}

/// An authority (`user:password@host:port`) with its user:password part shown as `***`.
fn hide_userinfo(authority: &str) -> String {
    match authority.rfind('@') {
        Some(at) => format!("***{}", &authority[at..]),
        None => authority.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
default_profile = "local"

[profiles.local]
stream = "demo"
shards = 8

[profiles.prod]
aws_profile = "prod-admin"
region = "eu-west-1"
stream = "orders"
rate_limit = 90
"#;

    #[test]
    fn profiles_parse_and_are_chosen_by_flag_env_then_default() {
        let config = parse("c.toml", FILE).unwrap();
        let file = Path::new("c.toml");
        let chosen = config
            .choose(file, Some("prod"), Some("local"))
            .unwrap()
            .unwrap();
        assert_eq!((chosen.name.as_str(), chosen.source), ("prod", "--profile"));
        assert_eq!(chosen.profile.rate_limit, Some(90.0));
        // A --profile the file does not know is an AWS profile: the env or default decides.
        let chosen = config
            .choose(file, Some("some-aws-profile"), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (chosen.name.as_str(), chosen.source),
            ("local", "default_profile")
        );
        assert_eq!(
            config
                .choose(file, None, Some("prod"))
                .unwrap()
                .unwrap()
                .source,
            "KWB_PROFILE"
        );
        let err = config.choose(file, None, Some("nope")).unwrap_err();
        assert!(
            err.to_string().contains("profile \"nope\" does not exist"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_file_names_the_file_line_and_field() {
        let err = parse("c.toml", "[profiles.x]\nstream = \"s\"\nshard = 4\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("c.toml, line 3, column 1"), "{text}");
        assert!(text.contains("shard"), "{text}");
        let err = parse("c.toml", "[profiles.x]\nshards = \"four\"\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(err.to_string().contains("field shards:"), "{err}");
        let err = parse("c.toml", "[profiles.x]\nendpoint_url = 42\n").unwrap_err();
        assert!(err.to_string().contains("field endpoint_url:"), "{err}");
    }

    #[test]
    fn debug_output_of_a_profile_hides_endpoint_credentials() {
        let config = parse(
            "c.toml",
            "[profiles.s]\nendpoint_url = \"http://u:hunter2@h:1\"\n",
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("***@h:1"),
            "{debug}"
        );
    }

    #[test]
    fn urls_lose_their_credentials_for_display() {
        assert_eq!(
            redact_url("http://user:secret@host:4566/x"),
            "http://***@host:4566/x"
        );
        assert_eq!(redact_url("http://localhost:4566"), "http://localhost:4566");
        assert_eq!(redact_url("u:hunter2@h:99999"), "***@h:99999");
        assert_eq!(
            redact_urls("failed to apply endpoint `http://u:hunter2@127.0.0.1:1/pa th`: bad; Endpoint { url: \"https://a:b@h\" } and http://plain:1/x"),
            "failed to apply endpoint `http://***@127.0.0.1:1/pa th`: bad; Endpoint { url: \"https://***@h\" } and http://plain:1/x"
        );
        remember_credentials("http://user:s3cret-pw@h:1");
        remember_credentials("http://u:p@h:1");
        assert_eq!(
            redact_urls("host:user:s3cret-pw@h:1 (\"http\", user:s3cret-pw@h) s3cret-pw up"),
            "host:***@h:1 (\"http\", ***@h) *** up"
        );
        assert_eq!(
            redact_url("https://u:p@w@h/path?q=a@b"),
            "https://***@h/path?q=a@b"
        );
    }

    #[test]
    fn access_key_ids_are_hidden_wherever_they_appear() {
        let text = "access_key_id: \"AKIAIOSFODNN7EXAMPLE\", session ASIAY34FZKBOKMUTVV7A; AKIA too short; XAKIAIOSFODNN7EXAMPLE";
        let hidden = redact_urls(text);
        assert!(!hidden.contains("AKIAIOSFODNN7EXAMPLE\""), "{hidden}");
        assert!(!hidden.contains("ASIAY34FZKBOKMUTVV7A"), "{hidden}");
        assert!(hidden.contains("access_key_id: \"***\""), "{hidden}");
        // Not a key on its own: left alone.
        assert!(hidden.contains("AKIA too short") && hidden.contains("XAKIAIOSFODNN7EXAMPLE"));
    }
}
