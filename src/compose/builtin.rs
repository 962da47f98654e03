//! The templates that ship with kwb (`assets/templates/`), built into the binary so the
//! workbench offers them wherever it runs.

/// Name and text of each shipped template.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "clickstream",
        include_str!("../../assets/templates/clickstream.json"),
    ),
    (
        "iot-sensor",
        include_str!("../../assets/templates/iot-sensor.json"),
    ),
    (
        "order-events",
        include_str!("../../assets/templates/order-events.json"),
    ),
    (
        "app-log",
        include_str!("../../assets/templates/app-log.txt"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// (The template module's tests check that every file in the folder parses and renders.)
    #[test]
    fn every_shipped_template_is_built_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(TEMPLATES.iter().any(|(_, t)| *t == text));
        }
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), TEMPLATES.len());
    }
}
