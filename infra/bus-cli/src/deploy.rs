//! Deploying the topology to the local stack through CloudFormation, and reading back what was
//! created so that function settings written as `!Ref` or `!GetAtt` can be resolved.

use crate::template::{Expr, Template};
use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What CloudFormation created, keyed by logical id.
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    pub parameters: BTreeMap<String, String>,
    /// Logical id to (resource type, physical id).
    pub resources: HashMap<String, (String, String)>,
    /// (logical id, attribute) to value, for the attributes `!GetAtt` may ask for.
    pub attributes: HashMap<(String, String), String>,
    pub region: String,
    pub account: String,
    pub stack: String,
}

/// Creates or updates the stack and waits until CloudFormation is done with it.
pub async fn deploy(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template: &Template,
    overrides: &BTreeMap<String, String>,
) -> Result<()> {
    let body = template.without_functions();
    let parameters: Vec<Parameter> = overrides
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();

    match stack_status(cfn, stack).await? {
        Some(status) if is_failed(&status) => {
            tracing::info!(%stack, ?status, "removing a failed stack before creating it again");
            cfn.delete_stack().stack_name(stack).send().await?;
            wait(cfn, stack).await.ok();
            create(cfn, stack, &body, parameters).await?;
        }
        Some(_) => {
            let update = cfn
                .update_stack()
                .stack_name(stack)
                .template_body(&body)
                .set_parameters(Some(parameters))
                .send()
                .await;
            if let Err(e) = update {
                let text = format!("{:?}", e);
                if text.contains("No updates are to be performed") {
                    return Ok(());
                }
                return Err(e).context("updating the stack");
            }
        }
        None => create(cfn, stack, &body, parameters).await?,
    }

    let status = wait(cfn, stack).await?;
    if !matches!(
        status,
        StackStatus::CreateComplete | StackStatus::UpdateComplete
    ) {
        let events = cfn.describe_stack_events().stack_name(stack).send().await?;
        let reasons: Vec<String> = events
            .stack_events()
            .iter()
            .filter_map(|e| {
                Some(format!(
                    "{}: {}",
                    e.logical_resource_id()?,
                    e.resource_status_reason()?
                ))
            })
            .take(10)
            .collect();
        bail!("stack {stack} ended in {status:?}: {}", reasons.join("; "));
    }
    Ok(())
}

async fn create(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    body: &str,
    parameters: Vec<Parameter>,
) -> Result<()> {
    cfn.create_stack()
        .stack_name(stack)
        .template_body(body)
        .set_parameters(Some(parameters))
        .send()
        .await
        .context("creating the stack")?;
    Ok(())
}

fn is_failed(status: &StackStatus) -> bool {
    let s = status.as_str();
    s.ends_with("FAILED") || s == "ROLLBACK_COMPLETE" || s == "DELETE_COMPLETE"
}

async fn stack_status(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> Result<Option<StackStatus>> {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out.stacks().first().and_then(|s| s.stack_status().cloned())),
        Err(e) if format!("{e:?}").contains("does not exist") => Ok(None),
        Err(e) => Err(e).context("describing the stack"),
    }
}

async fn wait(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Result<StackStatus> {
    for _ in 0..300 {
        match stack_status(cfn, stack).await? {
            Some(s) if s.as_str().ends_with("IN_PROGRESS") => {}
            Some(s) => return Ok(s),
            None => return Ok(StackStatus::DeleteComplete),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("stack {stack} did not settle within 150 s")
}

/// Creates the template's DynamoDB tables in DynamoDB Local (the endpoint of
/// `AWS_ENDPOINT_URL_DYNAMODB`), with their keys, billing mode and TTL. A table that exists is
/// left as it is.
pub async fn create_tables(ddb: &aws_sdk_dynamodb::Client, template: &Template) -> Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    for (id, props) in template.tables() {
        let text = |v: &serde_norway::Value, key: &str| -> Result<String> {
            v.get(key)
                .and_then(|x| x.as_str())
                .map(String::from)
                .ok_or_else(|| anyhow!("table {id}: {key} must be a literal string"))
        };
        let name = text(&props, "TableName")?;
        if ddb.describe_table().table_name(&name).send().await.is_ok() {
            continue;
        }
        let mut create = ddb
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest);
        for a in props
            .get("AttributeDefinitions")
            .and_then(|v| v.as_sequence())
            .into_iter()
            .flatten()
        {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(text(a, "AttributeName")?)
                    .attribute_type(ScalarAttributeType::from(
                        text(a, "AttributeType")?.as_str(),
                    ))
                    .build()?,
            );
        }
        for k in props
            .get("KeySchema")
            .and_then(|v| v.as_sequence())
            .into_iter()
            .flatten()
        {
            create = create.key_schema(
                KeySchemaElement::builder()
                    .attribute_name(text(k, "AttributeName")?)
                    .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                    .build()?,
            );
        }
        for index in props
            .get("GlobalSecondaryIndexes")
            .and_then(|v| v.as_sequence())
            .into_iter()
            .flatten()
        {
            let mut gsi = aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
                .index_name(text(index, "IndexName")?);
            for k in index
                .get("KeySchema")
                .and_then(|v| v.as_sequence())
                .into_iter()
                .flatten()
            {
                gsi = gsi.key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(text(k, "AttributeName")?)
                        .key_type(KeyType::from(text(k, "KeyType")?.as_str()))
                        .build()?,
                );
            }
            let projection = index
                .get("Projection")
                .and_then(|p| p.get("ProjectionType"))
                .and_then(|t| t.as_str())
                .unwrap_or("ALL");
            gsi = gsi.projection(
                aws_sdk_dynamodb::types::Projection::builder()
                    .projection_type(aws_sdk_dynamodb::types::ProjectionType::from(projection))
                    .build(),
            );
            create = create.global_secondary_indexes(gsi.build()?);
        }
        create
            .send()
            .await
            .with_context(|| format!("creating table {name}"))?;
        if let Some(ttl) = props.get("TimeToLiveSpecification") {
            if ttl.get("Enabled").and_then(|v| v.as_bool()) == Some(true) {
                ddb.update_time_to_live()
                    .table_name(&name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .attribute_name(text(ttl, "AttributeName")?)
                            .enabled(true)
                            .build()?,
                    )
                    .send()
                    .await
                    .with_context(|| format!("enabling TTL on {name}"))?;
            }
        }
        tracing::info!(table = %name, "table created");
    }
    Ok(())
}

