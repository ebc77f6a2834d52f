//! The dead-letter queue tools on real SQS: listing reasons without taking anything, and sending
//! one envelope's parked messages back in order while the rest stays parked.

use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use bus_cli::dlq::{self, Filter, Pair};
use integration_tests::{Cast, LocalStack};

fn text(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

/// A source queue and its dead-letter queue, of this test's own.
async fn queues(sqs: &aws_sdk_sqs::Client, tag: &str) -> (String, Pair) {
    let fifo = |name: String| {
        sqs.create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::FifoQueue, "true")
    };
    let dlq_url = fifo(format!("dlq-tool-{tag}-dlq.fifo"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let source = format!("dlq-tool-{tag}.fifo");
    fifo(source.clone())
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let pair = Pair::of(sqs, &source).await.unwrap();
    assert_eq!(pair.dead_letter_url, dlq_url);
    (source, pair)
}

/// Parks messages as the runtime does: body, group, reason attributes.
async fn park(sqs: &aws_sdk_sqs::Client, dlq_url: &str, group: &str, events: &[String]) {
    for chunk in events.chunks(10) {
        let entries = chunk.iter().map(|event| {
            SendMessageBatchRequestEntry::builder()
                .id(event.clone())
                .message_body(format!(r#"{{"eventId":"{event}"}}"#))
                .message_group_id(group)
                .message_deduplication_id(event.clone())
                .message_attributes("eventId", text(event))
                .message_attributes("eventType", text("envelope.viewed"))
                .message_attributes("errorKind", text("retries_exhausted"))
                .message_attributes("errorMessage", text("ses:SendEmail: throttled"))
                .message_attributes("consumer", text("notification"))
                .message_attributes("receiveCount", text("3"))
                .build()
                .unwrap()
        });
        let out = sqs
            .send_message_batch()
            .queue_url(dlq_url)
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .unwrap();
        assert!(out.failed().is_empty(), "{:?}", out.failed());
    }
}

#[tokio::test]
async fn one_envelopes_parked_messages_go_back_in_order_and_the_rest_stays() {
    let stack = LocalStack::connect().await;
    let sqs = aws_sdk_sqs::Client::new(&stack.aws);
    let tag = Cast::new().tag;
    let (_, pair) = queues(&sqs, &tag).await;
    let (a, b) = (format!("env-a-{tag}"), format!("env-b-{tag}"));
    // Twelve for one envelope: more than one receive can hand out of a FIFO group.
    let a_events: Vec<String> = (1..=12).map(|i| format!("a-{i:02}-{tag}")).collect();
    let b_events = vec![format!("b-01-{tag}")];
    park(&sqs, &pair.dead_letter_url, &a, &a_events).await;
    park(&sqs, &pair.dead_letter_url, &b, &b_events).await;

    // Listing shows each message's reason and takes nothing: a second listing sees the same.
    let listed = dlq::list(&sqs, &pair.dead_letter_url).await.unwrap();
    let again = dlq::list(&sqs, &pair.dead_letter_url).await.unwrap();
    let ids = |ms: &[dlq::ParkedMessage]| {
        let mut v: Vec<String> = ms.iter().filter_map(|m| m.event_id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&listed), ids(&again));
    assert!(ids(&listed).contains(&b_events[0]));
    assert!(ids(&listed).contains(&a_events[0]));
    let b_listed = listed
        .iter()
        .find(|m| m.group.as_deref() == Some(b.as_str()))
        .unwrap();
    assert_eq!(b_listed.error_kind.as_deref(), Some("retries_exhausted"));
    assert_eq!(b_listed.consumer.as_deref(), Some("notification"));
    assert!(b_listed.line().contains("reason=ses:SendEmail: throttled"));

    // Envelope A goes back, all twelve, in order, without the reason attributes.
    let only_a = Filter {
        group: Some(a.clone()),
        event_id: None,
    };
    let moved = dlq::redrive(&sqs, &pair, &only_a).await.unwrap().moved;
    let moved_ids: Vec<String> = moved.iter().filter_map(|m| m.event_id.clone()).collect();
    assert_eq!(moved_ids, a_events);

    let mut back = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(&pair.source_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            let attributes = m.message_attributes().cloned().unwrap_or_default();
            let mut names: Vec<&String> = attributes.keys().collect();
            names.sort();
            assert_eq!(
                names,
                ["eventType", "redriveId"],
                "only the event type and the run's id go back, not the reason"
            );
            assert_eq!(
                m.attributes().unwrap()[&MessageSystemAttributeName::MessageGroupId],
                a
            );
            back.push(m.body().unwrap().to_owned());
            sqs.delete_message()
                .queue_url(&pair.source_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if back.len() == a_events.len() {
            break;
        }
    }
    let expected: Vec<String> = a_events
        .iter()
        .map(|e| format!(r#"{{"eventId":"{e}"}}"#))
        .collect();
    assert_eq!(back, expected, "in their order");

    // B is still parked, in view at once (its hold was released), and goes back by event id.
    let left = dlq::list(&sqs, &pair.dead_letter_url).await.unwrap();
    assert_eq!(ids(&left), b_events);
    let only_b = Filter {
        group: None,
        event_id: Some(b_events[0].clone()),
    };
    assert_eq!(
        dlq::redrive(&sqs, &pair, &only_b)
            .await
            .unwrap()
            .moved
            .len(),
        1
    );
    assert!(dlq::list(&sqs, &pair.dead_letter_url)
        .await
        .unwrap()
        .is_empty());

    // A message this very run sent back, which failed again and was parked again (parking
    // keeps the run's id), is not sent round once more: it stays parked and is reported.
    sqs.send_message()
        .queue_url(&pair.dead_letter_url)
        .message_body(r#"{"eventId":"again"}"#)
        .message_group_id(&b)
        .message_deduplication_id(format!("again-{tag}"))
        .message_attributes("eventId", text("again"))
        .message_attributes("errorKind", text("permanent"))
        .message_attributes("redriveId", text("run-x"))
        .send()
        .await
        .unwrap();
    let done = dlq::redrive_as(&sqs, &pair, &Filter::default(), "run-x")
        .await
        .unwrap();
    assert!(done.moved.is_empty());
    assert_eq!(done.parked_again.len(), 1);
    assert!(done.parked_again[0].line().contains("redriven=yes"));
    assert_eq!(
        dlq::list(&sqs, &pair.dead_letter_url).await.unwrap().len(),
        1
    );
}
