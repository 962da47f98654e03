//! Targets and SDK clients: the embedded server, any endpoint, or AWS through aws-config's chain.
//!
//! Two clients are built from one configuration: an admin client with the SDK's standard retries
//! and bounded timeouts, and a producer client whose retries are off, because the producer owns
//! retrying (with backoff, TTL and per-shard feedback).

use crate::config::{redact_url, EndpointUrl};
use crate::kinesis::embedded::{EMBEDDED_ACCESS_KEY, EMBEDDED_REGION, EMBEDDED_SECRET_KEY};
use crate::kinesis::local::{data_dir, endpoint as local_endpoint};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_kinesis::config::Credentials;
use aws_sdk_kinesis::Client;
use std::time::Duration;

/// What the user named as the target. Nothing named means the embedded server.
#[derive(Debug, Clone)]
pub struct TargetArgs {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<EndpointUrl>,
    /// A CloudWatch endpoint of its own (else the Kinesis endpoint, when one is named).
    pub cloudwatch_endpoint_url: Option<EndpointUrl>,
    /// Use AWS through the standard chain even though nothing else names it.
    pub aws: bool,
    /// Longest an admin call (describe, list, create) may take, retries included.
    pub api_timeout: Duration,
    /// From the profile: used when neither a flag nor the environment names an endpoint.
    pub profile_endpoint_url: Option<EndpointUrl>,
    /// From the profile: CloudWatch's, used when neither a flag nor the environment names one.
    pub profile_cloudwatch_endpoint_url: Option<EndpointUrl>,
    /// From the profile: used when neither a flag nor the environment names a region.
    pub profile_region: Option<String>,
}

impl TargetArgs {
    /// Whether the settings name a target; when none do, kwb uses the local server.
    pub fn names_a_target(&self) -> bool {
        Endpoints::of(self).kinesis.is_some() || self.names_aws()
    }

    /// Whether the settings name AWS (beside any endpoint).
    fn names_aws(&self) -> bool {
        self.aws
            || self.profile.is_some()
            || self.region.is_some()
            || self.profile_region.is_some()
            || std::env::var_os("AWS_PROFILE").is_some()
    }
}

impl Default for TargetArgs {
    fn default() -> Self {
        TargetArgs {
            profile: None,
            region: None,
            endpoint_url: None,
            cloudwatch_endpoint_url: None,
            aws: false,
            api_timeout: Duration::from_secs(10),
            profile_endpoint_url: None,
            profile_cloudwatch_endpoint_url: None,
            profile_region: None,
        }
    }
}

/// The resolved target, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local server (`kwb serve`, started in the background when needed).
    Embedded {
        endpoint: String,
    },
    Endpoint {
        endpoint: String,
    },
    Aws {
        region: String,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Embedded { endpoint } => write!(f, "embedded ferrokinesis at {endpoint}"),
            Target::Endpoint { endpoint } => write!(f, "endpoint {}", redact_url(endpoint)),
            Target::Aws { region } => write!(f, "AWS {region}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{field} {value:?} is not a valid endpoint: {why}")]
    BadEndpoint {
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("no AWS region: pass --region or set AWS_REGION (or a region in the profile)")]
    NoRegion,
    #[error("{setting} {name:?} is neither a kwb profile nor in the shared AWS config files (~/.aws/config, ~/.aws/credentials); {known}")]
    NoProfile {
        setting: &'static str,
        name: String,
        known: String,
    },
    #[error("could not reach the local Kinesis server: {0}")]
    Embedded(#[from] std::io::Error),
}

/// Clients for one target, and the embedded server when there is one.
pub struct Connection {
    pub admin: Client,
    pub producer: Client,
    pub target: Target,
    /// The resolved configuration (region, credentials), for clients of other services.
    pub sdk: aws_config::SdkConfig,
    /// Where CloudWatch is, when not AWS's own: named for it, or the Kinesis endpoint.
    pub cloudwatch_endpoint: Option<String>,
}

impl Connection {
    pub fn is_embedded(&self) -> bool {
        matches!(self.target, Target::Embedded { .. })
    }

    /// Whether CloudWatch can be asked: anywhere but the local server, unless an endpoint was
    /// named for it.
    pub fn has_cloudwatch(&self) -> bool {
        !self.is_embedded() || self.cloudwatch_endpoint.is_some()
    }
}

