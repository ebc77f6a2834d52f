//! `esign-bus`: publish events; run the bus on the local AWS stack.

use anyhow::{Context, Result};
use bus_cli::{deploy, event_source, outbox, template::Template, STACK_NAME};
use clap::{Parser, Subcommand};
use esign_events::publish::{Publisher, Topics};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "esign-bus",
    version,
    about = "The e-signature event bus: publish events, run it locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List the parked messages of a queue's dead-letter queue with their reasons (no bodies).
    List {
        /// The queue whose dead-letter queue to read, such as notification-events.fifo.
        queue: String,
    },
    /// Send parked messages back to their queue, each envelope's in its order, and delete them
    /// from the dead-letter queue.
    Redrive {
        /// The queue whose dead-letter queue to empty, such as notification-events.fifo.
        queue: String,
        /// Only the messages of this envelope (message group).
        #[arg(long)]
        envelope: Option<String>,
        /// Only the message of this event id.
        #[arg(long)]
        event: Option<String>,
        /// Everything parked, when neither --envelope nor --event is given.
        #[arg(long, conflicts_with_all = ["envelope", "event"])]
        all: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Validate the events in JSON files and publish them to their categories' topics.
    Publish {
        /// Files each holding one event, or an array of events; published in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Create or update the topology of template.yaml (all but the functions) on the local stack.
    Deploy {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Run every function of template.yaml on the host behind a local SQS event source.
    Run {
        #[command(flatten)]
        stack: StackArgs,
        /// Where the functions' binaries are (cargo's target/debug by default).
        #[arg(long, env = "ESIGN_BIN_DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// Run one function of the template once with a payload (a scheduled event by default) and
    /// print its answer: on-demand audit verification, the expiry job, and the like.
    Invoke {
        #[command(flatten)]
        stack: StackArgs,
        /// The function's logical id in the template, such as AuditVerifierFunction.
        function: String,
        /// The event, as JSON.
        #[arg(long)]
        payload: Option<String>,
        #[arg(long, env = "ESIGN_BIN_DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// Re-send an envelope's events since a time, from its audit chain, to one consumer's queue.
    Replay {
        /// The envelope's id.
        envelope: String,
        /// Only events at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// The consuming function (envelope, notification, document, certificate): it gets the
        /// events it subscribes to, on its queue `<consumer>-events.fifo`.
        #[arg(long)]
        consumer: String,
        /// Handle the events again even where the consumer handled them before, once for this
        /// replay (a notification consumer sends its messages again). Without it, the consumer
        /// handles only what it never handled.
        #[arg(long)]
        reprocess: bool,
        #[arg(long, default_value = "esign-audit")]
        audit_table: String,
        /// List what would be sent, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Dead-letter queues: what is parked and why, and sending it back after a fix.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Register an address as a verified SES sending identity (what a sender needs before
    /// invitations can go out from their address).
    VerifySender {
        #[arg(value_parser = an_email_address)]
        email: String,
    },
    /// Check the committed JSON Schemas against the types, or write them.
    Schemas {
        /// The schema folder.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
        /// Write the generated schemas instead of checking them.
        #[arg(long)]
        write: bool,
        /// Also record versions that have no released baseline yet in <dir>/released. A
        /// baseline, once written, is never rewritten by this command.
        #[arg(long)]
        release: bool,
    },
    /// Print the e-mails and SMS messages the local stack captured.
    Outbox {
        /// Wait until at least this many e-mails were captured (at most --wait-secs).
        #[arg(long, default_value_t = 0)]
        expect: usize,
        #[arg(long, default_value_t = 30)]
        wait_secs: u64,
    },
}

#[derive(clap::Args)]
struct StackArgs {
    /// The SAM template.
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// The CloudFormation stack's name.
    #[arg(long, default_value = STACK_NAME)]
    stack: String,
    /// A template parameter, as Name=Value; repeatable.
    #[arg(long = "parameter", value_parser = parse_parameter)]
    parameters: Vec<(String, String)>,
}

fn parse_parameter(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("'{s}' is not Name=Value"))
}

/// `println!` for the commands' results, except that a reader gone away (`esign-bus outbox |
/// head`) ends the program quietly, as it would a C tool, rather than with a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(e.into());
        }
    }};
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // `run` is a service and logs what it does; the other commands print their result.
    match cli.command {
        Command::Run { .. } => esign_events::telemetry::init(),
        _ => esign_events::telemetry::init_with_default("warn"),
    }
    // Loaded on first use: `schemas` and `outbox` need no AWS configuration.
    let aws = tokio::sync::OnceCell::new();
    let aws = || aws.get_or_init(esign_events::aws::sdk_config);

    match cli.command {
        Command::Publish { files } => {
            let events = bus_cli::input::read_events(&files)?;
            let sns = aws_sdk_sns::Client::new(aws().await);
            let publisher = Publisher::new(sns.clone(), Topics::discover(&sns).await?);
            let ids = publisher.publish_all(&events).await?;
            for (event, message_id) in events.iter().zip(ids) {
                out!(
                    "published {} {} to {} (group {}, message {message_id})",
                    event.event_type,
                    event.event_id,
                    event.event_type.category().topic_name(),
                    event.partition_key()
                );
            }
        }
        Command::Deploy { stack } => {
            let template = Template::load(&stack.template)?;
            let overrides: BTreeMap<_, _> = stack.parameters.into_iter().collect();
            let cfn = aws_sdk_cloudformation::Client::new(aws().await);
            deploy::deploy(&cfn, &stack.stack, &template, &overrides).await?;
            deploy::create_tables(&aws_sdk_dynamodb::Client::new(aws().await), &template).await?;
            let deployed =
                deploy::Deployed::read(aws().await, &stack.stack, &template, &overrides).await?;
            // The platform's own address must be a verified identity before anything is sent.
            if let Some(from) = deployed.parameters.get("MailFrom") {
                verify_sender(aws().await, from).await?;
            }
            out!(
                "stack {} deployed: {} resources",
                stack.stack,
                deployed.resources.len()
            );
        }
        Command::Run { stack, bin_dir } => {
            let template = Template::load(&stack.template)?;
            let overrides: BTreeMap<_, _> = stack.parameters.into_iter().collect();
            let deployed =
                deploy::Deployed::read(aws().await, &stack.stack, &template, &overrides).await?;
            let bin_dir = bin_dir.unwrap_or_else(default_bin_dir);
            let (stop, shutdown) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                wait_for_signal().await;
                let _ = stop.send(true);
            });
            event_source::run(
                aws().await,
                template.functions()?,
                &deployed,
                bin_dir,
                shutdown,
            )
            .await?;
        }
        Command::Schemas {
            dir,
            write,
            release,
        } => schemas(&dir, write, release)?,
        Command::Invoke {
            stack,
            function,
            payload,
            bin_dir,
        } => {
            let template = Template::load(&stack.template)?;
            let overrides: BTreeMap<_, _> = stack.parameters.into_iter().collect();
            let deployed =
                deploy::Deployed::read(aws().await, &stack.stack, &template, &overrides).await?;
            let spec = template
                .functions()?
                .into_iter()
                .find(|f| f.logical_id == function)
                .with_context(|| {
                    format!("no function {function} in {}", stack.template.display())
                })?;
            let payload = match payload {
                Some(text) => serde_json::from_str(&text).context("--payload is not JSON")?,
                None => event_source::scheduled_event(&deployed.region, &function),
            };
            let bin_dir = bin_dir.unwrap_or_else(default_bin_dir);
            let answer = event_source::invoke_once(spec, &deployed, &bin_dir, payload).await?;
            out!("{answer}");
        }
        Command::Replay {
            envelope,
            since,
            consumer,
            reprocess,
            audit_table,
            dry_run,
        } => {
            bus_cli::replay::check_consumer(&consumer)?;
            if uuid::Uuid::parse_str(&envelope).is_err() {
                anyhow::bail!("the envelope id must be a UUID");
            }
            let queue = bus_cli::replay::queue_name(&consumer);
            let since = since
                .map(|s| {
                    esign_events::time::Timestamp::parse(&s)
                        .map_err(|e| anyhow::anyhow!("--since {e}"))
                })
                .transpose()?;
            let config = aws().await;
            let events = bus_cli::replay::history(
                &aws_sdk_dynamodb::Client::new(config),
                &audit_table,
                &envelope,
                since,
            )
            .await?;
            if events.is_empty() {
                let when = since
                    .map(|s| format!(" at or after {s}"))
                    .unwrap_or_default();
                anyhow::bail!(
                    "nothing to replay: the audit chain ({audit_table}) holds no event of envelope {envelope}{when}"
                );
            }
            let events = bus_cli::replay::for_consumer(events, &consumer);
            if events.is_empty() {
                out!("none of the envelope's events goes to {consumer}; nothing was sent");
                return Ok(());
            }
            for e in &events {
                out!("{} {} {}", e.timestamp, e.event_type, e.event_id);
            }
            if !dry_run {
                let sqs = aws_sdk_sqs::Client::new(config);
                let url = sqs
                    .get_queue_url()
                    .queue_name(&queue)
                    .send()
                    .await
                    .with_context(|| format!("queue {queue}"))?;
                let run = bus_cli::replay::Run::new(reprocess);
                let sent =
                    bus_cli::replay::send(&sqs, url.queue_url().unwrap_or_default(), &events, &run)
                        .await?;
                if reprocess {
                    out!(
                        "replayed {sent} event(s) to {queue} to reprocess (replay {})",
                        run.id
                    );
                } else {
                    out!("replayed {sent} event(s) to {queue}; what {consumer} already handled is skipped");
                }
            }
        }
        Command::Dlq { command } => {
            let sqs = aws_sdk_sqs::Client::new(aws().await);
            match command {
                DlqCommand::List { queue } => {
                    let pair = bus_cli::dlq::Pair::of(&sqs, &queue).await?;
                    let parked = bus_cli::dlq::list(&sqs, &pair.dead_letter_url).await?;
                    for m in &parked {
                        out!("{}", m.line());
                    }
                    out!("{} parked message(s) in view", parked.len());
                }
                DlqCommand::Redrive {
                    queue,
                    envelope,
                    event,
                    all,
                } => {
                    if !all && envelope.is_none() && event.is_none() {
                        anyhow::bail!(
                            "redrive needs --envelope <id>, --event <id> or, for everything, --all"
                        );
                    }
                    let pair = bus_cli::dlq::Pair::of(&sqs, &queue).await?;
                    let filter = bus_cli::dlq::Filter {
                        group: envelope,
                        event_id: event,
                    };
                    let done = bus_cli::dlq::redrive(&sqs, &pair, &filter).await?;
                    for m in &done.moved {
                        out!("{}", m.line());
                    }
                    if done.moved.is_empty() {
                        out!("no parked message matched; nothing was sent back");
                    } else {
                        out!("sent {} message(s) back to {queue}", done.moved.len());
                    }
                    for m in &done.parked_again {
                        out!("parked again: {}", m.line());
                    }
                    if !done.parked_again.is_empty() {
                        out!(
                            "{} message(s) failed again at once and stay parked; their reasons are above",
                            done.parked_again.len()
                        );
                    }
                }
            }
        }
        Command::VerifySender { email } => {
            verify_sender(aws().await, &email).await?;
            out!("{email} is a verified sending identity");
        }
        Command::Outbox { expect, wait_secs } => {
            let endpoint = bus_cli::local_endpoint();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_secs);
            let mails = loop {
                let mails = outbox::mails(&endpoint).await?;
                if mails.len() >= expect || tokio::time::Instant::now() >= deadline {
                    break mails;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            out!("{} e-mail(s) captured by SES:", mails.len());
            for m in &mails {
                out!(
                    "\n  From:    {}\n  To:      {}\n  Subject: {}",
                    m.source,
                    m.to.join(", "),
                    m.subject
                );
                if !m.attachments.is_empty() {
                    out!("  Attached: {}", m.attachments.join(", "));
                }
                for line in m.text.lines() {
                    out!("  | {line}");
                }
            }
            let sms = outbox::sms(&endpoint).await?;
            out!("\n{} SMS message(s) captured by SNS:", sms.len());
            for s in &sms {
                out!("  To {}: {}", s.phone, s.message);
            }
        }
    }
    Ok(())
}

