//! Files in and out: local hashing, sending to a presigned target, verified resumable downloads.
//! Everything streams in chunks: memory stays bounded whatever the file's size.

use std::path::{Path, PathBuf};

use casefile_api::{FileView, UploadInstructions, UploadRequest};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::{Client, ClientError, ClientResult};

/// How much is read or written at a time.
const CHUNK: usize = 256 * 1024;

/// What a transfer reports as it goes: bytes done since the last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes of a local file hashed before its upload.
    Hashed(u64),
    /// Bytes sent to the upload target.
    Sent(u64),
    /// Bytes received (or found already received, when a download resumes).
    Received(u64),
}

/// A callback of [`Progress`].
pub type OnProgress<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// The SHA-256 (hex) and size of the file at `path`, read once in chunks.
///
/// # Errors
/// [`ClientError::Io`].
pub async fn hash_file(path: &Path, progress: OnProgress<'_>) -> ClientResult<(String, u64)> {
    let mut hasher = Sha256::new();
    let size = hash_into(path, &mut hasher, |n| progress(Progress::Hashed(n))).await?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// Feeds the file at `path` to `hasher` in chunks, reporting each; how many bytes it held.
async fn hash_into(path: &Path, hasher: &mut Sha256, on_chunk: impl Fn(u64)) -> ClientResult<u64> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(ClientError::io(path))?;
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .await
            .map_err(ClientError::io(path))?;
        if n == 0 {
            return Ok(size);
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
        on_chunk(n as u64);
    }
}

/// The file's bytes as a request body, counted into `progress` as they go.
async fn file_body(
    path: &Path,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> ClientResult<reqwest::Body> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(ClientError::io(path))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            progress(chunk.len() as u64);
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

/// Where a download is written until it is verified: a hidden name beside the final one.
pub fn partial_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());
    dest.with_file_name(format!(".{name}.casefile-partial"))
}

