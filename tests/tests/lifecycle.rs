//! Whole envelope lifecycles on the local stack, driven by published events.

use integration_tests::{envelope_sent, invoke, Cast, Follow, LocalStack, Who};
use serde_json::json;
use std::time::Duration;

fn status(state: &serde_json::Value) -> &str {
    state["status"].as_str().unwrap_or_default()
}

/// A sequential envelope with two signers and a cc: sent, viewed, the first signs (the second's
/// turn comes), the second signs, and the envelope is completed with its completion published.
#[tokio::test]
async fn a_sequential_envelope_is_completed_when_both_signers_sign() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("life-sender");
    stack.verify_sender(&sender).await;
    let sent = envelope_sent(
        &sender,
        "sequential",
        &[
            Who::signer("First Signer", cast.address("life-first"), 1),
            Who::signer("Second Signer", cast.address("life-second"), 2),
            Who::cc("Copied", cast.address("life-cc"), 3),
        ],
    );
    let follow = Follow { sent: &sent };
    let id = follow.envelope_id();
    stack.publish(&sent).await;
    stack.publish(&follow.viewed(0)).await;
    stack.publish(&follow.signed(0)).await;

    let state = stack
        .envelope_state(&id, Duration::from_secs(30), |s| {
            s["recipients"][0]["status"] == "signed"
        })
        .await;
    assert_eq!(
        state["recipients"][1]["status"], "notified",
        "the second signer's turn: {state}"
    );
    assert!(state["recipients"][0]["viewedAt"].is_string());

    stack.publish(&follow.signed(1)).await;
    let state = stack
        .envelope_state(&id, Duration::from_secs(30), |s| {
            s["completionPublished"] == true
        })
        .await;
    assert_eq!(status(&state), "completed", "{state}");
    assert_eq!(state["completionPublished"], true);

    // The audit chain holds the five events (sent, viewed, two signatures, completed) and
    // verifies; no access code is in it.
    // The chain also holds the notification events about the envelope, interleaved as they
    // happen; the envelope's own events are in their order.
    let envelope_types = |entries: &[std::collections::HashMap<
        String,
        aws_sdk_dynamodb::types::AttributeValue,
    >]|
     -> Vec<String> {
        entries
            .iter()
            .map(|e| e["eventType"].as_s().unwrap().clone())
            .filter(|t| t.starts_with("envelope."))
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while envelope_types(&stack.audit_entries(&id).await).len() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the chain is incomplete"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let entries = stack.audit_entries(&id).await;
    let types = envelope_types(&entries);
    assert_eq!(
        types,
        [
            "envelope.sent",
            "envelope.viewed",
            "envelope.recipient.signed",
            "envelope.recipient.signed",
            "envelope.completed"
        ]
    );
    assert!(entries
        .iter()
        .all(|e| !e["canonical"].as_s().unwrap().contains("ZX81-TEST")));
    let answer = invoke(
        &stack,
        "template.yaml",
        "esign-bus",
        "AuditVerifierFunction",
        json!({"envelopeIds": [id]}),
    )
    .await;
    assert_eq!(answer, json!({"chains": 1, "tampered": []}));

    // Every e-mail went to the right person, in order.
    let (first, second, cc) = (
        cast.address("life-first"),
        cast.address("life-second"),
        cast.address("life-cc"),
    );
    let everyone = [first.clone(), second.clone(), cc.clone(), sender.clone()];
    let mails = stack
        .wait_for_mails(&everyone, 15, Duration::from_secs(45))
        .await;
    let subjects_to = |who: &str| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m.to == [who.to_string()])
            .map(|m| m.subject.split(':').next().unwrap().to_owned())
            .collect()
    };
    let certificate = "Certificate of completion";
    assert_eq!(
        subjects_to(&first),
        ["Please sign", "Completed", certificate]
    );
    assert_eq!(
        subjects_to(&second),
        ["Please sign", "Completed", certificate],
        "invited only after the first signed"
    );
    assert_eq!(subjects_to(&cc), ["Copy", "Completed", certificate]);
    assert_eq!(
        subjects_to(&sender),
        [
            "Sent",
            "Viewed",
            "Signed by First Signer",
            "Signed by Second Signer",
            "Completed",
            certificate
        ]
    );
    let second_invited = mails.iter().position(|m| m.to == [second.clone()]).unwrap();
    let first_signed = mails
        .iter()
        .position(|m| m.subject.starts_with("Signed by First Signer"))
        .unwrap();
    assert!(
        first_signed < second_invited,
        "the second invitation follows the first signature"
    );

    // The certificate in S3 renders (pdftoppm) and says what it must (pdftotext).
    let mail = mails
        .iter()
        .find(|m| m.subject.starts_with(certificate))
        .unwrap();
    assert_eq!(
        mail.attachments,
        [format!("certificate-of-completion-{id}.pdf")],
        "the certificate is attached"
    );
    let code = mail
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Verification code: "))
        .unwrap()
        .trim()
        .to_owned();
    let pdf = stack
        .s3()
        .get_object()
        .bucket(stack.bucket("esign-certificates"))
        .key(format!("certificates/{id}.pdf"))
        .send()
        .await
        .expect("the certificate is stored")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let dir = std::env::temp_dir().join(format!("esign-certificate-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("c.pdf"), &pdf).unwrap();
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
        .arg(dir.join("c.pdf"))
        .arg(dir.join("page"))
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(rendered.success());
    let png = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".png"));
    assert!(
        png.is_some_and(|p| p.metadata().unwrap().len() > 1000),
        "page 1 rendered to an image"
    );
    let text = std::process::Command::new("pdftotext")
        .arg(dir.join("c.pdf"))
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    // The audit chain's head hash when the certificate was made, as certificate.generated
    // carried it into the chain.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let generated = loop {
        let entries = stack.audit_entries(&id).await;
        if let Some(e) = entries
            .iter()
            .find(|e| e["eventType"].as_s().unwrap() == "certificate.generated")
        {
            break serde_json::from_str::<serde_json::Value>(e["canonical"].as_s().unwrap())
                .unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "certificate.generated never reached the chain"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let hash = generated["data"]["envelopeHash"].as_str().unwrap();
    let compact: String = text.split_whitespace().collect();
    assert!(
        compact.contains(hash),
        "the head hash {hash} is on the certificate"
    );
    assert_eq!(generated["data"]["verificationCode"], code.as_str());
    for needle in [
        "Certificate of Completion",
        "Please sign: test agreement",
        "First Signer",
        "Second Signer",
        code.as_str(),
        id.as_str(),
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the certificate:\n{text}"
        );
    }
}

