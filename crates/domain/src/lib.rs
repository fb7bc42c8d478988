//! # casefile-domain
//!
//! The core of casefile: the model, the ports (traits) every adapter implements, and the
//! services built on them. This crate depends on no SDK, no database library and no HTTP stack;
//! adapters depend on it, never the other way round.
//!
//! - [`storage`]: the object-storage port [`storage::ObjectStorage`] and its values.
//! - [`content`]: SHA-256 hashing and content-type detection shared by every adapter.
//! - [`error`]: the semantic errors of the port.
//! - [`legal`]: the legal file service, its model, and its persistence ports.
//!
//! With the `mock` feature, mockall mocks of the ports are exported (`MockObjectStorage`, ...)
//! for downstream unit tests.
#![warn(missing_docs)]

pub mod legal;
pub mod sniff;
pub mod storage;

// Where the rest of the workspace has always found them.
pub use storage::{content, error};

pub use content::Sha256;
pub use error::{BoxError, StorageError, StorageResult};
