//! # casefile-storage-azure
//!
//! The [`ObjectStorage`](casefile_domain::storage::ObjectStorage) port on Azure Blob Storage,
//! with `azure_storage_blobs` 0.21 over rustls (see `docs/adr/0003-azure-sdk.md`).
//!
//! - Uploads from a stream are staged blocks committed by a block list (bounded memory, a
//!   bounded number of blocks in flight); a failed upload commits nothing, so no blob appears.
//! - The SHA-256 is computed while the bytes pass and set as metadata at the commit.
//! - Metadata names are translated to C# identifiers Azure accepts: `_` → `_u`, `-` → `_d`
//!   (so `case-id` is stored as `case_did`, `x_1` as `x_u1`), and back.
//! - Presigned URLs are service SAS tokens scoped to one blob ([`sas`]); Azure cannot limit the
//!   size of a SAS upload, so `capabilities()` says so and the service's completion check guards.

mod builder;
mod error;
pub mod sas;
mod storage;

pub use builder::{AZURITE_ACCOUNT, AZURITE_KEY, AzureBlobStorageBuilder, AzureCredentials};
pub use storage::{AzureBlobStorage, SHA256_METADATA, decode_metadata_name, encode_metadata_name};
