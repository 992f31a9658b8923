//! The one error of settings.

/// An input that was refused: which one, and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("{input}: {message}")]
pub struct SettingsError {
    pub input: String,
    pub message: String,
}

impl SettingsError {
    pub(super) fn new(input: impl Into<String>, message: impl ToString) -> Self {
        SettingsError {
            input: input.into(),
            message: message.to_string(),
        }
    }
}