impl Client {
    /// Sends the file at `path` (`size` bytes) where and how `instructions` say: a
    /// `multipart/form-data` POST of the fields then the file, or a PUT with the headers. No
    /// bearer token goes there: the signature is the grant.
    ///
    /// # Errors
    /// [`ClientError::Store`] when the target refuses it; [`ClientError::Io`].
    pub async fn send_upload(
        &self,
        instructions: &UploadInstructions,
        path: &Path,
        size: u64,
        progress: OnProgress<'_>,
    ) -> ClientResult<()> {
        // The body outlives this call's borrow of `progress`: count into a shared cell and
        // report it from here as the request goes.
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let body = file_body(path, move |n| {
            counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .await?;
        let request = match instructions.method.as_str() {
            "POST" => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in &instructions.fields {
                    form = form.text(name.clone(), value.clone());
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".into());
                let part = reqwest::multipart::Part::stream_with_length(body, size).file_name(name);
                self.http
                    .post(&instructions.url)
                    .multipart(form.part("file", part))
            }
            "PUT" => {
                let mut request = self
                    .http
                    .put(&instructions.url)
                    .header(reqwest::header::CONTENT_LENGTH, size);
                for (name, value) in &instructions.headers {
                    request = request.header(name.as_str(), value.as_str());
                }
                request.body(body)
            }
            other => {
                return Err(ClientError::Protocol(format!("an upload method {other:?}")));
            }
        };
        let send = request.send();
        tokio::pin!(send);
        let mut reported = 0u64;
        let mut ticks = tokio::time::interval(std::time::Duration::from_millis(100));
        let response = loop {
            tokio::select! {
                response = &mut send => break response,
                _ = ticks.tick() => {
                    let now = sent.load(std::sync::atomic::Ordering::Relaxed);
                    if now > reported {
                        progress(crate::Progress::Sent(now - reported));
                        reported = now;
                    }
                }
            }
        };
        let now = sent.load(std::sync::atomic::Ordering::Relaxed);
        if now > reported {
            progress(crate::Progress::Sent(now - reported));
        }
        // reqwest's error names the URL, query included: the grant must not reach a message.
        let response = response.map_err(|e| {
            ClientError::from_reqwest(&instructions.url_without_query(), e.without_url())
        })?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            return Err(ClientError::Store { status, body });
        }
        Ok(())
    }

    /// The whole two-phase upload of the file at `path` as `logical_path` of `case`: hash it
    /// locally, begin, send, complete.
    ///
    /// # Errors
    /// Any of the steps' errors; the upload is left pending (it expires) when sending fails.
    pub async fn upload_file(
        &self,
        case: Uuid,
        logical_path: &str,
        path: &Path,
        progress: OnProgress<'_>,
    ) -> ClientResult<FileView> {
        let (hash, size) = hash_file(path, progress).await?;
        let started = self
            .begin_upload(
                case,
                &UploadRequest {
                    logical_path: logical_path.to_owned(),
                    file_name: None,
                    mime_type: None,
                    file_size: size,
                    content_hash: hash,
                },
            )
            .await?;
        self.send_upload(&started.upload, path, size, progress)
            .await?;
        self.complete(started.file_id).await
    }

    /// Downloads the completed file `file` to `dest`: streamed into a hidden partial file beside
    /// it, its size and SHA-256 checked against the record, then renamed. A partial file left by
    /// an interrupted download is continued with a `Range` request (its bytes are hashed again,
    /// not trusted). Nothing is ever left under `dest` that does not match the record.
    ///
    /// # Errors
    /// [`ClientError::Integrity`] (the partial file is removed), transport and I/O errors (the
    /// partial file is kept, to resume).
    pub async fn download_to(
        &self,
        file: Uuid,
        dest: &Path,
        progress: OnProgress<'_>,
    ) -> ClientResult<FileView> {
        let meta = self.file(file).await?;
        if meta.status != "completed" {
            return Err(ClientError::Invalid(format!(
                "file {file}: it is {}, not completed",
                meta.status
            )));
        }
        let partial = partial_path(dest);
        let mut hasher = Sha256::new();
        let mut have = match tokio::fs::metadata(&partial).await {
            // The bytes already there are hashed again, not trusted.
            Ok(m) if m.len() <= meta.file_size => {
                hash_into(&partial, &mut hasher, |n| progress(Progress::Received(n))).await?
            }
            _ => 0,
        };
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await
            .map_err(ClientError::io(&partial))?;
        if have < meta.file_size {
            let range = (have > 0).then_some((have, None));
            let response = self.content(file, range).await?;
            if have > 0 && response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
                // The range was not honoured: start over.
                out.set_len(0).await.map_err(ClientError::io(&partial))?;
                hasher = Sha256::new();
                have = 0;
            }
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| ClientError::Transport(e.without_url()))?;
                out.write_all(&chunk)
                    .await
                    .map_err(ClientError::io(&partial))?;
                hasher.update(&chunk);
                have += chunk.len() as u64;
                progress(Progress::Received(chunk.len() as u64));
            }
        }
        out.sync_all().await.map_err(ClientError::io(&partial))?;
        drop(out);
        let mismatch = if have != meta.file_size {
            Some(("size", meta.file_size.to_string(), have.to_string()))
        } else {
            let actual = hex::encode(hasher.finalize());
            (!actual.eq_ignore_ascii_case(&meta.content_hash))
                .then(|| ("SHA-256", meta.content_hash.clone(), actual))
        };
        if let Some((field, expected, actual)) = mismatch {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(ClientError::Integrity {
                what: format!("{} ({file})", meta.logical_path),
                field,
                expected,
                actual,
            });
        }
        tokio::fs::rename(&partial, dest)
            .await
            .map_err(ClientError::io(dest))?;
        Ok(meta)
    }
}

trait UrlWithoutQuery {
    fn url_without_query(&self) -> String;
}

impl UrlWithoutQuery for UploadInstructions {
    /// The target without its query: the query of a presigned URL is the grant, and must not
    /// reach an error message (which may be logged).
    fn url_without_query(&self) -> String {
        self.url
            .split_once('?')
            .map_or(self.url.as_str(), |(base, _)| base)
            .to_owned()
    }
}
