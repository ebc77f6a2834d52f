//! The certificate function's entry point.

// The runtime's futures nest deeply (SDK calls inside the batch policy inside lambda_runtime).
#![recursion_limit = "256"]

use aws_lambda_events::sqs::SqsEvent;
use certificate::handler::CertificateHandler;
use esign_events::publish::{Publisher, Topics};
use esign_events::runtime::aws_runtime;
use lambda_runtime::{service_fn, LambdaEvent};

fn setting(name: &'static str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    esign_events::telemetry::init();

    let (bucket, audit_table) = (setting("CERTIFICATES_BUCKET")?, setting("AUDIT_TABLE")?);
    let aws = esign_events::aws::sdk_config().await;
    let handler = CertificateHandler {
        s3: aws_sdk_s3::Client::from_conf(esign_events::aws::s3_config(&aws)),
        bucket,
        dynamodb: aws_sdk_dynamodb::Client::new(&aws),
        audit_table,
        publisher: Publisher::new(aws_sdk_sns::Client::new(&aws), Topics::from_env()),
    };
    let runtime = aws_runtime("certificate", handler, &aws)?;

    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        runtime.invoke(event)
    }))
    .await
}
