//! What can go wrong, typed.

use std::path::PathBuf;

/// An error of [`Client`](crate::Client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error: its status, and the `code` and `message` of its
    /// `{"error": …}` body.
    #[error("{message} ({status} {code})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's error code (`not_found`, `forbidden`, `conflict`, …).
        code: String,
        /// The server's message.
        message: String,
        /// The request's id, to quote to the operator.
        request_id: Option<String>,
    },
    /// The token is missing, malformed, expired, or not accepted by this server.
    #[error(
        "the token is invalid or expired: sign in again with `casefile login --server URL --token TOKEN`"
    )]
    Unauthorized,
    /// The server cannot be reached (refused, unknown host, timed out while connecting).
    #[error("cannot reach the server at {url}: {source}")]
    Unreachable {
        /// What was asked for.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The connection failed midway, or a body could not be read.
    #[error("transfer failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// The store an upload was sent to (a presigned URL) refused it.
    #[error("the upload target answered {status}: {body}")]
    Store {
        /// Its HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// Bytes are not what the record says: nothing is kept under the final name.
    #[error("{what}: {field} {actual} is not the recorded {expected}")]
    Integrity {
        /// Which file.
        what: String,
        /// `size` or `SHA-256`.
        field: &'static str,
        /// What the record says.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An argument was refused before anything was sent.
    #[error("invalid {0}")]
    Invalid(String),
    /// The server answered something this client does not understand.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The API error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::Unauthorized => Some("unauthorized"),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn from_reqwest(url: &str, e: reqwest::Error) -> Self {
        if e.is_connect() {
            Self::Unreachable {
                url: url.to_owned(),
                source: e,
            }
        } else {
            Self::Transport(e)
        }
    }
}

/// A result of this crate.
pub type ClientResult<T> = Result<T, ClientError>;
