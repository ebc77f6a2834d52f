//! The main job end to end: an envelope is published to SNS, the bus carries it to the
//! notification queue, the notification function runs, and SES captures the e-mails.

use integration_tests::{envelope_sent, envelope_sent_v2, Cast, LocalStack, Who};
use std::collections::BTreeSet;
use std::time::Duration;

fn summary(mails: &[bus_cli::outbox::CapturedMail]) -> BTreeSet<(String, String, String)> {
    mails
        .iter()
        .map(|m| {
            let kind = if m.subject.starts_with("Sent:") {
                "confirmation"
            } else if m.subject.starts_with("Copy:") {
                "copy"
            } else {
                "invitation"
            };
            (m.to.join(","), kind.to_owned(), m.source.clone())
        })
        .collect()
}

/// A sequential envelope invites only its first signer and copies the cc; a parallel one invites
/// both signers; each sender gets a confirmation. Nobody else gets anything.
#[tokio::test]
async fn sequential_and_parallel_envelopes_mail_exactly_the_right_people() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("sender");
    stack.verify_sender(&sender).await;
    let from_sender = format!("\"Avery Example\" <{sender}>");
    let from_platform = "\"eSign\" <no-reply@sign.example>".to_owned();

    let (s1, s2, cc) = (
        cast.address("seq-first"),
        cast.address("seq-second"),
        cast.address("seq-cc"),
    );
    let sequential = envelope_sent(
        &sender,
        "sequential",
        &[
            Who::signer("First Signer", s1.clone(), 1),
            Who::signer("Second Signer", s2.clone(), 2),
            Who::cc("Copied Person", cc.clone(), 3),
        ],
    );
    let (p1, p2) = (cast.address("par-one"), cast.address("par-two"));
    let parallel = envelope_sent(
        &sender,
        "parallel",
        &[
            Who::signer("Parallel One", p1.clone(), 1),
            Who::signer("Parallel Two", p2.clone(), 1),
        ],
    );
    stack.publish(&sequential).await;
    stack.publish(&parallel).await;

    let everyone = [
        s1.clone(),
        s2.clone(),
        cc.clone(),
        p1.clone(),
        p2.clone(),
        sender.clone(),
    ];
    let mails = stack
        .wait_for_mails(&everyone, 6, Duration::from_secs(30))
        .await;
    let expected: BTreeSet<_> = [
        (s1, "invitation", &from_sender),
        (cc, "copy", &from_sender),
        (p1, "invitation", &from_sender),
        (p2, "invitation", &from_sender),
        (sender.clone(), "confirmation", &from_platform),
    ]
    .into_iter()
    .map(|(to, kind, from)| (to, kind.to_owned(), from.clone()))
    .collect();
    assert_eq!(summary(&mails), expected, "mails: {mails:#?}");
    let confirmations = mails.iter().filter(|m| m.to == [sender.clone()]).count();
    assert_eq!(confirmations, 2, "one confirmation per envelope");
    for mail in &mails {
        assert!(
            !mail.text.contains("ZX81-TEST") && !mail.html.contains("ZX81-TEST"),
            "access code leaked"
        );
    }
}

/// An event whose processing can't succeed (SES refuses its unverified sender) is parked in
/// notification-events-dlq after one receive, in its own message group and with the reason;
/// the envelopes published before and after it are delivered meanwhile; once the cause is fixed,
/// redriving that envelope from the dead-letter queue delivers it.
#[tokio::test]
async fn a_failing_event_is_parked_in_the_dlq_while_other_envelopes_flow() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let good_sender = cast.address("good-sender");
    stack.verify_sender(&good_sender).await;
    let unverified = cast.address("unverified-sender");

    let signer = |who: &str| Who::signer("Some Signer", cast.address(who), 1);
    let before = envelope_sent(&good_sender, "parallel", &[signer("before")]);
    let poison = envelope_sent(&unverified, "parallel", &[signer("poison")]);
    let after = envelope_sent(&good_sender, "parallel", &[signer("after")]);
    stack.publish(&before).await;
    let poison = stack.publish(&poison).await;
    stack.publish(&after).await;

    let delivered = [cast.address("before"), cast.address("after")];
    let mails = stack
        .wait_for_mails(&delivered, 2, Duration::from_secs(30))
        .await;
    assert_eq!(
        mails.len(),
        2,
        "both healthy envelopes are delivered: {mails:#?}"
    );

    let parked = stack
        .parked(
            "notification-events-dlq.fifo",
            &poison.event_id.to_string(),
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].group, poison.partition_key());
    let reason = &parked[0].reason;
    assert_eq!(reason["errorKind"], "permanent");
    assert_eq!(reason["receiveCount"], "1");
    assert_eq!(reason["eventId"], poison.event_id.to_string());
    assert!(
        reason["errorMessage"].contains("MessageRejected"),
        "{reason:?}"
    );
    assert!(
        !reason["errorMessage"].contains(&unverified),
        "the address is scrubbed: {reason:?}"
    );
    assert!(stack.mails_to(&[cast.address("poison")]).await.is_empty());

    // The cause fixed (the sender verified), the operator sends that envelope back and its
    // invitation goes out.
    stack.verify_sender(&unverified).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.aws);
    let pair = bus_cli::dlq::Pair::of(&sqs, "notification-events.fifo")
        .await
        .unwrap();
    let only_poison = bus_cli::dlq::Filter {
        group: Some(poison.partition_key()),
        event_id: None,
    };
    let moved = bus_cli::dlq::redrive(&sqs, &pair, &only_poison)
        .await
        .unwrap()
        .moved;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].event_id, Some(poison.event_id.to_string()));
    let mails = stack
        .wait_for_mails(&[cast.address("poison")], 1, Duration::from_secs(30))
        .await;
    assert_eq!(mails.len(), 1, "delivered once redriven");
}