/// An entry changed behind the chain's back is found by the verifier, which reports where.
#[tokio::test]
async fn a_tampered_audit_entry_is_detected_and_reported() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("tamper-sender");
    stack.verify_sender(&sender).await;
    let sent = envelope_sent(
        &sender,
        "parallel",
        &[Who::signer("Signer", cast.address("tamper-signer"), 1)],
    );
    let follow = Follow { sent: &sent };
    let id = follow.envelope_id();
    stack.publish(&sent).await;
    stack.publish(&follow.viewed(0)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stack.audit_entries(&id).await.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the chain was never written"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let first = &stack.audit_entries(&id).await[0];
    let forged = first["canonical"].as_s().unwrap().replace(
        "Please sign: test agreement",
        "Please sign: other agreement",
    );
    aws_sdk_dynamodb::Client::new(&stack.aws)
        .update_item()
        .table_name("esign-audit")
        .key(
            "envelopeId",
            aws_sdk_dynamodb::types::AttributeValue::S(id.clone()),
        )
        .key(
            "sequence",
            aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
        )
        .update_expression("SET canonical = :forged")
        .expression_attribute_values(
            ":forged",
            aws_sdk_dynamodb::types::AttributeValue::S(forged),
        )
        .send()
        .await
        .unwrap();
    let answer = invoke(
        &stack,
        "template.yaml",
        "esign-bus",
        "AuditVerifierFunction",
        json!({"envelopeIds": [id]}),
    )
    .await;
    let tampered = &answer["tampered"][0];
    assert_eq!(tampered["envelopeId"], json!(id));
    assert_eq!(tampered["sequence"], 1);
    assert_eq!(tampered["actualHash"], json!(first["hash"].as_s().unwrap()));
    assert_ne!(tampered["expectedHash"], tampered["actualHash"]);

    // Reported: audit.tampering.detected reaches the administrators.
    let alerts = stack
        .wait_for_mails(
            &["security@sign.example".to_string()],
            1,
            Duration::from_secs(30),
        )
        .await;
    assert!(
        alerts
            .iter()
            .any(|m| m.subject.contains(&id) && m.subject.starts_with("[Critical]")),
        "{alerts:#?}"
    );
}

