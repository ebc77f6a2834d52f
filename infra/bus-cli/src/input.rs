//! Events read from files for publishing.

use anyhow::{Context, Result};
use esign_events::Event;
use std::path::PathBuf;

/// Every event in the files, checked before any is published, and before any call: valid, and
/// publishable as it is (size, ids, its version's support window). An error names the file
/// (and the position in an array).
pub fn read_events(files: &[PathBuf]) -> Result<Vec<Event>> {
    let checked = |value: serde_json::Value, place: String| -> Result<Event> {
        let event = Event::from_value(value).with_context(|| place.clone())?;
        esign_events::publish::Outgoing::prepare(&event).with_context(|| place)?;
        Ok(event)
    };
    let mut events = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not JSON", file.display()))?;
        match value {
            serde_json::Value::Array(items) => {
                anyhow::ensure!(
                    !items.is_empty(),
                    "{}: the array holds no events",
                    file.display()
                );
                for (i, item) in items.into_iter().enumerate() {
                    events.push(checked(item, format!("{}[{i}]", file.display()))?);
                }
            }
            single => events.push(checked(single, file.display().to_string())?),
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::read_events;
    use serde_json::Value;

    fn fixture() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/events/tests/fixtures/events/envelope.voided.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn write(name: &str, value: &Value) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("esign-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
        path
    }

    /// An event SNS would refuse for its size is refused while reading, before any call, and the
    /// error names the file and the position in its array.
    #[test]
    fn an_oversized_event_is_refused_while_reading_with_its_place() {
        let mut big = fixture();
        big["data"]["reason"] = Value::String("x".repeat(300 * 1024));
        let path = write("batch.json", &Value::Array(vec![fixture(), big]));
        let error = format!("{:#}", read_events(&[path]).unwrap_err());
        assert!(error.contains("batch.json[1]"), "{error}");
        assert!(error.contains("bytes"), "{error}");
    }

    #[test]
    fn valid_events_are_read_in_order() {
        let path = write("one.json", &fixture());
        let events = read_events(&[path.clone(), path]).unwrap();
        assert_eq!(events.len(), 2);
    }
}
