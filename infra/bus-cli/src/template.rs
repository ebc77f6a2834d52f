//! Reading `template.yaml`, the one description of the topology.
//!
//! The local stack can't run Lambda functions (LocalStack needs Docker for that), so the
//! template is split: everything but the functions is deployed through CloudFormation as it is,
//! and the functions are run on the host by [`crate::event_source`], configured from their own
//! entries in the same template.

use serde_norway::{Mapping, Value};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// A template that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: String,
        source: serde_norway::Error,
    },
    #[error("template: {0}")]
    Shape(String),
}

/// A value in the template that refers to something only known once deployed.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(String),
    Ref(String),
    GetAtt(String, String),
    Sub(String),
}

/// A function of the template, as the local event source needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The cargo binary (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    pub timeout_secs: u64,
    pub memory_mb: u64,
    pub environment: BTreeMap<String, Expr>,
    pub sqs_sources: Vec<SqsSource>,
    /// The periods of its `Schedule` events (`rate(...)` expressions).
    pub schedules: Vec<std::time::Duration>,
}

/// Reads `rate(5 minutes)` and the like.
pub fn parse_rate(expression: &str) -> Option<std::time::Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.parse().ok()?;
    let seconds = match unit.trim().trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(value * seconds))
}

/// An SQS event source of a function.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsSource {
    /// The logical id of the queue resource.
    pub queue: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// The parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    doc: Value,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            TemplateError::Parse { source, .. } => TemplateError::Parse {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_norway::from_str(text).map_err(|source| TemplateError::Parse {
            path: "<text>".into(),
            source,
        })?;
        if doc.get("Resources").and_then(Value::as_mapping).is_none() {
            return Err(TemplateError::Shape("no Resources mapping".into()));
        }
        Ok(Self { doc })
    }

    fn resources(&self) -> &Mapping {
        self.doc["Resources"]
            .as_mapping()
            .expect("checked in parse")
    }

    /// The type of a resource, by logical id.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources().get(logical_id)?.get("Type")?.as_str()
    }

    /// The default of each parameter that has one.
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(params) = self.doc.get("Parameters").and_then(Value::as_mapping) {
            for (name, spec) in params {
                if let (Some(name), Some(default)) = (name.as_str(), spec.get("Default")) {
                    if let Some(text) = scalar(default) {
                        out.insert(name.to_owned(), text);
                    }
                }
            }
        }
        out
    }

    /// Every `AWS::Serverless::Function` with what running it locally needs.
    pub fn functions(&self) -> Result<Vec<FunctionSpec>, TemplateError> {
        let globals = self.doc.get("Globals").and_then(|g| g.get("Function"));
        let setting = |props: &Value, name: &str| {
            props
                .get(name)
                .or_else(|| globals.and_then(|g| g.get(name)))
                .and_then(Value::as_u64)
        };
        let mut out = Vec::new();
        for (id, resource) in self.resources() {
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let id = id.as_str().unwrap_or_default().to_owned();
            let shape = |what: &str| TemplateError::Shape(format!("function {id}: {what}"));
            let props = resource
                .get("Properties")
                .ok_or_else(|| shape("no Properties"))?;
            let binary = resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .ok_or_else(|| shape("no Metadata.BuildProperties.Binary"))?
                .to_owned();
            let mut environment = BTreeMap::new();
            let vars = props
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping);
            for (name, value) in vars.into_iter().flatten() {
                let name = name
                    .as_str()
                    .ok_or_else(|| shape("non-string variable name"))?;
                let expr = expr(value).ok_or_else(|| shape(&format!("variable {name}")))?;
                environment.insert(name.to_owned(), expr);
            }
            let mut sqs_sources = Vec::new();
            let mut schedules = Vec::new();
            let events = props.get("Events").and_then(Value::as_mapping);
            for (_, event) in events.into_iter().flatten() {
                if event.get("Type").and_then(Value::as_str) == Some("Schedule") {
                    let expression = event
                        .get("Properties")
                        .and_then(|p| p.get("Schedule"))
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    schedules.push(parse_rate(expression).ok_or_else(|| {
                        shape(&format!(
                            "schedule '{expression}' is not rate(N minutes|hours|days)"
                        ))
                    })?);
                    continue;
                }
                if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                    continue;
                }
                let ep = event
                    .get("Properties")
                    .ok_or_else(|| shape("SQS event without Properties"))?;
                let queue = match ep.get("Queue").and_then(expr) {
                    Some(Expr::GetAtt(resource, attr)) if attr == "Arn" => resource,
                    _ => return Err(shape("SQS event Queue must be !GetAtt <queue>.Arn")),
                };
                let report = ep
                    .get("FunctionResponseTypes")
                    .and_then(Value::as_sequence)
                    .is_some_and(|s| {
                        s.iter()
                            .any(|v| v.as_str() == Some("ReportBatchItemFailures"))
                    });
                sqs_sources.push(SqsSource {
                    queue,
                    batch_size: ep.get("BatchSize").and_then(Value::as_i64).unwrap_or(10) as i32,
                    report_batch_item_failures: report,
                });
            }
            out.push(FunctionSpec {
                logical_id: id.clone(),
                binary,
                timeout_secs: setting(props, "Timeout").unwrap_or(3),
                memory_mb: setting(props, "MemorySize").unwrap_or(128),
                environment,
                sqs_sources,
                schedules,
            });
        }
        Ok(out)
    }

    /// Every `AWS::DynamoDB::Table`, by logical id, with its properties.
    pub fn tables(&self) -> Vec<(String, Value)> {
        self.resources()
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"))
            .filter_map(|(id, r)| Some((id.as_str()?.to_owned(), r.get("Properties")?.clone())))
            .collect()
    }

    /// The template as LocalStack can deploy it, as plain CloudFormation: the serverless
    /// transform, `Globals`, every function and Lambda resource, the DynamoDB tables (LocalStack
    /// can't serve DynamoDB without Docker; DynamoDB Local does, see [`crate::deploy`]) and
    /// whatever refers to them are left out.
    pub fn without_functions(&self) -> String {
        let mut doc = self.doc.clone();
        let map = doc.as_mapping_mut().expect("a template is a mapping");
        map.remove("Transform");
        map.remove("Globals");

        let resources = map
            .get_mut("Resources")
            .and_then(Value::as_mapping_mut)
            .expect("checked in parse");
        let mut removed: HashSet<String> = HashSet::new();
        loop {
            let doomed: Vec<String> = resources
                .iter()
                .filter_map(|(id, r)| {
                    let id = id.as_str()?;
                    let ty = r.get("Type").and_then(Value::as_str).unwrap_or_default();
                    let elsewhere = ty.starts_with("AWS::Serverless::")
                        || ty.starts_with("AWS::Lambda::")
                        || ty == "AWS::DynamoDB::Table";
                    (!removed.contains(id) && (elsewhere || refers_to(r, &removed)))
                        .then(|| id.to_owned())
                })
                .collect();
            if doomed.is_empty() {
                break;
            }
            for id in doomed {
                resources.remove(id.as_str());
                removed.insert(id);
            }
        }
        if let Some(outputs) = map.get_mut("Outputs").and_then(Value::as_mapping_mut) {
            outputs.retain(|_, o| !refers_to(o, &removed));
        }
        serde_norway::to_string(&doc).expect("a parsed template serialises")
    }
}

