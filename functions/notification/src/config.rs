//! Settings, read from the environment once when the function starts.

use esign_events::personal::Email;

/// What the function needs to know besides the event.
#[derive(Debug, Clone)]
pub struct Config {
    /// The platform's own address, for mail that isn't sent on a sender's behalf.
    pub mail_from: Email,
    /// The platform's display name, shown beside `mail_from`.
    pub platform_name: String,
    /// Whether recipients with a phone number also get an SMS.
    pub sms_enabled: bool,
    /// The web app's base URL, for links in messages.
    pub app_url: String,
    /// Where security alerts (audit tampering) go.
    pub admin_email: Option<Email>,
}

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads `MAIL_FROM`, `PLATFORM_NAME`, `SMS_ENABLED` and `APP_URL`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError {
                    name,
                    problem: "is not set".into(),
                })
        };
        let mail_from = Email::parse(&required("MAIL_FROM")?).map_err(|problem| ConfigError {
            name: "MAIL_FROM",
            problem: problem.into(),
        })?;
        let sms_enabled = match lookup("SMS_ENABLED").as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError {
                    name: "SMS_ENABLED",
                    problem: format!("'{other}' is neither 'true' nor 'false'"),
                })
            }
        };
        Ok(Self {
            mail_from,
            platform_name: lookup("PLATFORM_NAME").unwrap_or_else(|| "eSign".into()),
            sms_enabled,
            app_url: required("APP_URL")?.trim_end_matches('/').to_owned(),
            admin_email: match lookup("ADMIN_EMAIL").filter(|v| !v.trim().is_empty()) {
                Some(a) => Some(Email::parse(&a).map_err(|problem| ConfigError {
                    name: "ADMIN_EMAIL",
                    problem: problem.into(),
                })?),
                None => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_missing_setting_is_named() {
        let err = Config::from_lookup(lookup(&[("APP_URL", "https://x.example")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable MAIL_FROM: is not set"
        );
    }

    #[test]
    fn sms_must_be_true_or_false() {
        let pairs = [
            ("MAIL_FROM", "no-reply@sign.example"),
            ("APP_URL", "https://app.example/"),
            ("SMS_ENABLED", "yes"),
        ];
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.name, "SMS_ENABLED");
    }

    #[test]
    fn reads_a_full_configuration() {
        let pairs = [
            ("MAIL_FROM", "no-reply@sign.example"),
            ("APP_URL", "https://app.example/"),
            ("SMS_ENABLED", "true"),
        ];
        let config = Config::from_lookup(lookup(&pairs)).unwrap();
        assert!(config.sms_enabled);
        assert_eq!(config.app_url, "https://app.example");
    }
}