impl Deployed {
    /// Reads the stack's resources and the attributes functions may refer to.
    pub async fn read(
        aws: &aws_config::SdkConfig,
        stack: &str,
        template: &Template,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let cfn = aws_sdk_cloudformation::Client::new(aws);
        let sqs = aws_sdk_sqs::Client::new(aws);
        let mut deployed = Deployed {
            stack: stack.to_owned(),
            region: aws
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into()),
            ..Default::default()
        };
        deployed.parameters = template.parameter_defaults();
        deployed.parameters.extend(overrides.clone());

        let listed = cfn
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .with_context(|| format!("reading stack {stack}; was it deployed?"))?;
        for r in listed.stack_resources() {
            let (Some(id), Some(ty), Some(physical)) = (
                r.logical_resource_id(),
                r.resource_type(),
                r.physical_resource_id(),
            ) else {
                continue;
            };
            deployed
                .resources
                .insert(id.into(), (ty.into(), physical.into()));
            if ty == "AWS::SQS::Queue" {
                let attrs = sqs
                    .get_queue_attributes()
                    .queue_url(physical)
                    .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .with_context(|| format!("reading queue {id}"))?;
                let arn = attrs
                    .attributes()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
                    .ok_or_else(|| anyhow!("queue {id} has no QueueArn"))?
                    .clone();
                let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
                deployed.account = arn.split(':').nth(4).unwrap_or_default().to_owned();
                deployed.attributes.insert((id.into(), "Arn".into()), arn);
                deployed
                    .attributes
                    .insert((id.into(), "QueueName".into()), name);
                deployed
                    .attributes
                    .insert((id.into(), "QueueUrl".into()), physical.into());
            } else if physical.starts_with("arn:") {
                deployed
                    .attributes
                    .insert((id.into(), "Arn".into()), physical.into());
            }
        }
        // Tables live in DynamoDB Local, outside the CloudFormation stack.
        for (id, props) in template.tables() {
            let Some(name) = props.get("TableName").and_then(|v| v.as_str()) else {
                continue;
            };
            let arn = format!(
                "arn:aws:dynamodb:{}:{}:table/{name}",
                deployed.region, deployed.account
            );
            deployed
                .resources
                .insert(id.clone(), ("AWS::DynamoDB::Table".into(), name.into()));
            deployed.attributes.insert((id, "Arn".into()), arn);
        }
        Ok(deployed)
    }

    /// The value a template expression has in this deployment.
    pub fn resolve(&self, expr: &Expr) -> Result<String> {
        match expr {
            Expr::Literal(s) => Ok(s.clone()),
            Expr::Ref(name) => self.reference(name),
            Expr::GetAtt(resource, attribute) => self
                .attributes
                .get(&(resource.clone(), attribute.clone()))
                .cloned()
                .ok_or_else(|| anyhow!("!GetAtt {resource}.{attribute} is not known locally")),
            Expr::Sub(text) => {
                let mut out = String::new();
                let mut rest = text.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| anyhow!("unclosed ${{ in !Sub {text}"))?;
                    let name = &rest[start + 2..start + end];
                    let value = match name.split_once('.') {
                        Some((r, a)) => self.resolve(&Expr::GetAtt(r.into(), a.into()))?,
                        None => self.reference(name)?,
                    };
                    out.push_str(&value);
                    rest = &rest[start + end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            }
        }
    }

    fn reference(&self, name: &str) -> Result<String> {
        match name {
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::AccountId" => return Ok(self.account.clone()),
            "AWS::Partition" => return Ok("aws".into()),
            "AWS::StackName" => return Ok(self.stack.clone()),
            _ => {}
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        self.resources
            .get(name)
            .map(|(_, physical)| physical.clone())
            .ok_or_else(|| anyhow!("!Ref {name}: no such parameter or deployed resource"))
    }

    /// The URL of a queue, by logical id.
    pub fn queue_url(&self, logical_id: &str) -> Result<String> {
        self.resolve(&Expr::GetAtt(logical_id.into(), "QueueUrl".into()))
    }
}