/// Reads a scalar (string, number or boolean) as text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a value that may be an intrinsic function, in short (`!Ref`) or long (`Ref:`) form.
pub fn expr(value: &Value) -> Option<Expr> {
    if let Some(text) = scalar(value) {
        return Some(Expr::Literal(text));
    }
    let (name, arg) = match value {
        Value::Tagged(tagged) => (
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        ),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            (k.as_str()?.trim_start_matches("Fn::").to_owned(), v)
        }
        _ => return None,
    };
    match name.as_str() {
        "Ref" => Some(Expr::Ref(arg.as_str()?.to_owned())),
        "GetAtt" => {
            let (resource, attribute) = match arg {
                Value::String(s) => {
                    let (r, a) = s.split_once('.')?;
                    (r.to_owned(), a.to_owned())
                }
                Value::Sequence(parts) if parts.len() == 2 => {
                    (parts[0].as_str()?.to_owned(), parts[1].as_str()?.to_owned())
                }
                _ => return None,
            };
            Some(Expr::GetAtt(resource, attribute))
        }
        "Sub" => Some(Expr::Sub(arg.as_str()?.to_owned())),
        _ => None,
    }
}

/// Whether a value refers (by `Ref`, `GetAtt`, `Sub` or `DependsOn`) to any of `ids`.
fn refers_to(value: &Value, ids: &HashSet<String>) -> bool {
    if ids.is_empty() {
        return false;
    }
    if let Some(e) = expr(value) {
        return match e {
            Expr::Ref(r) | Expr::GetAtt(r, _) => ids.contains(&r),
            Expr::Sub(s) => ids.iter().any(|id| s.contains(&format!("${{{id}"))),
            Expr::Literal(_) => false,
        };
    }
    match value {
        Value::Mapping(m) => m.iter().any(|(k, v)| {
            (k.as_str() == Some("DependsOn")
                && (v.as_str().is_some_and(|d| ids.contains(d))
                    || v.as_sequence().is_some_and(|s| {
                        s.iter()
                            .any(|d| d.as_str().is_some_and(|d| ids.contains(d)))
                    })))
                || refers_to(v, ids)
        }),
        Value::Sequence(s) => s.iter().any(|v| refers_to(v, ids)),
        Value::Tagged(t) => refers_to(&t.value, ids),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_template() -> Template {
        Template::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")).unwrap()
    }

    /// Each dead-letter queue (a target of some redrive policy) has a depth alarm, and each
    /// alarm tells the operators' topic when it fires and when it clears.
    #[test]
    fn every_dead_letter_queue_has_an_alarm_that_tells_the_operators() {
        let template = repo_template();
        let resources = template.doc["Resources"].as_mapping().unwrap();
        let queue_of = |v: &Value| match expr(v) {
            Some(Expr::GetAtt(queue, _)) => Some(queue),
            _ => None,
        };
        let dead_letter_queues: std::collections::BTreeSet<String> = resources
            .values()
            .filter_map(|r| queue_of(&r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
            .collect();
        let alarms: Vec<&Value> = resources
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
            .collect();
        let operators = Some(Expr::Ref("OperatorAlarmsTopic".into()));
        for alarm in &alarms {
            for actions in ["AlarmActions", "OKActions"] {
                let targets: Vec<_> = alarm["Properties"][actions]
                    .as_sequence()
                    .map(|s| s.iter().map(expr).collect())
                    .unwrap_or_default();
                assert_eq!(targets, vec![operators.clone()], "{actions} of {alarm:?}");
            }
        }
        let watched: std::collections::BTreeSet<String> = alarms
            .iter()
            .filter(|a| {
                a["Properties"]["MetricName"].as_str() == Some("ApproximateNumberOfMessagesVisible")
            })
            .filter_map(|a| queue_of(&a["Properties"]["Dimensions"][0]["Value"]))
            .collect();
        assert_eq!(dead_letter_queues.len(), 6);
        assert_eq!(watched, dead_letter_queues);
    }

    #[test]
    fn reads_the_notification_function_from_the_repo_template() {
        let functions = repo_template().functions().unwrap();
        let f = functions
            .iter()
            .find(|f| f.binary == "notification")
            .unwrap();
        assert_eq!(f.timeout_secs, 5);
        assert_eq!(f.environment["MAIL_FROM"], Expr::Ref("MailFrom".into()));
        assert_eq!(
            f.sqs_sources,
            vec![SqsSource {
                queue: "NotificationEventsQueue".into(),
                batch_size: 10,
                report_batch_item_failures: true
            }]
        );
    }

    #[test]
    fn every_sqs_source_obeys_lambdas_fifo_limits() {
        let template = repo_template();
        for f in template.functions().unwrap() {
            for source in &f.sqs_sources {
                assert!(source.batch_size <= 10, "{}: FIFO batch size", f.logical_id);
                assert!(source.report_batch_item_failures, "{}", f.logical_id);
                let queue = &template.resources()[source.queue.as_str()]["Properties"];
                let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
                assert!(
                    visibility >= 6 * f.timeout_secs,
                    "{}: visibility < 6 x timeout",
                    f.logical_id
                );
            }
        }
    }

    #[test]
    fn the_local_template_has_no_functions_and_nothing_that_refers_to_them() {
        let template = Template::parse(
            "Transform: AWS::Serverless-2016-10-31\nGlobals: {Function: {Timeout: 3}}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n  T: {Type: AWS::DynamoDB::Table, Properties: {TableName: t}}\n  F: {Type: AWS::Serverless::Function, Properties: {Timeout: 4}}\n  P:\n    Type: AWS::Lambda::Permission\n    Properties: {FunctionName: !Ref F}\n  A:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {Dimensions: [{Name: F, Value: !GetAtt [F, Arn]}]}\nOutputs:\n  QUrl: {Value: !Ref Q}\n  FArn: {Value: !GetAtt F.Arn}\n",
        )
        .unwrap();
        let local: Value = serde_norway::from_str(&template.without_functions()).unwrap();
        let resources: Vec<_> = local["Resources"]
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(resources, vec!["Q"]);
        assert!(local.get("Transform").is_none() && local.get("Globals").is_none());
        let outputs: Vec<_> = local["Outputs"]
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(outputs, vec!["QUrl"]);
        assert!(template.without_functions().contains("!Ref Q"));
    }
}

#[cfg(test)]
mod routing_check {
    use super::*;
    use esign_events::routing::ROUTES;
    use std::collections::BTreeSet;

    /// Every subscription of template.yaml delivers exactly the event types that the routing
    /// table says its queue's function consumes from that topic, and every type a deployed
    /// function consumes has a subscription.
    #[test]
    fn subscriptions_match_the_routing_table() {
        let template =
            Template::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"))
                .unwrap();
        let resources = template.resources();
        let functions = template.functions().unwrap();
        // Queue logical id -> consuming function's binary name.
        let consumer_of = |queue: &str| {
            functions
                .iter()
                .find(|f| f.sqs_sources.iter().any(|s| s.queue == queue))
                .map(|f| f.binary.clone())
        };
        // Only the event topics are routed; others (SES's reports) carry no events of ours.
        let topic_category = |topic: &str| {
            let name = resources[topic]["Properties"]["TopicName"]
                .as_str()
                .unwrap()
                .to_owned();
            esign_events::Category::ALL
                .into_iter()
                .find(|c| c.topic_name() == name)
        };

        let mut subscribed: BTreeSet<(String, String)> = BTreeSet::new();
        for (_, r) in resources {
            if r["Type"].as_str() != Some("AWS::SNS::Subscription") {
                continue;
            }
            let props = &r["Properties"];
            let Some(Expr::Ref(topic)) = expr(&props["TopicArn"]) else {
                panic!("TopicArn must be !Ref")
            };
            let Some(Expr::GetAtt(queue, _)) = expr(&props["Endpoint"]) else {
                panic!("Endpoint must be !GetAtt")
            };
            let consumer =
                consumer_of(&queue).unwrap_or_else(|| panic!("no function consumes {queue}"));
            let Some(category) = topic_category(&topic) else {
                continue;
            };
            let filtered: BTreeSet<String> = props["FilterPolicy"]["eventType"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            let routed: BTreeSet<String> = ROUTES
                .iter()
                .filter(|route| {
                    route.category == category && route.consumers.contains(&consumer.as_str())
                })
                .map(|route| route.name.to_owned())
                .collect();
            assert_eq!(filtered, routed, "{queue} from {topic}");
            for t in filtered {
                subscribed.insert((consumer.clone(), t));
            }
        }
        for f in &functions {
            for route in ROUTES
                .iter()
                .filter(|r| r.consumers.contains(&f.binary.as_str()))
            {
                assert!(
                    subscribed.contains(&(f.binary.clone(), route.name.to_owned())),
                    "{} consumes {} but no subscription delivers it",
                    f.binary,
                    route.name
                );
            }
        }
    }
}
