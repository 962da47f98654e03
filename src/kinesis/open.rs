//! Opening a stream on a target, for every command and the workbench: connect, then make sure
//! the stream is there (creating it where that is allowed) or say which streams there are.

use crate::kinesis::admin::{
    ensure_stream, list_streams, validate_stream_name, AdminError, Ensured,
};
use crate::kinesis::client::{connect, Connection, TargetArgs};

/// Whether a command may create the stream it names when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Commands that send (`put`, the workbench) create it, on the local server only, and say so.
    Create,
    /// Every other command fails, naming the stream and listing the ones there are.
    Fail,
}

/// Connects to the target and makes sure `stream` is there; `shards` is what it gets if kwb
/// creates it.
pub async fn open_stream(
    target: &TargetArgs,
    stream: &str,
    shards: u32,
    missing: Missing,
) -> anyhow::Result<Connection> {
    validate_stream_name(stream)?;
    let connection = connect(target).await?;
    let create = missing == Missing::Create && connection.is_embedded();
    match ensure_stream(&connection.admin, stream, shards, create).await {
        Ok(Ensured::Created) => eprintln!(
            "created stream {stream} with {shards} shards on {}",
            connection.target
        ),
        Ok(Ensured::Existed) => {}
        Err(AdminError::NotFound(name)) => {
            let there = match list_streams(&connection.admin).await {
                Ok(names) if names.is_empty() => "there are no streams".to_string(),
                Ok(names) => format!("streams there: {}", names.join(", ")),
                Err(_) => "the streams there could not be listed".to_string(),
            };
            anyhow::bail!(
                "stream {name:?} does not exist on {}; {there} (kwb put creates a missing stream on the local server; kwb streams create NAME makes one anywhere)",
                connection.target
            );
        }
        Err(e) => anyhow::bail!("{e} (target: {})", connection.target),
    }
    Ok(connection)
}
