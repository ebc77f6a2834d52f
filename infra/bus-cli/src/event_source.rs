//! Lambda's SQS event source mapping, played on the host.
//!
//! For each function of the template and each of its SQS sources, a poller receives up to
//! `BatchSize` messages (at most 10 for FIFO), builds the SQS event Lambda would send (body,
//! `attributes` with `MessageGroupId` and `ApproximateReceiveCount`, `messageAttributes`,
//! `eventSourceARN`), invokes the function's real binary through the Runtime API and then does
//! what Lambda does with the answer: it deletes every record not reported failed, and deletes
//! nothing when the function errs, times out or crashes. Records left undeleted come back after
//! their visibility timeout, and the queue's redrive policy moves them to the dead-letter queue.
//!
//! A function's process is restarted when it exits or times out, as Lambda replaces a sandbox.

use crate::deploy::Deployed;
use crate::runtime_api::{Outcome, RuntimeApi};
use crate::template::{FunctionSpec, SqsSource};
use anyhow::{Context, Result};
use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// A function running on the host behind its Runtime API.
struct LocalFunction {
    spec: FunctionSpec,
    api: RuntimeApi,
    /// Asks the supervisor to kill and restart the process (after a timeout).
    restart: Notify,
}

/// A function ready to start: its Runtime API, binary and resolved environment.
async fn prepare(
    spec: FunctionSpec,
    deployed: &Deployed,
    bin_dir: &Path,
) -> Result<(Arc<LocalFunction>, PathBuf, Vec<(String, String)>)> {
    let arn = format!(
        "arn:aws:lambda:{}:{}:function:{}",
        deployed.region, deployed.account, spec.logical_id
    );
    let mut env: Vec<(String, String)> = Vec::new();
    for (name, expr) in &spec.environment {
        let value = deployed
            .resolve(expr)
            .with_context(|| format!("{}: environment variable {name}", spec.logical_id))?;
        env.push((name.clone(), value));
    }
    let binary = bin_dir.join(&spec.binary);
    anyhow::ensure!(
        binary.exists(),
        "{}: binary {} not found; build it with `cargo build --bins`",
        spec.logical_id,
        binary.display(),
    );
    let function = Arc::new(LocalFunction {
        api: RuntimeApi::start(arn).await?,
        spec,
        restart: Notify::new(),
    });
    Ok((function, binary, env))
}

/// Runs every function of the template that has SQS sources or schedules until `shutdown`
/// turns true.
pub async fn run(
    aws: &aws_config::SdkConfig,
    functions: Vec<FunctionSpec>,
    deployed: &Deployed,
    bin_dir: PathBuf,
    shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(aws);
    let mut tasks = Vec::new();
    let active = functions
        .into_iter()
        .filter(|f| !f.sqs_sources.is_empty() || !f.schedules.is_empty());
    for spec in active {
        let (function, binary, env) = prepare(spec, deployed, &bin_dir).await?;
        tasks.push(tokio::spawn(supervise(
            function.clone(),
            binary,
            env,
            shutdown.clone(),
        )));
        for source in function.spec.sqs_sources.clone() {
            let url = deployed.queue_url(&source.queue)?;
            let queue_arn = deployed.resolve(&crate::template::Expr::GetAtt(
                source.queue.clone(),
                "Arn".into(),
            ))?;
            tasks.push(tokio::spawn(poll(
                function.clone(),
                sqs.clone(),
                source,
                url,
                queue_arn,
                deployed.region.clone(),
                shutdown.clone(),
            )));
        }
        for period in function.spec.schedules.clone() {
            tasks.push(tokio::spawn(tick(
                function.clone(),
                period,
                deployed.region.clone(),
                shutdown.clone(),
            )));
        }
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}

/// EventBridge's scheduled event, as Lambda receives it.
pub fn scheduled_event(region: &str, function: &str) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": region,
        "resources": [format!("arn:aws:events:{region}:000000000000:rule/{function}")],
        "detail": {}
    })
}

/// Invokes a function on its schedule, as EventBridge would.
async fn tick(
    function: Arc<LocalFunction>,
    period: Duration,
    region: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = function.spec.logical_id.clone();
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let event = scheduled_event(&region, &name).to_string();
        let timeout = Duration::from_secs(function.spec.timeout_secs);
        match function.api.invoke(event, timeout).await {
            Outcome::Response(body) => {
                tracing::info!(function = %name, response = %String::from_utf8_lossy(&body), "scheduled run done")
            }
            other => tracing::warn!(function = %name, outcome = ?other, "scheduled run failed"),
        }
    }
}

/// Runs a function once with `payload`, as `aws lambda invoke` would, and returns its answer.
pub async fn invoke_once(
    spec: FunctionSpec,
    deployed: &Deployed,
    bin_dir: &Path,
    payload: Value,
) -> Result<Value> {
    let timeout = Duration::from_secs(spec.timeout_secs);
    let name = spec.logical_id.clone();
    let (function, binary, env) = prepare(spec, deployed, bin_dir).await?;
    let (stop, shutdown) = watch::channel(false);
    let supervisor = tokio::spawn(supervise(function.clone(), binary, env, shutdown));
    let outcome = function.api.invoke(payload.to_string(), timeout).await;
    let _ = stop.send(true);
    let _ = supervisor.await;
    match outcome {
        Outcome::Response(body) => {
            serde_json::from_slice(&body).with_context(|| format!("{name}: its answer is not JSON"))
        }
        Outcome::Error(body) => anyhow::bail!("{name} failed: {}", String::from_utf8_lossy(&body)),
        Outcome::Timeout => anyhow::bail!("{name} timed out after {timeout:?}"),
        Outcome::Crashed => anyhow::bail!("{name} crashed"),
    }
}

