//! An envelope's state and how each event changes it.
//!
//! [`apply`] is a pure function: given the state before (if any) and an event, it returns the
//! state after and the events that follow from it. Applying an event a second time changes
//! nothing and publishes nothing new, so a redelivery is harmless even past the idempotency
//! records.

use esign_events::catalogue::{
    CompletedRecipient, DeviceInfo, DocumentRef, EnvelopeCompleted, RecipientRole, SigningOrder,
};
use esign_events::personal::{Email, IpAddress};
use esign_events::time::{IsoDuration, Timestamp};
use esign_events::{Event, Payload};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an envelope is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Sent,
    Completed,
    Declined,
    Voided,
    Expired,
}

impl Status {
    /// An envelope in a final state takes no more signatures.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Declined | Status::Voided | Status::Expired
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Sent => "sent",
            Status::Completed => "completed",
            Status::Declined => "declined",
            Status::Voided => "voided",
            Status::Expired => "expired",
        }
    }
}

/// Where a recipient is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientStatus {
    /// Waiting for earlier recipients (sequential order).
    Pending,
    /// Asked to act now.
    Notified,
    Signed,
    Declined,
}

/// A recipient as the envelope function keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientState {
    pub recipient_id: Uuid,
    pub name: String,
    pub email: Email,
    pub role: RecipientRole,
    pub signing_order: u32,
    pub status: RecipientStatus,
    #[serde(default)]
    pub viewed_at: Option<Timestamp>,
    #[serde(default)]
    pub signed_at: Option<Timestamp>,
    #[serde(default)]
    pub ip_address: Option<IpAddress>,
    #[serde(default)]
    pub device_info: Option<DeviceInfo>,
    /// The recipient's access code no longer opens the envelope.
    #[serde(default)]
    pub access_revoked: bool,
}

/// A document of the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentState {
    pub document_id: Uuid,
    pub name: String,
    pub page_count: u32,
    pub ready: bool,
}

/// An envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeState {
    pub envelope_id: Uuid,
    pub status: Status,
    pub sender_id: Uuid,
    pub sender_name: String,
    pub sender_email: Email,
    pub subject: String,
    pub signing_order: SigningOrder,
    pub recipients: Vec<RecipientState>,
    pub documents: Vec<DocumentState>,
    #[serde(default)]
    pub sent_at: Option<Timestamp>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Set once `envelope.completed` has been published.
    #[serde(default)]
    pub completion_published: bool,
    /// Documents reported ready before the envelope itself was known.
    #[serde(default)]
    pub early_ready_documents: Vec<Uuid>,
}

/// An event that breaks the envelope's rules: it can never apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("envelope {envelope_id}: {problem}")]
pub struct RuleBroken {
    pub envelope_id: Uuid,
    pub problem: String,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The state after, or `None` when the event is not about a known envelope and changes
    /// nothing.
    pub state: Option<EnvelopeState>,
    /// Events that follow, to publish after the state is stored.
    pub follow_ups: Vec<Payload>,
}

fn broken(id: Uuid, problem: impl Into<String>) -> RuleBroken {
    RuleBroken {
        envelope_id: id,
        problem: problem.into(),
    }
}

