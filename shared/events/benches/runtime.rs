//! The runtime's cost per record on a batch of 10 with a handler that does nothing, against a
//! bare loop that only parses the same records, in one run.
//!
//! Run with `cargo bench -p esign-events --bench runtime`. The runtime is measured twice: with
//! no idempotency store (its own bookkeeping: grouping, spans, metrics, the response), and with
//! the in-memory store (adding the idempotency protocol's work, without the network round trips
//! DynamoDB costs in production).

use aws_lambda_events::sqs::SqsEvent;
use esign_events::idempotency::{MemoryStore, NoStore};
use esign_events::metrics::Recorder;
use esign_events::queue::NoQueue;
use esign_events::runtime::{
    decode_body, now_ms, Backoff, Consumer, Handler, HandlerError, RecordContext,
};
use esign_events::Event;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SAMPLES: usize = 41;
const BATCHES_PER_SAMPLE: usize = 200;

struct Nothing;
impl Handler for Nothing {
    async fn handle(&self, _: &Event, _: &RecordContext) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// Ten records of two envelopes, as Lambda delivers them. `round` makes every event id new, so
/// the idempotency store never short-cuts a record as a duplicate.
fn batch(round: usize) -> SqsEvent {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/events/envelope.recipient.signed.json"
    );
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let records: Vec<_> = (0..10)
        .map(|i| {
            let mut e = template.clone();
            e["eventId"] = json!(format!("00000000-0000-4000-8000-{:06}{i:06}", round));
            let group = if i % 2 == 0 {
                "3f6c2a9e-8b1d-4c7e-9a52-0d4e7b1c6f10"
            } else {
                "7b1e4d20-93c5-4f8a-b6d1-5e2c9a0f3b77"
            };
            e["data"]["envelopeId"] = json!(group);
            json!({
                "messageId": format!("m-{i}"),
                "receiptHandle": format!("r-{i}"),
                "body": e.to_string(),
                "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:bench.fifo",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let batches: Vec<SqsEvent> = (0..BATCHES_PER_SAMPLE).map(batch).collect();
    let records = (BATCHES_PER_SAMPLE * 10) as f64;

    let bare = || {
        let start = Instant::now();
        for b in &batches {
            for r in &b.records {
                black_box(decode_body(black_box(r.body.as_deref().unwrap())).unwrap());
            }
        }
        start.elapsed()
    };
    let runtime = |store_kind: &str| {
        let metrics = Recorder::new();
        let memory = MemoryStore::new();
        let start = Instant::now();
        rt.block_on(async {
            for b in &batches {
                let response = if store_kind == "memory" {
                    let c = Consumer {
                        name: "bench",
                        handler: &Nothing,
                        store: &memory,
                        queues: &NoQueue,
                        backoff: Backoff::default(),
                    };
                    c.process(black_box(b), now_ms() + 60_000, &metrics).await
                } else {
                    let c = Consumer {
                        name: "bench",
                        handler: &Nothing,
                        store: &NoStore,
                        queues: &NoQueue,
                        backoff: Backoff::default(),
                    };
                    c.process(black_box(b), now_ms() + 60_000, &metrics).await
                };
                assert!(black_box(response).unwrap().batch_item_failures.is_empty());
            }
        });
        let elapsed = start.elapsed();
        black_box(metrics.drain());
        elapsed
    };

    for _ in 0..3 {
        bare();
        runtime("none");
        runtime("memory");
    }
    let (mut b, mut n, mut m) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        b.push(bare());
        n.push(runtime("none"));
        m.push(runtime("memory"));
    }
    let (b, n, m) = (median(b), median(n), median(m));
    let per = |d: Duration| d.as_nanos() as f64 / records;
    println!("batches of 10 records, two message groups, handler does nothing");
    println!(
        "bare parse loop (baseline):           {:>8.0} ns/record",
        per(b)
    );
    println!(
        "runtime, no idempotency store:        {:>8.0} ns/record  ratio {:.2}",
        per(n),
        n.as_secs_f64() / b.as_secs_f64()
    );
    println!(
        "runtime, in-memory idempotency store: {:>8.0} ns/record  ratio {:.2}",
        per(m),
        m.as_secs_f64() / b.as_secs_f64()
    );
}
