//! Content hashing and content-type detection shared by every adapter and the service.
//!
//! Adapters call [`prepare_upload`] before writing and feed every chunk through a
//! [`ContentHasher`] while it passes, so that the SHA-256 of an object is computed exactly once,
//! on the bytes as they are written, and never by reading the object back.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{StorageError, StorageResult};
use crate::storage::{ByteStream, ObjectKey};

/// The content type used when neither the caller, the extension nor the bytes tell one.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// How many leading bytes [`prepare_upload`] looks at to detect a content type.
pub const SNIFF_LEN: usize = 8 * 1024;

/// A SHA-256 digest: 32 bytes, written as 64 lowercase hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// The digest of `data`, in one call.
    pub fn digest(data: &[u8]) -> Self {
        Self(sha2::Sha256::digest(data).into())
    }

    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hexadecimal digits (either case).
    ///
    /// # Errors
    /// [`InvalidSha256`] when `s` is not exactly 64 hexadecimal digits.
    pub fn from_hex(s: &str) -> Result<Self, InvalidSha256> {
        if s.len() != 64 {
            return Err(InvalidSha256);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| InvalidSha256)?;
        Ok(Self(out))
    }
}

/// The error of [`Sha256::from_hex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a SHA-256 must be exactly 64 hexadecimal digits")]
pub struct InvalidSha256;

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl FromStr for Sha256 {
    type Err = InvalidSha256;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl TryFrom<String> for Sha256 {
    type Error = InvalidSha256;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_hex(&s)
    }
}

impl From<Sha256> for String {
    fn from(h: Sha256) -> Self {
        h.to_hex()
    }
}

/// Computes the SHA-256 and the size of content fed to it chunk by chunk.
#[derive(Clone, Default)]
pub struct ContentHasher {
    hasher: sha2::Sha256,
    size: u64,
}

impl ContentHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
    }

    /// How many bytes were fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest and the size of everything fed.
    pub fn finish(self) -> (Sha256, u64) {
        (Sha256(self.hasher.finalize().into()), self.size)
    }
}

impl fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentHasher")
            .field("size", &self.size)
            .finish()
    }
}

/// A stream that hashes the bytes passing through it, for callers that hand the stream on (to an
/// SDK, say) and read the digest once it is exhausted. See [`HashingStream::new`].
pub struct HashingStream {
    inner: ByteStream,
    state: Arc<Mutex<ContentHasher>>,
}

/// The digest side of a [`HashingStream`]: read it after the stream has ended.
#[derive(Debug, Clone)]
pub struct HashHandle(Arc<Mutex<ContentHasher>>);

impl HashingStream {
    /// Wraps `inner`; the handle yields the SHA-256 and size of every byte the stream yielded.
    pub fn new(inner: ByteStream) -> (Self, HashHandle) {
        let state = Arc::new(Mutex::new(ContentHasher::new()));
        (
            Self {
                inner,
                state: state.clone(),
            },
            HashHandle(state),
        )
    }
}

impl HashHandle {
    /// The digest and size of the bytes seen so far (all of them once the stream has ended).
    pub fn finish(&self) -> (Sha256, u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .finish()
    }
}

impl Stream for HashingStream {
    type Item = StorageResult<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .update(chunk);
        }
        polled
    }
}

/// Checks that `content_type` is a well-formed media type (`type/subtype` with optional
/// parameters, no control characters).
///
/// # Errors
/// [`StorageError::InvalidInput`] for `content_type`.
pub fn validate_content_type(content_type: &str) -> StorageResult<()> {
    let well_formed = !content_type.chars().any(char::is_control)
        && content_type.len() <= 255
        && mime_guess::mime::Mime::from_str(content_type).is_ok();
    if well_formed {
        Ok(())
    } else {
        Err(StorageError::invalid_input(
            "content_type",
            format!("{content_type:?} is not a media type"),
        ))
    }
}

/// The content type guessed from the key's extension alone, if the extension is known.
pub fn content_type_from_extension(key: &ObjectKey) -> Option<String> {
    let name = key.file_name();
    if !name.contains('.') {
        return None;
    }
    mime_guess::from_path(name).first_raw().map(str::to_owned)
}

/// The content type told by the leading bytes (magic numbers, or text), if they tell one; the
/// same on every machine ([`crate::sniff`]).
pub fn content_type_from_bytes(first_bytes: &[u8]) -> Option<String> {
    crate::sniff::sniff(first_bytes)
}

/// Whether the leading bytes carry the signature of `content_type` ([`crate::sniff::matches`]):
/// `false` for bytes that tell nothing.
pub fn bytes_match_type(content_type: &str, first_bytes: &[u8]) -> bool {
    crate::sniff::matches(content_type, first_bytes)
}

/// The content type of an upload: the caller's when given, else by the key's extension, else by
/// the leading bytes, else [`OCTET_STREAM`].
pub fn detect_content_type(key: &ObjectKey, given: Option<&str>, first_bytes: &[u8]) -> String {
    given
        .map(str::to_owned)
        .or_else(|| content_type_from_extension(key))
        .or_else(|| content_type_from_bytes(first_bytes))
        .unwrap_or_else(|| OCTET_STREAM.to_owned())
}

/// Reads up to `len` leading bytes of `stream` without losing any: returns them, together with a
/// stream that yields every byte of the original from the start.
///
/// Memory is bounded by `len` plus one chunk.
///
/// # Errors
/// The first error the stream yields while its head is read.
pub async fn peek_prefix(mut stream: ByteStream, len: usize) -> StorageResult<(Bytes, ByteStream)> {
    let mut head: Vec<Bytes> = Vec::new();
    let mut seen = 0usize;
    while seen < len {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                seen += chunk.len();
                head.push(chunk);
            }
            None => break,
        }
    }
    let mut prefix = BytesMut::with_capacity(seen.min(len));
    for chunk in &head {
        let room = len - prefix.len();
        prefix.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if prefix.len() == len {
            break;
        }
    }
    let replay = stream::iter(head.into_iter().map(Ok)).chain(stream);
    Ok((prefix.freeze(), Box::pin(replay)))
}