/// A declined envelope and a voided one revoke every access code.
#[tokio::test]
async fn declining_and_voiding_revoke_every_access_code() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("rev-sender");
    stack.verify_sender(&sender).await;
    let signers = |tag: &str| {
        vec![
            Who::signer("One", cast.address(&format!("{tag}-one")), 1),
            Who::signer("Two", cast.address(&format!("{tag}-two")), 1),
        ]
    };
    let declined = envelope_sent(&sender, "parallel", &signers("declined"));
    let voided = envelope_sent(&sender, "parallel", &signers("voided"));
    stack.publish(&declined).await;
    stack.publish(&voided).await;
    stack.publish(&Follow { sent: &declined }.declined(1)).await;
    stack.publish(&Follow { sent: &voided }.voided()).await;

    for (sent, expected) in [(&declined, "declined"), (&voided, "voided")] {
        let id = Follow { sent }.envelope_id();
        let state = stack
            .envelope_state(&id, Duration::from_secs(30), |s| status(s) == expected)
            .await;
        assert_eq!(status(&state), expected, "{state}");
        for r in state["recipients"].as_array().unwrap() {
            assert_eq!(r["accessRevoked"], true, "{state}");
        }
    }

    // Every recipient of the voided envelope is told, and only they are.
    let (one, two) = (cast.address("voided-one"), cast.address("voided-two"));
    let voided_to = |mails: &[bus_cli::outbox::CapturedMail]| -> Vec<String> {
        let mut to: Vec<String> = mails
            .iter()
            .filter(|m| m.subject.starts_with("Voided:"))
            .map(|m| m.to.join(","))
            .collect();
        to.sort();
        to
    };
    let mut expected = vec![one.clone(), two.clone()];
    expected.sort();
    let mut mails = Vec::new();
    for _ in 0..30 {
        mails = stack
            .mails_to(&[one.clone(), two.clone(), sender.clone()])
            .await;
        if voided_to(&mails).len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(voided_to(&mails), expected, "{mails:#?}");
}

/// A parallel envelope declined by one signer: the sender and the other signer are told.
#[tokio::test]
async fn a_declined_envelope_tells_the_sender_and_the_others() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("decl-sender");
    stack.verify_sender(&sender).await;
    let (one, two) = (cast.address("decl-one"), cast.address("decl-two"));
    let sent = envelope_sent(
        &sender,
        "parallel",
        &[
            Who::signer("One", one.clone(), 1),
            Who::signer("Two", two.clone(), 1),
        ],
    );
    stack.publish(&sent).await;
    stack.publish(&Follow { sent: &sent }.declined(1)).await;
    let mails = stack
        .wait_for_mails(
            &[sender.clone(), one.clone(), two.clone()],
            6,
            Duration::from_secs(30),
        )
        .await;
    let declined_to: Vec<String> = mails
        .iter()
        .filter(|m| m.subject.starts_with("Declined:"))
        .map(|m| m.to.join(","))
        .collect();
    assert_eq!(declined_to.len(), 2, "{mails:#?}");
    assert!(
        declined_to.contains(&sender) && declined_to.contains(&one) && !declined_to.contains(&two)
    );
}

/// An envelope past its expiry is expired once by the expiry job; the sender is told.
#[tokio::test]
async fn an_overdue_envelope_is_expired_by_the_job() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("exp-sender");
    stack.verify_sender(&sender).await;
    let mut sent = envelope_sent(
        &sender,
        "parallel",
        &[Who::signer("Late", cast.address("exp-late"), 1)],
    );
    let expires = esign_events::time::Timestamp(chrono_now() + chrono_seconds(2)).to_string();
    sent["data"]["expiresAt"] = json!(expires);
    let id = Follow { sent: &sent }.envelope_id();
    stack.publish(&sent).await;
    stack
        .envelope_state(&id, Duration::from_secs(30), |s| status(s) == "sent")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let answer = invoke(
        &stack,
        "template.yaml",
        "esign-bus",
        "ExpiryFunction",
        json!({}),
    )
    .await;
    assert!(
        answer["expired"].as_array().unwrap().contains(&json!(id)),
        "{answer}"
    );
    let state = stack
        .envelope_state(&id, Duration::from_secs(30), |s| status(s) == "expired")
        .await;
    assert_eq!(status(&state), "expired");
    let again = invoke(
        &stack,
        "template.yaml",
        "esign-bus",
        "ExpiryFunction",
        json!({}),
    )
    .await;
    assert!(
        !again["expired"].as_array().unwrap().contains(&json!(id)),
        "expired once"
    );
    let mails = stack
        .wait_for_mails(std::slice::from_ref(&sender), 2, Duration::from_secs(30))
        .await;
    assert!(
        mails.iter().any(|m| m.subject.starts_with("Expired:")),
        "{mails:#?}"
    );
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn chrono_seconds(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

/// An envelope's history, replayed from its audit chain since a time, arrives in a consumer's
/// queue in order, in the envelope's message group, without its secrets.
#[tokio::test]
async fn an_envelopes_history_replays_in_order_from_the_audit_chain() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("replay-sender");
    stack.verify_sender(&sender).await;
    let sent = envelope_sent(
        &sender,
        "parallel",
        &[Who::signer("Replayed", cast.address("replay-signer"), 1)],
    );
    // Sent a minute before it is viewed, so "since the view" leaves it out.
    let mut sent = sent;
    sent["timestamp"] =
        json!(esign_events::time::Timestamp(chrono_now() - chrono_seconds(60)).to_string());
    let follow = Follow { sent: &sent };
    let id = follow.envelope_id();
    let viewed = follow.viewed(0);
    stack.publish(&sent).await;
    stack.publish(&viewed).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !stack
        .audit_entries(&id)
        .await
        .iter()
        .any(|e| e["eventType"].as_s().unwrap() == "envelope.viewed")
    {
        assert!(std::time::Instant::now() < deadline, "never chained");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let sqs = aws_sdk_sqs::Client::new(&stack.aws);
    let queue = format!("replay-{}.fifo", cast.tag);
    let url = sqs
        .create_queue()
        .queue_name(&queue)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&stack.aws);
    // The chain keeps growing (the notification events about the envelope), so the filtered
    // read comes first: everything it holds is then in the full read too.
    let since_viewed =
        esign_events::time::Timestamp::parse(viewed["timestamp"].as_str().unwrap()).unwrap();
    let later = bus_cli::replay::history(&ddb, "esign-audit", &id, Some(since_viewed))
        .await
        .unwrap();
    let all = bus_cli::replay::history(&ddb, "esign-audit", &id, None)
        .await
        .unwrap();
    assert!(all.len() > later.len(), "since filters");
    assert!(later.iter().all(|e| e.event_type.name() != "envelope.sent"));
    assert_eq!(all[0].event_type.name(), "envelope.sent");
    bus_cli::replay::send(&sqs, &url, &all, &bus_cli::replay::Run::new(false))
        .await
        .unwrap();

    let mut received = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
            )
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            assert!(
                m.message_attributes()
                    .is_none_or(|a| !a.contains_key("replayId")),
                "a plain replay is not marked for reprocessing"
            );
            assert_eq!(
                m.attributes().unwrap()
                    [&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId],
                id
            );
            received.push(esign_events::Event::from_slice(m.body().unwrap().as_bytes()).unwrap());
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if received.len() == all.len() {
            break;
        }
    }
    let ids: Vec<_> = received.iter().map(|e| e.event_id).collect();
    assert_eq!(
        ids,
        all.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        "in chain order"
    );
    assert_eq!(
        received[0].event_id.to_string(),
        sent["eventId"].as_str().unwrap()
    );
    assert!(
        !received[0].to_json().contains("ZX81-TEST"),
        "secrets stay out"
    );
}