/// With SMS switched on (as `infra/bus.sh` deploys it), an invited signer with a phone gets a
/// text, without the access code; a cc recipient with a phone does not.
#[tokio::test]
async fn invited_signers_with_a_phone_get_an_sms() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("sms-sender");
    stack.verify_sender(&sender).await;
    let digits: String = cast.tag.bytes().map(|b| (b % 10).to_string()).collect();
    let (signer_phone, cc_phone) = (
        format!("+1555{}", &digits[..7]),
        format!("+1666{}", &digits[..7]),
    );
    let event = envelope_sent(
        &sender,
        "parallel",
        &[
            Who::signer("Texted Signer", cast.address("texted"), 1).with_phone(&signer_phone),
            Who::cc("Copied", cast.address("copied"), 2).with_phone(&cc_phone),
        ],
    );
    stack.publish(&event).await;
    let mails = stack
        .wait_for_mails(
            &[cast.address("texted"), cast.address("copied")],
            2,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(mails.len(), 2);
    let texts = stack.sms_to(&signer_phone).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].message.contains("Please sign: test agreement"));
    assert!(!texts[0].message.contains("ZX81-TEST"));
    assert!(stack.sms_to(&cc_phone).await.is_empty());
}

/// `envelope.sent.v2` reaches the notification function through the same subscription and is
/// handled like v1.
#[tokio::test]
async fn version_2_of_envelope_sent_is_delivered_like_version_1() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("v2-sender");
    stack.verify_sender(&sender).await;
    let event = envelope_sent_v2(
        &sender,
        "sequential",
        &[
            Who::signer("V2 First", cast.address("v2-first"), 1),
            Who::signer("V2 Second", cast.address("v2-second"), 2),
        ],
    );
    stack.publish(&event).await;
    let everyone = [
        cast.address("v2-first"),
        cast.address("v2-second"),
        sender.clone(),
    ];
    let mails = stack
        .wait_for_mails(&everyone, 2, Duration::from_secs(30))
        .await;
    let to: BTreeSet<String> = mails.iter().map(|m| m.to.join(",")).collect();
    assert_eq!(to, BTreeSet::from([cast.address("v2-first"), sender]));
    let invitation = mails
        .iter()
        .find(|m| m.to == [cast.address("v2-first")])
        .unwrap();
    assert!(invitation
        .text
        .contains("access code that the sender gave you"));
}

/// Twelve events published with `PublishBatch` (ten, then two) all arrive.
#[tokio::test]
async fn a_batch_publish_of_twelve_envelopes_delivers_all_of_them() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("batch-sender");
    stack.verify_sender(&sender).await;
    let events: Vec<esign_events::Event> = (0..12)
        .map(|i| {
            let who = Who::signer("Batch Signer", cast.address(&format!("batch-{i}")), 1);
            esign_events::Event::from_value(envelope_sent(&sender, "parallel", &[who])).unwrap()
        })
        .collect();
    let ids = stack.publisher().publish_all(&events).await.unwrap();
    assert_eq!(ids.len(), 12);
    assert!(ids.iter().all(|id| !id.is_empty()));
    let signers: Vec<String> = (0..12)
        .map(|i| cast.address(&format!("batch-{i}")))
        .collect();
    let mails = stack
        .wait_for_mails(&signers, 12, Duration::from_secs(30))
        .await;
    assert_eq!(mails.len(), 12);
}

/// SES's delivery and bounce reports, published to its feedback topic, update the
/// notifications they are about.
#[tokio::test]
async fn delivery_and_bounce_reports_update_their_notifications() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("report-sender");
    stack.verify_sender(&sender).await;
    let (delivered, bounced) = (
        cast.address("report-delivered"),
        cast.address("report-bounced"),
    );
    let event = envelope_sent(
        &sender,
        "parallel",
        &[
            Who::signer("Delivered", delivered.clone(), 1),
            Who::signer("Bounced", bounced.clone(), 1),
        ],
    );
    stack.publish(&event).await;
    let mails = stack
        .wait_for_mails(
            &[delivered.clone(), bounced.clone()],
            2,
            Duration::from_secs(30),
        )
        .await;
    let id_of = |to: &str| {
        mails
            .iter()
            .find(|m| m.to == [to.to_string()])
            .unwrap()
            .id
            .clone()
    };
    let (ok_id, bad_id) = (id_of(&delivered), id_of(&bounced));

    let report = |kind: &str, id: &str| {
        serde_json::json!({
            "eventType": kind,
            "mail": {"messageId": id, "timestamp": "2026-12-03T10:00:00.000Z"},
            "delivery": {"recipients": ["x"]},
            "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail"}
        })
        .to_string()
    };
    stack
        .publish_plain("ses-feedback", &report("Delivery", &ok_id))
        .await;
    stack
        .publish_plain("ses-feedback", &report("Bounce", &bad_id))
        .await;

    let state =
        |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
            item.get("state")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
    let ok = stack
        .wait_item(
            "esign-notifications",
            ("pk", &format!("provider#{ok_id}")),
            Duration::from_secs(30),
            |i| state(i) == "delivered",
        )
        .await
        .unwrap();
    assert_eq!(state(&ok), "delivered");
    let bad = stack
        .wait_item(
            "esign-notifications",
            ("pk", &format!("provider#{bad_id}")),
            Duration::from_secs(30),
            |i| state(i) == "failed",
        )
        .await
        .unwrap();
    assert_eq!(state(&bad), "failed");
}
