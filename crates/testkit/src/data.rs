//! Deterministic test content.

use bytes::Bytes;
use casefile_domain::Sha256;
use casefile_domain::content::ContentHasher;
use casefile_domain::storage::ByteStream;
use futures::{StreamExt, TryStreamExt, stream};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// `len` pseudo-random bytes from `seed`.
pub fn random_bytes(seed: u64, len: usize) -> Bytes {
    let mut data = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    Bytes::from(data)
}

/// A stream of `len` pseudo-random bytes from `seed`, in chunks of `chunk` bytes, generated as it
/// is read (memory: one chunk).
pub fn random_stream(seed: u64, len: u64, chunk: usize) -> ByteStream {
    let mut rng = StdRng::seed_from_u64(seed);
    let chunk = chunk.max(1) as u64;
    let chunks = stream::iter((0..len.div_ceil(chunk)).map(move |i| {
        let size = chunk.min(len - i * chunk);
        let mut data = vec![0u8; usize::try_from(size).unwrap_or(0)];
        rng.fill_bytes(&mut data);
        Ok(Bytes::from(data))
    }));
    Box::pin(chunks)
}

/// SHA-256 and size of what [`random_stream`] yields for these arguments, computed by streaming.
pub async fn random_stream_digest(seed: u64, len: u64, chunk: usize) -> (Sha256, u64) {
    digest_stream(random_stream(seed, len, chunk))
        .await
        .expect("the generated stream has no errors")
}

/// SHA-256 and size of a stream, consuming it chunk by chunk.
///
/// # Errors
/// The first error of the stream.
pub async fn digest_stream(
    stream: ByteStream,
) -> Result<(Sha256, u64), casefile_domain::StorageError> {
    let hasher = stream
        .try_fold(ContentHasher::new(), |mut hasher, chunk| async move {
            hasher.update(&chunk);
            Ok(hasher)
        })
        .await?;
    Ok(hasher.finish())
}

/// A stream of `bytes` in one chunk.
pub fn once(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes = bytes.into();
    Box::pin(stream::once(async move { Ok(bytes) }))
}

/// A stream of `bytes` cut into chunks of `chunk` bytes (no copy).
pub fn chunked(bytes: Bytes, chunk: usize) -> ByteStream {
    let chunk = chunk.max(1);
    let pieces: Vec<_> = (0..bytes.len().div_ceil(chunk))
        .map(|i| Ok(bytes.slice(i * chunk..bytes.len().min((i + 1) * chunk))))
        .collect();
    Box::pin(stream::iter(pieces))
}

/// All of a stream's bytes (for small test content only).
///
/// # Errors
/// The first error of the stream.
pub async fn collect(stream: ByteStream) -> Result<Bytes, casefile_domain::StorageError> {
    let chunks: Vec<Bytes> = stream.try_collect().await?;
    Ok(Bytes::from(chunks.concat()))
}

/// A stream that yields `good` bytes and then an error, like a client that disconnects.
pub fn failing_stream(good: Bytes) -> ByteStream {
    let failure = casefile_domain::StorageError::invalid_input("body", "client went away");
    Box::pin(stream::iter([Ok(good)]).chain(stream::once(async move { Err(failure) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stream_and_bytes_agree() {
        let whole = random_bytes(7, 1000);
        let streamed: Vec<Bytes> = random_stream(7, 1000, 1000).try_collect().await.unwrap();
        assert_eq!(streamed.concat(), whole.to_vec());
        let (digest, size) = random_stream_digest(7, 1000, 1000).await;
        assert_eq!((digest, size), (Sha256::digest(&whole), 1000));
        let chunked: Vec<Bytes> = random_stream(1, 10, 3).try_collect().await.unwrap();
        assert_eq!(
            chunked.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
    }
}
