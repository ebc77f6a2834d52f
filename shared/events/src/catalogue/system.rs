//! System events: user accounts.

use crate::personal::{Email, IpAddress, Secret};
use crate::time::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `user.registered`: a new account awaits e-mail verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
    pub verification_token: Secret,
    pub registered_at: Timestamp,
}

/// `user.verified`: the account's e-mail address is confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserVerified {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
    pub verified_at: Timestamp,
}

/// `user.password.reset`: the password was changed through a reset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPasswordReset {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
    pub reset_at: Timestamp,
    #[serde(default)]
    pub ip_address: Option<IpAddress>,
}

/// `user.account.locked`: too many failed sign-ins, or an administrator's action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAccountLocked {
    #[serde(deserialize_with = "crate::ids::strict")]
    pub user_id: Uuid,
    pub email: Email,
    pub name: String,
    pub reason: String,
    pub failed_attempts: u32,
    pub locked_at: Timestamp,
    pub locked_until: Timestamp,
}

impl super::Check for UserAccountLocked {
    fn check(&self) -> Result<(), (String, String)> {
        if self.locked_until <= self.locked_at {
            return Err((
                "data.lockedUntil".into(),
                "must be later than lockedAt".into(),
            ));
        }
        Ok(())
    }
}