/// Applies an event to an envelope's state.
pub fn apply(before: Option<EnvelopeState>, event: &Event) -> Result<Applied, RuleBroken> {
    let unchanged = |state: Option<EnvelopeState>| {
        Ok(Applied {
            state,
            follow_ups: vec![],
        })
    };
    match (&event.payload, before) {
        (Payload::EnvelopeCreated(created), None) => unchanged(Some(EnvelopeState {
            envelope_id: created.envelope_id,
            status: Status::Draft,
            sender_id: created.sender_id,
            sender_name: created.sender_name.clone(),
            sender_email: created.sender_email.clone(),
            subject: created.subject.clone(),
            signing_order: SigningOrder::Parallel,
            recipients: vec![],
            documents: created
                .documents
                .iter()
                .map(|d| DocumentState {
                    document_id: d.document_id,
                    name: d.name.clone(),
                    page_count: d.page_count,
                    ready: false,
                })
                .collect(),
            sent_at: None,
            expires_at: None,
            completed_at: None,
            completion_published: false,
            early_ready_documents: vec![],
        })),
        (Payload::EnvelopeCreated(_), Some(state)) => unchanged(Some(state)),

        (Payload::EnvelopeSent(sent), before) => {
            if let Some(state) = &before {
                if state.status != Status::Draft {
                    // Sent already: a redelivery, or a second send that can't be.
                    return if state.sent_at == Some(sent.sent_at) {
                        unchanged(before)
                    } else {
                        Err(broken(
                            sent.envelope_id,
                            format!("is {} and can't be sent again", state.status.as_str()),
                        ))
                    };
                }
            }
            let early = before
                .as_ref()
                .map(|s| s.early_ready_documents.clone())
                .unwrap_or_default();
            let first: Vec<Uuid> = sent.first_to_act().iter().map(|r| r.recipient_id).collect();
            let state = EnvelopeState {
                envelope_id: sent.envelope_id,
                status: Status::Sent,
                sender_id: sent.sender_id,
                sender_name: sent.sender_name.clone(),
                sender_email: sent.sender_email.clone(),
                subject: sent.subject.clone(),
                signing_order: sent.signing_order,
                recipients: sent
                    .recipients
                    .iter()
                    .map(|r| RecipientState {
                        recipient_id: r.recipient_id,
                        name: r.name.clone(),
                        email: r.email.clone(),
                        role: r.role,
                        signing_order: r.signing_order,
                        status: if first.contains(&r.recipient_id) {
                            RecipientStatus::Notified
                        } else {
                            RecipientStatus::Pending
                        },
                        viewed_at: None,
                        signed_at: None,
                        ip_address: None,
                        device_info: None,
                        access_revoked: false,
                    })
                    .collect(),
                documents: sent
                    .documents
                    .iter()
                    .map(|d| DocumentState {
                        document_id: d.document_id,
                        name: d.name.clone(),
                        page_count: d.page_count,
                        ready: early.contains(&d.document_id)
                            || before.as_ref().is_some_and(|s| {
                                s.documents
                                    .iter()
                                    .any(|x| x.document_id == d.document_id && x.ready)
                            }),
                    })
                    .collect(),
                sent_at: Some(sent.sent_at),
                expires_at: sent.expires_at,
                completed_at: None,
                completion_published: false,
                early_ready_documents: vec![],
            };
            unchanged(Some(state))
        }

        (Payload::DocumentReady(ready), None) => {
            // The document may be ready before the envelope is known; nothing to keep yet
            // unless it names an envelope, which then learns it when it is created or sent.
            match ready.envelope_id {
                Some(id) => unchanged(Some(EnvelopeState::placeholder(id, ready.document_id))),
                None => unchanged(None),
            }
        }
        (Payload::DocumentReady(ready), Some(mut state)) => {
            match state
                .documents
                .iter_mut()
                .find(|d| d.document_id == ready.document_id)
            {
                Some(d) => {
                    d.ready = true;
                    d.page_count = ready.page_count;
                }
                None if !state.early_ready_documents.contains(&ready.document_id) => {
                    state.early_ready_documents.push(ready.document_id)
                }
                None => {}
            }
            unchanged(Some(state))
        }

        (_, None) => {
            let id = event.payload.envelope_id().unwrap_or_default();
            Err(broken(
                id,
                format!("is not known, so {} can't apply", event.event_type),
            ))
        }

        (Payload::EnvelopeViewed(viewed), Some(mut state)) => {
            let r = recipient(&mut state, viewed.recipient_id)?;
            if r.viewed_at.is_none() {
                r.viewed_at = Some(viewed.viewed_at);
            }
            unchanged(Some(state))
        }

        (Payload::EnvelopeRecipientSigned(signed), Some(mut state)) => {
            let id = state.envelope_id;
            let status = state.status;
            let r = recipient(&mut state, signed.recipient_id)?;
            if r.status == RecipientStatus::Signed {
                // A redelivery; completion may still be owed if publishing it failed.
                return Ok(Applied {
                    follow_ups: completion(&state),
                    state: Some(state),
                });
            }
            if status != Status::Sent {
                return Err(broken(
                    id,
                    format!("is {} and takes no signatures", status.as_str()),
                ));
            }
            if !r.role.acts() {
                return Err(broken(id, "a cc recipient can't sign"));
            }
            if r.status == RecipientStatus::Pending {
                return Err(broken(
                    id,
                    format!("recipient {} signed before their turn", signed.recipient_id),
                ));
            }
            r.status = RecipientStatus::Signed;
            r.signed_at = Some(signed.signed_at);
            r.ip_address = Some(signed.ip_address.clone());
            r.device_info = Some(signed.device_info.clone());

            let acting: Vec<&RecipientState> =
                state.recipients.iter().filter(|r| r.role.acts()).collect();
            if acting.iter().all(|r| r.status == RecipientStatus::Signed) {
                state.status = Status::Completed;
                state.completed_at = acting.iter().filter_map(|r| r.signed_at).max();
            } else if state.signing_order == SigningOrder::Sequential {
                // Unlock the next in order once everyone of the current order has signed.
                let waiting = acting.iter().any(|r| r.status == RecipientStatus::Notified);
                if !waiting {
                    let next = acting
                        .iter()
                        .filter(|r| r.status == RecipientStatus::Pending)
                        .map(|r| r.signing_order)
                        .min();
                    for r in state.recipients.iter_mut() {
                        if r.role.acts() && Some(r.signing_order) == next {
                            r.status = RecipientStatus::Notified;
                        }
                    }
                }
            }
            Ok(Applied {
                follow_ups: completion(&state),
                state: Some(state),
            })
        }

        (Payload::EnvelopeDeclined(declined), Some(mut state)) => {
            if state.status == Status::Declined {
                return unchanged(Some(state));
            }
            if state.status.is_final() {
                return Err(broken(
                    state.envelope_id,
                    format!("is {} and can't be declined", state.status.as_str()),
                ));
            }
            recipient(&mut state, declined.recipient_id)?.status = RecipientStatus::Declined;
            state.status = Status::Declined;
            revoke_all(&mut state);
            unchanged(Some(state))
        }

        (Payload::EnvelopeVoided(_), Some(mut state)) => {
            if state.status == Status::Voided {
                return unchanged(Some(state));
            }
            if state.status == Status::Completed {
                return Err(broken(
                    state.envelope_id,
                    "is completed and can't be voided",
                ));
            }
            state.status = Status::Voided;
            revoke_all(&mut state);
            unchanged(Some(state))
        }

        (Payload::EnvelopeExpired(_), Some(mut state)) => {
            if !state.status.is_final() {
                state.status = Status::Expired;
                revoke_all(&mut state);
            }
            unchanged(Some(state))
        }

        (_, Some(state)) => unchanged(Some(state)),
    }
}