fn schemas(dir: &std::path::Path, write: bool, release: bool) -> Result<()> {
    use esign_events::schema;
    let released = dir.join("released");
    let mut stale = 0;
    for (name, generated) in schema::all() {
        let text = schema::to_file_text(&generated);
        let path = dir.join(&name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() != Some(text.as_str()) {
            stale += 1;
            if write {
                std::fs::create_dir_all(dir)?;
                std::fs::write(&path, &text)?;
                out!("wrote {}", path.display());
            } else {
                out!("{} differs from the types", path.display());
            }
        }
        let baseline_path = released.join(&name);
        match std::fs::read_to_string(&baseline_path) {
            Ok(baseline) => {
                let baseline: serde_json::Value = serde_json::from_str(&baseline)?;
                for problem in schema::breaking_changes(&baseline, &generated) {
                    stale += 1;
                    out!("{name}: not additive: {problem}");
                }
            }
            Err(_) if release => {
                std::fs::create_dir_all(&released)?;
                std::fs::write(&baseline_path, &text)?;
                out!("released {}", baseline_path.display());
            }
            Err(_) => out!("{name}: no released baseline yet (use --release)"),
        }
    }
    if stale > 0 && !write {
        anyhow::bail!("{stale} problem(s); regenerate with `esign-bus schemas --write`");
    }
    Ok(())
}

async fn verify_sender(aws: &aws_config::SdkConfig, email: &str) -> Result<()> {
    aws_sdk_ses::Client::new(aws)
        .verify_email_identity()
        .email_address(email)
        .send()
        .await
        .with_context(|| "ses:VerifyEmailIdentity")?;
    Ok(())
}

fn default_bin_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "target".into());
    target.join("debug")
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// An address SES could verify; anything else is refused before a call.
fn an_email_address(value: &str) -> Result<String, String> {
    esign_events::personal::Email::parse(value)
        .map(|_| value.to_owned())
        .map_err(str::to_owned)
}
