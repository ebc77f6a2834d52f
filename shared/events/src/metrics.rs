//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout per flush,
//! which Lambda's log pipeline turns into metrics without an API call.
//!
//! Dimensions are low-cardinality names only (function, event type, outcome); never an id, an
//! address or anything personal.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The CloudWatch namespace of every metric of the bus.
pub const NAMESPACE: &str = "ESignEventBus";

/// A metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

type Dimensions = Vec<(String, String)>;
type Key = (Dimensions, String, Unit);

/// Collects metrics during an invocation; [`Recorder::flush`] writes them out.
#[derive(Debug, Default)]
pub struct Recorder {
    values: Mutex<BTreeMap<Key, Vec<f64>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a value of `name` under the given dimensions.
    pub fn record(&self, name: &str, unit: Unit, value: f64, dimensions: &[(&str, &str)]) {
        let dims = dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.values
            .lock()
            .expect("metrics lock")
            .entry((dims, name.to_owned(), unit))
            .or_default()
            .push(value);
    }

    /// Adds one to a counter.
    pub fn count(&self, name: &str, dimensions: &[(&str, &str)]) {
        self.record(name, Unit::Count, 1.0, dimensions);
    }

    /// The sum of a metric's values under exactly these dimensions (for tests and summaries).
    pub fn total(&self, name: &str, dimensions: &[(&str, &str)]) -> f64 {
        let dims: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.values
            .lock()
            .expect("metrics lock")
            .iter()
            .filter(|((d, n, _), _)| *d == dims && n == name)
            .flat_map(|(_, v)| v.iter())
            .sum()
    }

    /// The EMF documents for everything recorded, one per dimension set, and clears the
    /// recorder.
    pub fn drain(&self) -> Vec<Value> {
        let values = std::mem::take(&mut *self.values.lock().expect("metrics lock"));
        let mut by_dims: BTreeMap<Dimensions, Vec<(String, Unit, Vec<f64>)>> = BTreeMap::new();
        for ((dims, name, unit), v) in values {
            by_dims.entry(dims).or_default().push((name, unit, v));
        }
        let timestamp = chrono::Utc::now().timestamp_millis();
        by_dims
            .into_iter()
            .map(|(dims, metrics)| {
                let mut doc = Map::new();
                let names: Vec<&str> = dims.iter().map(|(k, _)| k.as_str()).collect();
                let definitions: Vec<Value> = metrics
                    .iter()
                    .map(|(n, u, _)| json!({"Name": n, "Unit": u.as_str()}))
                    .collect();
                doc.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": timestamp,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": [names],
                            "Metrics": definitions,
                        }]
                    }),
                );
                for (k, v) in &dims {
                    doc.insert(k.clone(), Value::String(v.clone()));
                }
                for (name, _, v) in metrics {
                    let value = if v.len() == 1 { json!(v[0]) } else { json!(v) };
                    doc.insert(name, value);
                }
                Value::Object(doc)
            })
            .collect()
    }

    /// Writes the EMF documents to stdout, where Lambda picks them up.
    pub fn flush(&self) {
        for doc in self.drain() {
            println!("{doc}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_group_metrics_by_dimensions() {
        let r = Recorder::new();
        r.count("RecordsProcessed", &[("EventType", "envelope.sent")]);
        r.count("RecordsProcessed", &[("EventType", "envelope.sent")]);
        r.record(
            "ProcessingTime",
            Unit::Milliseconds,
            12.5,
            &[("EventType", "envelope.sent")],
        );
        r.count("RecordsFailed", &[("EventType", "envelope.viewed")]);
        assert_eq!(
            r.total("RecordsProcessed", &[("EventType", "envelope.sent")]),
            2.0
        );
        let docs = r.drain();
        assert_eq!(docs.len(), 2);
        let sent = docs
            .iter()
            .find(|d| d["EventType"] == "envelope.sent")
            .unwrap();
        assert_eq!(sent["RecordsProcessed"], json!([1.0, 1.0]));
        assert_eq!(sent["ProcessingTime"], json!(12.5));
        assert_eq!(sent["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            sent["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["EventType"]])
        );
        assert!(r.drain().is_empty(), "drain clears");
    }
}