/// An endpoint and the setting that named it.
pub type NamedEndpoint = (&'static str, String);

/// The endpoints the settings name, each with the setting that named it. Kinesis's settings
/// name Kinesis only; CloudWatch has its own and falls back to Kinesis's (LocalStack serves both
/// on one).
#[derive(Debug, Default)]
pub struct Endpoints {
    pub kinesis: Option<NamedEndpoint>,
    /// Named for CloudWatch itself.
    pub cloudwatch: Option<NamedEndpoint>,
}

impl Endpoints {
    /// Flag, then environment, then profile, for each service.
    pub fn of(args: &TargetArgs) -> Endpoints {
        let env = |vars: &[&'static str]| {
            vars.iter().find_map(|var| {
                std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| (*var, v))
            })
        };
        let pick = |flag: (&'static str, &Option<EndpointUrl>),
                    vars: &[&'static str],
                    profile: (&'static str, &Option<EndpointUrl>)| {
            flag.1
                .as_ref()
                .map(|u| (flag.0, u.0.clone()))
                .or_else(|| env(vars))
                .or_else(|| profile.1.as_ref().map(|u| (profile.0, u.0.clone())))
        };
        Endpoints {
            kinesis: pick(
                ("--endpoint-url", &args.endpoint_url),
                &["AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL"],
                ("endpoint_url in the profile", &args.profile_endpoint_url),
            ),
            cloudwatch: pick(
                ("--cloudwatch-endpoint-url", &args.cloudwatch_endpoint_url),
                &["AWS_ENDPOINT_URL_CLOUDWATCH"],
                (
                    "cloudwatch_endpoint_url in the profile",
                    &args.profile_cloudwatch_endpoint_url,
                ),
            ),
        }
    }

    /// CloudWatch's endpoint: its own, else Kinesis's.
    pub fn cloudwatch_or_kinesis(&self) -> Option<&NamedEndpoint> {
        self.cloudwatch.as_ref().or(self.kinesis.as_ref())
    }
}

/// Checks that an endpoint is an absolute http(s) URL with a host.
pub fn validate_endpoint(field: &'static str, value: &str) -> Result<(), TargetError> {
    crate::config::remember_credentials(value);
    match endpoint_problem(value) {
        None => Ok(()),
        Some(why) => Err(TargetError::BadEndpoint {
            field,
            value: redact_url(value),
            why,
        }),
    }
}

/// What is wrong with an endpoint URL, if anything.
fn endpoint_problem(value: &str) -> Option<&'static str> {
    let Ok(uri) = value.parse::<axum::http::Uri>() else {
        return Some("it is not a URL (no spaces; IPv6 hosts in brackets)");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Some("it must start with http:// or https://");
    }
    let Some(authority) = uri.authority().map(|a| a.as_str()) else {
        return Some("it has no host");
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (host_port, None),
    };
    if host.is_empty() {
        return Some("it has no host");
    }
    if port.is_some_and(|p| !p.parse::<u16>().is_ok_and(|p| p > 0)) {
        return Some("its port must be from 1 to 65535");
    }
    None
}

/// The profile names in the shared AWS config and credentials files (where `AWS_CONFIG_FILE`
/// and `AWS_SHARED_CREDENTIALS_FILE` say, else under `~/.aws`), sorted.
fn aws_profiles() -> Vec<String> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let mut names: Vec<String> = [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ]
    .into_iter()
    .filter_map(|(path, config)| Some((std::fs::read_to_string(path?).ok()?, config)))
    .flat_map(|(text, config)| {
        text.lines()
            .filter_map(|line| {
                let section = line.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
                // The config file names profiles `[profile NAME]` (and `[default]`); its other
                // sections (sso-session, services) are not profiles.
                match section.split_once(char::is_whitespace) {
                    Some(("profile", name)) if config => Some(name.trim().to_string()),
                    None if !config || section == "default" => Some(section.to_string()),
                    _ => None,
                }
            })
            .collect::<Vec<_>>()
    })
    .collect();
    names.sort();
    names.dedup();
    names
}

