//! The consuming runtime against the real local stack: crashes, redeliveries, re-publication,
//! poison messages and flaky dependencies.

use integration_tests::{envelope_sent, probe_event, Cast, LocalStack, Who};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PROBE_QUEUE: &str = "probe-events.fifo";
const PROBE_DLQ: &str = "probe-events-dlq.fifo";

fn id(event: &serde_json::Value) -> String {
    event["eventId"].as_str().unwrap().to_owned()
}

/// The function crashes between two records of a batch. After Lambda's replacement runs, every
/// event has been handled exactly once, and each envelope's events in order.
#[tokio::test]
async fn a_crash_between_records_loses_nothing_and_repeats_nothing() {
    let stack = LocalStack::connect().await;
    let (e1, e2) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let tag = Uuid::new_v4().simple().to_string();
    let first: Vec<_> = ["ok", "ok", &format!("crash-before:{tag}"), "ok"]
        .iter()
        .map(|o| probe_event(&e1, o))
        .collect();
    let second: Vec<_> = (0..3).map(|_| probe_event(&e2, "ok")).collect();
    // Interleaved as two envelopes' events arrive.
    let mut batch = Vec::new();
    for (i, event) in first.iter().enumerate() {
        batch.push((e1.clone(), event.to_string()));
        if let Some(e) = second.get(i) {
            batch.push((e2.clone(), e.to_string()));
        }
    }
    stack.send_to_queue(PROBE_QUEUE, &batch).await;

    let deadline = Instant::now() + Duration::from_secs(90);
    while stack.probe_log(&e1).await.len() < 4 || stack.probe_log(&e2).await.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "not all events were handled: {:?} {:?}",
            stack.probe_log(&e1).await,
            stack.probe_log(&e2).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stack.probe_count(&format!("crashed#{tag}")).await,
        2,
        "it crashed once, then went past the marker"
    );
    assert_eq!(
        stack.probe_log(&e1).await,
        first.iter().map(id).collect::<Vec<_>>()
    );
    assert_eq!(
        stack.probe_log(&e2).await,
        second.iter().map(id).collect::<Vec<_>>()
    );
    // No event was attempted without end: each ran once, or twice when the crash caught it.
    for event in first.iter().chain(&second) {
        let attempts = stack.probe_count(&format!("attempts#{}", id(event))).await;
        assert!(
            (1..=2).contains(&attempts),
            "{}: {attempts} attempts",
            id(event)
        );
    }
}

/// A dependency fails retryably twice, then recovers: the event is handled once, nothing is
/// parked, and the retries came after the short backoff (2 s, then 4 s), well before the queue's
/// 12 s visibility timeout would have let them.
#[tokio::test]
async fn a_dependency_that_fails_a_few_times_then_recovers() {
    let stack = LocalStack::connect().await;
    let envelope = Uuid::new_v4().to_string();
    let event = probe_event(&envelope, "fail-retryable:2");
    let started = Instant::now();
    stack
        .send_to_queue(PROBE_QUEUE, &[(envelope.clone(), event.to_string())])
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stack.probe_log(&envelope).await.is_empty() {
        assert!(Instant::now() < deadline, "never handled");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let took = started.elapsed();
    assert_eq!(
        stack.probe_count(&format!("attempts#{}", id(&event))).await,
        3
    );
    assert_eq!(stack.probe_log(&envelope).await, vec![id(&event)]);
    assert!(
        took < Duration::from_secs(20),
        "two visibility timeouts would take 24 s; took {took:?}"
    );
    assert!(stack
        .parked(PROBE_DLQ, &id(&event), Duration::from_secs(1))
        .await
        .is_empty());
}

/// A retryable failure that never recovers is parked on the third receive (the queue's
/// maxReceiveCount), with its reason.
#[tokio::test]
async fn a_failure_that_never_recovers_is_parked_at_the_retry_limit() {
    let stack = LocalStack::connect().await;
    let envelope = Uuid::new_v4().to_string();
    let event = probe_event(&envelope, "fail-always");
    stack
        .send_to_queue(PROBE_QUEUE, &[(envelope.clone(), event.to_string())])
        .await;
    let parked = stack
        .parked(PROBE_DLQ, &id(&event), Duration::from_secs(60))
        .await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    let reason = &parked[0].reason;
    assert_eq!(reason["errorKind"], "retries_exhausted");
    assert_eq!(reason["lastErrorKind"], "retryable");
    assert_eq!(reason["receiveCount"], "3");
    assert_eq!(reason["consumer"], "probe");
    assert!(reason["errorMessage"].contains("told to fail always"));
    assert!(reason["firstFailureAt"] < reason["lastFailureAt"]);
    assert_eq!(parked[0].group, envelope);
    assert_eq!(
        stack.probe_count(&format!("attempts#{}", id(&event))).await,
        3
    );
}

/// A body that can never be processed, published through the real topic, is parked in
/// notification-events-dlq after one receive, with why.
#[tokio::test]
async fn a_poison_message_is_parked_after_one_receive_with_its_reason() {
    let stack = LocalStack::connect().await;
    let marker = Uuid::new_v4().to_string();
    let body = format!(
        "{{\"eventId\":\"{marker}\",\"eventType\":\"envelope.sent\",\"data\":{{\"envelopeId\":"
    );
    stack
        .publish_raw("envelope-events.fifo", "envelope.sent", &marker, &body)
        .await;
    let parked = stack
        .parked(
            "notification-events-dlq.fifo",
            &marker,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(parked.len(), 1);
    let reason = &parked[0].reason;
    assert_eq!(reason["errorKind"], "not_json");
    assert_eq!(reason["consumer"], "notification");
    assert_eq!(reason["receiveCount"], "1");
    assert!(
        reason["errorMessage"].starts_with("body is not a JSON object: EOF"),
        "{reason:?}"
    );
    assert_eq!(parked[0].body, body);
    assert_eq!(parked[0].group, marker);
}

/// The same envelope.sent delivered twice by SQS and published again after SNS's dedup window:
/// each person gets one e-mail.
#[tokio::test]
async fn an_event_delivered_twice_and_published_twice_sends_one_email() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("dup-sender");
    stack.verify_sender(&sender).await;
    let signer = cast.address("dup-signer");
    let event = envelope_sent(
        &sender,
        "parallel",
        &[Who::signer("Dup Signer", signer.clone(), 1)],
    );
    let group = event["data"]["envelopeId"].as_str().unwrap().to_owned();
    stack.publish(&event).await;
    // SQS's at-least-once delivery, twice over.
    stack
        .send_to_queue(
            "notification-events.fifo",
            &[
                (group.clone(), event.to_string()),
                (group.clone(), event.to_string()),
            ],
        )
        .await;
    // A publisher retrying after the 5-minute window: SNS sees a new deduplication id.
    stack
        .publish_raw(
            "envelope-events.fifo",
            "envelope.sent",
            &group,
            &event.to_string(),
        )
        .await;

    let mails = stack
        .wait_for_mails(
            &[signer.clone(), sender.clone()],
            2,
            Duration::from_secs(30),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_after = stack.mails_to(&[signer.clone(), sender.clone()]).await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    assert_eq!(
        mails_after.len(),
        2,
        "one invitation and one confirmation, however often the event came"
    );
}