/// Keeps the function's process running: starts it, restarts it when it exits or is asked to.
async fn supervise(
    function: Arc<LocalFunction>,
    binary: PathBuf,
    env: Vec<(String, String)>,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = function.spec.logical_id.clone();
    loop {
        let child = tokio::process::Command::new(&binary)
            .envs(env.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", function.api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                function.spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(function = %name, error = %e, "can't start the function");
                return;
            }
        };
        tracing::info!(function = %name, pid = child.id(), "function started");
        let reason = tokio::select! {
            status = child.wait() => format!("exited: {status:?}"),
            _ = function.restart.notified() => "timed out".to_owned(),
            _ = shutdown.changed() => {
                let _ = child.kill().await;
                return;
            }
        };
        let _ = child.kill().await;
        function.api.abandon_in_flight().await;
        tracing::warn!(function = %name, %reason, "function process ended; starting a new one");
        tokio::time::sleep(Duration::from_millis(200)).await;
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Receives batches from one queue and invokes the function with them.
async fn poll(
    function: Arc<LocalFunction>,
    sqs: aws_sdk_sqs::Client,
    source: SqsSource,
    url: String,
    queue_arn: String,
    region: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = function.spec.logical_id.clone();
    let timeout = Duration::from_secs(function.spec.timeout_secs);
    tracing::info!(function = %name, queue = %url, "polling");
    while !*shutdown.borrow() {
        let received = tokio::select! {
            r = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(source.batch_size.clamp(1, 10))
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send() => r,
            _ = shutdown.changed() => break,
        };
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(function = %name, error = ?e, "receive failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }

        let event = sqs_event(&messages, &queue_arn, &region);
        let outcome = function.api.invoke(event.to_string(), timeout).await;
        let all: Vec<String> = messages
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect();
        let failed: HashSet<String> = match outcome {
            Outcome::Response(body) if source.report_batch_item_failures => {
                reported_failures(&body, &all).unwrap_or_else(|problem| {
                    tracing::warn!(function = %name, %problem, "invalid batch response; the whole batch is retried");
                    all.iter().cloned().collect()
                })
            }
            Outcome::Response(_) => HashSet::new(),
            Outcome::Error(body) => {
                tracing::warn!(function = %name, error = %String::from_utf8_lossy(&body), "invocation failed; the whole batch is retried");
                all.iter().cloned().collect()
            }
            Outcome::Timeout => {
                tracing::warn!(function = %name, "invocation timed out; the whole batch is retried");
                function.restart.notify_one();
                all.iter().cloned().collect()
            }
            Outcome::Crashed => {
                tracing::warn!(function = %name, "function crashed; the whole batch is retried");
                all.iter().cloned().collect()
            }
        };

        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        tracing::info!(
            function = %name,
            records = messages.len(),
            failed = failed.len(),
            "batch invoked"
        );
        if !done.is_empty() {
            if let Err(e) = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(done))
                .send()
                .await
            {
                tracing::warn!(function = %name, error = ?e, "deleting processed messages failed; they will be redelivered");
            }
        }
    }
}

/// The message ids a batch response reports, after checking them the way Lambda does: an
/// empty, missing or unknown identifier makes the whole batch a failure.
pub fn reported_failures(body: &[u8], batch: &[String]) -> Result<HashSet<String>, String> {
    if body.is_empty() || body == b"null" {
        return Ok(HashSet::new());
    }
    let response: SqsBatchResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a batch response: {e}"))?;
    let mut out = HashSet::new();
    for failure in response.batch_item_failures {
        let id = failure.item_identifier;
        if id.is_empty() || !batch.contains(&id) {
            return Err(format!(
                "item identifier '{id}' is not a message of the batch"
            ));
        }
        out.insert(id);
    }
    Ok(out)
}

/// The SQS event Lambda builds for a batch of messages.
pub fn sqs_event(messages: &[Message], queue_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            let message_attributes: Map<String, Value> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                json!({
                                    "stringValue": v.string_value(),
                                    "binaryValue": v.binary_value().map(|b| aws_smithy_types_base64(b.as_ref())),
                                    "stringListValues": v.string_list_values(),
                                    "binaryListValues": [],
                                    "dataType": v.data_type(),
                                }),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "md5OfMessageAttributes": m.md5_of_message_attributes(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

fn aws_smithy_types_base64(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_or_empty_identifiers_fail_the_whole_batch() {
        let batch = vec!["a".to_string(), "b".to_string()];
        let ok = br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#;
        assert_eq!(
            reported_failures(ok, &batch).unwrap(),
            HashSet::from(["b".to_string()])
        );
        assert!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":""}]}"#, &batch).is_err()
        );
        assert!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":"z"}]}"#, &batch)
                .is_err()
        );
        assert!(reported_failures(b"[1]", &batch).is_err());
        assert!(reported_failures(br#"{"batchItemFailures":[]}"#, &batch)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn builds_the_event_lambda_would_send() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh")
            .body("{}")
            .attributes(MessageSystemAttributeName::MessageGroupId, "g-1")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .build();
        let event = sqs_event(
            &[message],
            "arn:aws:sqs:us-east-1:000000000000:q.fifo",
            "us-east-1",
        );
        let parsed: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(event).unwrap();
        let record = &parsed.records[0];
        assert_eq!(record.message_id.as_deref(), Some("m-1"));
        assert_eq!(record.attributes["MessageGroupId"], "g-1");
        assert_eq!(record.attributes["ApproximateReceiveCount"], "2");
        assert_eq!(
            record.event_source_arn.as_deref(),
            Some("arn:aws:sqs:us-east-1:000000000000:q.fifo")
        );
    }
}
