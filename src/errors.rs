//! Errors for people: an error and its whole chain of sources, on one line, with credentials in
//! URLs hidden (a library's message may quote an endpoint whole).

/// An error with its whole chain of sources, on one line, credentials in URLs hidden.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // SDK errors often repeat their source's words: say each thing once.
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    // Kinesis speaks JSON over HTTP: a decoder's complaint means another kind of server.
    protocol_hint(
        crate::config::redact_urls(&text),
        "Kinesis",
        "JSON over HTTP",
        &["malformed JSON error body"],
    )
}

/// A decoder's words (any of `markers`) for an answer that was not `service`'s protocol, said as
/// such.
pub fn protocol_hint(message: String, service: &str, protocol: &str, markers: &[&str]) -> String {
    if markers.iter().any(|m| message.contains(m)) {
        format!("the endpoint did not answer in {service}'s protocol ({protocol}): is it a {service} endpoint? ({message})")
    } else {
        message
    }
}

/// A writer that hides credentials in URLs in everything written through it (the log file: the
/// SDK logs endpoints whole at debug level).
pub struct Redacting<W>(pub W);

impl<W: std::io::Write> std::io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::config::redact_urls(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
