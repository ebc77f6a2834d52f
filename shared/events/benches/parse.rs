//! Parsing and validating a batch of realistic events, against a bare `serde_json::Value` parse
//! of the same bytes, measured in one run and reported as a ratio.
//!
//! Run with `cargo bench -p esign-events --bench parse`. Samples of the two are interleaved so
//! that machine noise hits both alike; the medians are compared.

use esign_events::Event;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SAMPLES: usize = 41;
const ROUNDS_PER_SAMPLE: usize = 50;

fn batch() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/events");
    let mut events: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("fixture"))
        .collect();
    events.sort();
    // Compact, as they travel on the bus.
    events
        .iter()
        .map(|bytes| {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .unwrap()
                .to_string()
                .into_bytes()
        })
        .collect()
}

fn time(mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..ROUNDS_PER_SAMPLE {
        f();
    }
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let events = batch();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let per_round = events.len();

    let mut typed = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..3 {
        // Warm-up.
        time(|| {
            events
                .iter()
                .for_each(|e| drop(black_box(Event::from_slice(e).unwrap())))
        });
    }
    for _ in 0..SAMPLES {
        typed.push(time(|| {
            for e in &events {
                black_box(Event::from_slice(black_box(e)).unwrap());
            }
        }));
        bare.push(time(|| {
            for e in &events {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(e)).unwrap());
            }
        }));
    }
    let (typed, bare) = (median(typed), median(bare));
    let per_event = |d: Duration| d.as_nanos() as f64 / (ROUNDS_PER_SAMPLE * per_round) as f64;
    println!("batch: {per_round} events, {bytes} bytes (every type and version of the catalogue)");
    println!(
        "serde_json::Value parse (baseline): {:>8.0} ns/event",
        per_event(bare)
    );
    println!(
        "Event::from_slice (parse+validate): {:>8.0} ns/event",
        per_event(typed)
    );
    println!(
        "ratio typed/baseline: {:.2}",
        typed.as_secs_f64() / bare.as_secs_f64()
    );
}