/// Reads the head of an upload for adapters that send small objects in one request: chunks are
/// fed to `hasher` and buffered until the buffer holds more than `limit` bytes or the stream
/// ends. Returns the buffer and whether the stream ended (then the buffer is the whole object
/// and `hasher` has seen all of it). Memory: `limit` plus one chunk.
///
/// # Errors
/// The first error of the stream.
pub async fn read_head(
    stream: &mut ByteStream,
    limit: usize,
    hasher: &mut ContentHasher,
) -> StorageResult<(BytesMut, bool)> {
    let mut buffer = BytesMut::new();
    while buffer.len() <= limit {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                hasher.update(&chunk);
                buffer.extend_from_slice(&chunk);
            }
            None => return Ok((buffer, true)),
        }
    }
    Ok((buffer, false))
}

/// Resolves the content type of a streaming upload (see [`detect_content_type`]) and returns the
/// stream to write, which still yields every byte from the first.
///
/// Reads ahead [`SNIFF_LEN`] bytes only when neither `given` nor the extension decide.
///
/// # Errors
/// [`StorageError::InvalidInput`] for a malformed `given` type; the stream's own errors.
pub async fn prepare_upload(
    key: &ObjectKey,
    given: Option<&str>,
    stream: ByteStream,
) -> StorageResult<(String, ByteStream)> {
    if let Some(given) = given {
        validate_content_type(given)?;
        return Ok((given.to_owned(), stream));
    }
    if let Some(by_extension) = content_type_from_extension(key) {
        return Ok((by_extension, stream));
    }
    let (prefix, stream) = peek_prefix(stream, SNIFF_LEN).await?;
    Ok((detect_content_type(key, None, &prefix), stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> ByteStream {
        Box::pin(stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        ))
    }

    async fn collect(s: ByteStream) -> Vec<u8> {
        let parts: Vec<Bytes> = s.map(|c| c.unwrap()).collect().await;
        parts.concat()
    }

    #[test]
    fn sha256_known_vector_and_hex() {
        let h = Sha256::digest(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256::from_hex(&h.to_hex().to_uppercase()), Ok(h));
        assert_eq!(Sha256::from_hex("abc"), Err(InvalidSha256));
        assert_eq!(Sha256::from_hex(&"g".repeat(64)), Err(InvalidSha256));
        let mut hasher = ContentHasher::new();
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(hasher.finish(), (h, 3));
    }

    #[tokio::test]
    async fn hashing_stream_reports_digest_of_everything_yielded() {
        let (s, handle) = HashingStream::new(chunks(&[b"a", b"", b"bc"]));
        assert_eq!(collect(Box::pin(s)).await, b"abc");
        assert_eq!(handle.finish(), (Sha256::digest(b"abc"), 3));
    }

    #[tokio::test]
    async fn read_head_stops_past_the_limit_or_at_the_end() {
        let mut hasher = ContentHasher::new();
        let mut s = chunks(&[b"abc", b"def", b"gh"]);
        let (head, ended) = read_head(&mut s, 4, &mut hasher).await.unwrap();
        assert_eq!((&head[..], ended), (&b"abcdef"[..], false));
        assert_eq!(collect(s).await, b"gh");
        let mut hasher = ContentHasher::new();
        let (head, ended) = read_head(&mut chunks(&[b"ab"]), 4, &mut hasher)
            .await
            .unwrap();
        assert_eq!((&head[..], ended), (&b"ab"[..], true));
        assert_eq!(hasher.finish(), (Sha256::digest(b"ab"), 2));
    }

    #[tokio::test]
    async fn peek_prefix_loses_nothing() {
        let (prefix, rest) = peek_prefix(chunks(&[b"hel", b"lo w", b"orld"]), 5)
            .await
            .unwrap();
        assert_eq!(&prefix[..], b"hello");
        assert_eq!(collect(rest).await, b"hello world");
        let (prefix, rest) = peek_prefix(chunks(&[b"hi"]), 5).await.unwrap();
        assert_eq!(&prefix[..], b"hi");
        assert_eq!(collect(rest).await, b"hi");
    }

    #[test]
    fn detection_order_is_given_then_extension_then_magic_then_fallback() {
        let pdf = ObjectKey::new("a/report.pdf").unwrap();
        let bare = ObjectKey::new("a/report").unwrap();
        let magic_pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
        assert_eq!(
            detect_content_type(&pdf, Some("text/x-given"), b""),
            "text/x-given"
        );
        assert_eq!(
            detect_content_type(&pdf, None, b"plain words"),
            "application/pdf"
        );
        assert_eq!(
            detect_content_type(&bare, None, magic_pdf),
            "application/pdf"
        );
        assert_eq!(
            detect_content_type(&bare, None, &[0u8, 159, 146, 150, 0, 1]),
            OCTET_STREAM
        );
        assert_eq!(detect_content_type(&bare, None, b""), OCTET_STREAM);
    }

    #[test]
    fn content_type_validation() {
        assert!(validate_content_type("application/pdf").is_ok());
        assert!(validate_content_type("text/plain; charset=utf-8").is_ok());
        assert!(validate_content_type("pdf").is_err());
        assert!(validate_content_type("text/plain\r\nX-Evil: 1").is_err());
    }
}