/// Resolves the target and builds its clients, starting the embedded server if nothing is named.
pub async fn connect(args: &TargetArgs) -> Result<Connection, TargetError> {
    let endpoints = Endpoints::of(args);
    for (field, url) in endpoints.kinesis.iter().chain(&endpoints.cloudwatch) {
        validate_endpoint(field, url)?;
    }
    let endpoint = endpoints.kinesis.clone();
    let named = endpoint.is_some() || args.names_aws();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    let aws_profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let profile = match (&args.profile, aws_profile) {
        (Some(profile), _) => Some(("--profile", profile.clone())),
        (None, Some(profile)) => Some(("AWS_PROFILE", profile)),
        (None, None) => None,
    };
    if let Some((setting, profile)) = &profile {
        let known = aws_profiles();
        if !known.iter().any(|p| p == profile) {
            return Err(TargetError::NoProfile {
                setting,
                name: profile.clone(),
                known: if known.is_empty() {
                    "there are none".into()
                } else {
                    format!("the profiles there: {}", known.join(", "))
                },
            });
        }
        if args.profile.is_some() {
            loader = loader.profile_name(profile);
        }
    }
    let env_region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|r| !r.is_empty()));
    let region = args
        .region
        .clone()
        .or_else(|| (!env_region).then(|| args.profile_region.clone()).flatten());
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    let dummy = Credentials::new(EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY, None, None, "kwb");
    // Set on the Kinesis clients only: CloudWatch has its own (see `Endpoints`).
    let mut kinesis_endpoint = None;
    let target = if !named {
        let url = local_endpoint(&data_dir()?).await?;
        loader = loader
            .region(Region::new(EMBEDDED_REGION))
            .credentials_provider(dummy);
        kinesis_endpoint = Some(url.clone());
        Target::Embedded { endpoint: url }
    } else if let Some((_, url)) = endpoint {
        kinesis_endpoint = Some(url.clone());
        // Local servers take any credentials; use placeholders when none are configured.
        if args.profile.is_none()
            && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
            && std::env::var_os("AWS_PROFILE").is_none()
        {
            loader = loader.credentials_provider(dummy);
        }
        Target::Endpoint { endpoint: url }
    } else {
        Target::Aws {
            region: String::new(),
        }
    };
    let mut sdk = loader.load().await;
    if sdk.region().is_none() {
        if matches!(target, Target::Aws { .. }) {
            return Err(TargetError::NoRegion);
        }
        sdk = sdk
            .into_builder()
            .region(Region::new(EMBEDDED_REGION))
            .build();
    }
    let target = match target {
        Target::Aws { .. } => Target::Aws {
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
        },
        other => other,
    };
    let kinesis = || {
        let mut builder = aws_sdk_kinesis::config::Builder::from(&sdk);
        if let Some(url) = &kinesis_endpoint {
            builder = builder.endpoint_url(url);
        }
        builder
    };
    let admin = kinesis()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3).min(args.api_timeout))
                .operation_timeout(args.api_timeout)
                .build(),
        )
        .build();
    let producer = kinesis()
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .build(),
        )
        .build();
    // The local server has no CloudWatch: only an endpoint named for it serves there.
    let cloudwatch_endpoint = if matches!(target, Target::Embedded { .. }) {
        endpoints.cloudwatch
    } else {
        endpoints.cloudwatch_or_kinesis().cloned()
    }
    .map(|(_, url)| url);
    Ok(Connection {
        admin: Client::from_conf(admin),
        producer: Client::from_conf(producer),
        target,
        sdk,
        cloudwatch_endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        for good in [
            "http://127.0.0.1:4567",
            "https://kinesis.us-east-1.amazonaws.com",
            "http://localhost:4566/",
            "http://[::1]:4567",
        ] {
            assert!(validate_endpoint("--endpoint-url", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "localhost:4566",
            "ftp://x",
            "http://",
            "http://:80",
            "http://h:99999",
            "http://u:p@h:99999",
            "http://h:0",
            "http://a b",
            "http://u:p@h/a b",
            "http://[::1",
        ] {
            let err = validate_endpoint("--endpoint-url", bad).unwrap_err();
            assert!(err.to_string().contains("--endpoint-url"), "{bad}: {err}");
        }
    }
}