/// Replayed to the notification consumer, an envelope's history fills gaps only: what was sent
/// is not sent again. Replayed to reprocess, it is sent again, once for that replay. Both replays
/// go in the envelope's message group, the plain one first, so when the reprocessed mails are
/// in, the plain replay has been handled too.
#[tokio::test]
async fn a_replay_reprocesses_only_when_asked_and_then_once() {
    let stack = LocalStack::connect().await;
    let cast = Cast::new();
    let sender = cast.address("again-sender");
    let signer = cast.address("again-signer");
    stack.verify_sender(&sender).await;
    let sent = envelope_sent(
        &sender,
        "parallel",
        &[Who::signer("Again", signer.clone(), 1)],
    );
    let id = Follow { sent: &sent }.envelope_id();
    stack.publish(&sent).await;
    let first = stack
        .wait_for_mails(std::slice::from_ref(&signer), 1, Duration::from_secs(30))
        .await;
    assert_eq!(first.len(), 1, "the invitation");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stack.audit_entries(&id).await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "never chained");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let ddb = aws_sdk_dynamodb::Client::new(&stack.aws);
    let history = bus_cli::replay::history(&ddb, "esign-audit", &id, None)
        .await
        .unwrap();
    let events = bus_cli::replay::for_consumer(history, "notification");
    assert_eq!(events[0].event_type.name(), "envelope.sent");
    let sqs = aws_sdk_sqs::Client::new(&stack.aws);
    let url = stack
        .queue_url(&bus_cli::replay::queue_name("notification"))
        .await;
    for reprocess in [false, true] {
        let run = bus_cli::replay::Run::new(reprocess);
        bus_cli::replay::send(&sqs, &url, &events, &run)
            .await
            .unwrap();
    }

    let mails = stack
        .wait_for_mails(std::slice::from_ref(&signer), 2, Duration::from_secs(40))
        .await;
    assert_eq!(
        mails.len(),
        2,
        "sent again once, by the reprocessing replay only"
    );
    assert_eq!(mails[0].subject, mails[1].subject);
    let confirmations = stack.mails_to(std::slice::from_ref(&sender)).await;
    assert_eq!(confirmations.len(), 2, "the sender's confirmation too");
    // The chain's copy lacks the access codes; the plain replay is still the same event, a
    // duplicate, not a payload conflict parked in the dead-letter queue.
    assert!(
        stack
            .parked("notification-events-dlq.fifo", &id, Duration::from_secs(1))
            .await
            .is_empty(),
        "nothing of this envelope is parked"
    );
}