impl EnvelopeState {
    /// A state that only remembers a ready document until the envelope itself arrives.
    fn placeholder(envelope_id: Uuid, document_id: Uuid) -> Self {
        Self {
            envelope_id,
            status: Status::Draft,
            sender_id: Uuid::nil(),
            sender_name: String::new(),
            sender_email: Email::parse("unknown@invalid.example").expect("a valid placeholder"),
            subject: String::new(),
            signing_order: SigningOrder::Parallel,
            recipients: vec![],
            documents: vec![],
            sent_at: None,
            expires_at: None,
            completed_at: None,
            completion_published: false,
            early_ready_documents: vec![document_id],
        }
    }

    /// Recipients who have not acted yet.
    pub fn pending_recipients(&self) -> impl Iterator<Item = &RecipientState> {
        self.recipients.iter().filter(|r| {
            r.role.acts()
                && matches!(
                    r.status,
                    RecipientStatus::Pending | RecipientStatus::Notified
                )
        })
    }
}

fn recipient(state: &mut EnvelopeState, id: Uuid) -> Result<&mut RecipientState, RuleBroken> {
    let envelope = state.envelope_id;
    state
        .recipients
        .iter_mut()
        .find(|r| r.recipient_id == id)
        .ok_or_else(|| broken(envelope, format!("has no recipient {id}")))
}

fn revoke_all(state: &mut EnvelopeState) {
    for r in &mut state.recipients {
        r.access_revoked = true;
    }
}

/// `envelope.completed`, when the envelope is completed and it has not been published yet.
fn completion(state: &EnvelopeState) -> Vec<Payload> {
    if state.status != Status::Completed || state.completion_published {
        return vec![];
    }
    let (Some(sent_at), Some(completed_at)) = (state.sent_at, state.completed_at) else {
        return vec![];
    };
    let millis = (completed_at.0 - sent_at.0).num_milliseconds().max(0) as u64;
    vec![Payload::EnvelopeCompleted(EnvelopeCompleted {
        envelope_id: state.envelope_id,
        sender_id: state.sender_id,
        sender_name: state.sender_name.clone(),
        sender_email: state.sender_email.clone(),
        subject: state.subject.clone(),
        recipients: state
            .recipients
            .iter()
            .map(|r| CompletedRecipient {
                recipient_id: r.recipient_id,
                name: r.name.clone(),
                email: r.email.clone(),
                role: r.role,
                signed_at: r.signed_at,
                ip_address: r.ip_address.clone(),
                device_info: r.device_info.clone(),
            })
            .collect(),
        documents: state
            .documents
            .iter()
            .map(|d| DocumentRef {
                document_id: d.document_id,
                name: d.name.clone(),
                page_count: d.page_count,
            })
            .collect(),
        sent_at,
        completed_at,
        total_duration: IsoDuration::from_millis(millis),
    })]
}
