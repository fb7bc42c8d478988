//! [`FsStorage`]: objects in a directory of the local filesystem.
//!
//! # Layout under the root
//!
//! - `objects/<key>`: one small JSON *manifest* per object (its size, SHA-256, content type,
//!   metadata, ETag, time, and the id of its blob), at the path of its key;
//! - `blobs/<id>`: the content, immutable, named by a random id;
//! - `tmp/`: files being written, never listed.
//!
//! # Atomicity and durability
//!
//! An upload streams into `tmp/`, hashing as it goes, `fsync`s, moves the blob to `blobs/`, then
//! writes the manifest to `tmp/`, `fsync`s it and renames it over `objects/<key>` — the single
//! commit point — and `fsync`s that directory. A crash or an error before the rename leaves the
//! old object untouched (and at worst an unreferenced file in `tmp/` or `blobs/`); after it, the
//! new object complete with its metadata. The content and its metadata can never disagree.
//!
//! # Safety of keys
//!
//! Keys are [`ObjectKey`]s (no `..`, no absolute paths, no backslashes). On top of that every
//! directory on the way to a manifest is checked with `lstat`: a symbolic link anywhere under the
//! root is refused with [`StorageError::PermissionDenied`], so nothing is read or written outside
//! the root. Segments longer than 255 bytes are refused as [`StorageError::InvalidKey`] before any
//! I/O. A key cannot be both an object and a prefix of another object here (`a` and `a/b`): the
//! second gets [`StorageError::AlreadyExists`] naming the conflict.
//!
//! Writers of the same key in one process are serialised; several processes sharing one root
//! stay atomic but may leave unreferenced blobs behind.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{self, ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use casefile_domain::content::{ContentHasher, prepare_upload};
use casefile_domain::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, Metadata, ObjectKey, ObjectStorage,
    ObjectStream, PresignDownloadRequest, PresignUploadRequest, PresignedDownload, PresignedUpload,
    PutOptions, StorageObject, UploadMethod,
};
use casefile_domain::{Sha256, StorageError, StorageResult};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio::sync::Mutex;
use tokio_util::io::ReaderStream;

use crate::presign::UrlSigner;
use crate::{UploadLimits, etag_of, summary_of};

const BACKEND: &str = "fs";
const OBJECTS: &str = "objects";
const BLOBS: &str = "blobs";
const TMP: &str = "tmp";
/// The longest path segment most filesystems accept, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;
const WRITE_BUFFER: usize = 1024 * 1024;
const READ_CHUNK: usize = 64 * 1024;
const LOCK_STRIPES: usize = 64;

/// An object store in a directory of the local filesystem. Cheap to clone.
///
/// See the [module documentation](self) for the layout, atomicity and key safety.
#[derive(Debug, Clone)]
pub struct FsStorage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    signer: UrlSigner,
    locks: Vec<Mutex<()>>,
    /// Placing an object (making its parent directories, then renaming into them) holds this
    /// shared; a delete's pruning of emptied directories holds it alone, so that it never
    /// removes a directory between a writer's making it and its rename.
    dirs: tokio::sync::RwLock<()>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    blob: String,
    size: u64,
    last_modified: DateTime<Utc>,
    etag: String,
    content_type: String,
    #[serde(default)]
    metadata: Metadata,
    sha256: Sha256,
}

impl Manifest {
    fn to_object(&self, key: &ObjectKey) -> StorageObject {
        StorageObject {
            key: key.clone(),
            size: self.size,
            last_modified: self.last_modified,
            etag: Some(self.etag.clone()),
            content_type: self.content_type.clone(),
            metadata: self.metadata.clone(),
            sha256: Some(self.sha256),
        }
    }
}

/// A file removed when dropped, unless [`TempPath::keep`] was called: an upload that fails or is
/// cancelled leaves nothing behind.
struct TempPath(Option<PathBuf>);

impl TempPath {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn io_error(key: &ObjectKey, error: io::Error) -> StorageError {
    match error.kind() {
        ErrorKind::NotFound => StorageError::not_found(key.as_str()),
        ErrorKind::PermissionDenied => StorageError::PermissionDenied {
            message: format!("{key}: {error}"),
            source: Some(Box::new(error)),
        },
        _ => StorageError::backend(BACKEND, error),
    }
}

fn backend(error: io::Error) -> StorageError {
    StorageError::backend(BACKEND, error)
}

fn symlink_refused(key: &str) -> StorageError {
    StorageError::PermissionDenied {
        message: format!("{key}: a symbolic link under the store's root is never followed"),
        source: None,
    }
}

/// What an `lstat` walk found at the path of a key.
enum Found {
    Manifest(PathBuf),
    Nothing,
}

impl FsStorage {
    /// A store rooted at `root`, created if missing, with presigned URLs signed by a random
    /// secret for `http://127.0.0.1:8080/v1/blobs/` (set yours with
    /// [`with_url_signer`](Self::with_url_signer)).
    ///
    /// # Errors
    /// [`StorageError::Backend`] when the directories cannot be created.
    pub fn new(root: impl Into<PathBuf>) -> StorageResult<Self> {
        let root = root.into();
        for dir in [OBJECTS, BLOBS, TMP] {
            std::fs::create_dir_all(root.join(dir)).map_err(backend)?;
        }
        let root = std::fs::canonicalize(&root).map_err(backend)?;
        let signer = UrlSigner::with_random_secret("http://127.0.0.1:8080/v1/blobs/")?;
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                signer,
                locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                dirs: tokio::sync::RwLock::new(()),
            }),
        })
    }

    /// This store, signing presigned URLs with `signer`.
    pub fn with_url_signer(self, signer: UrlSigner) -> Self {
        let inner = Inner {
            root: self.inner.root.clone(),
            signer,
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            dirs: tokio::sync::RwLock::new(()),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The signer of this store's presigned URLs (to verify them).
    pub fn url_signer(&self) -> &UrlSigner {
        &self.inner.signer
    }

    /// The root directory (canonical).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Uploads `data` to `key` under `limits`: stops reading and stores nothing as soon as the
    /// body passes `limits.max_size`, and stores nothing when the content's SHA-256 is not
    /// `limits.sha256`. This is how a server honours a presigned upload of this store.
    ///
    /// # Errors
    /// [`StorageError::TooLarge`], [`StorageError::ChecksumMismatch`], and those of
    /// [`ObjectStorage::upload_stream`].
    pub async fn upload_with_limits(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
        limits: UploadLimits,
    ) -> StorageResult<StorageObject> {
        check_segments(key)?;
        options.validate()?;
        let (content_type, mut data) =
            prepare_upload(key, options.content_type.as_deref(), data).await?;
        let blob_id = uuid::Uuid::new_v4().simple().to_string();
        let temp = TempPath(Some(self.inner.root.join(TMP).join(&blob_id)));
        let file = tokio::fs::File::create(temp.path())
            .await
            .map_err(backend)?;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut hasher = ContentHasher::new();
        while let Some(chunk) = data.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            limits.check_size(hasher.size())?;
            writer.write_all(&chunk).await.map_err(backend)?;
        }
        writer.flush().await.map_err(backend)?;
        let file = writer.into_inner();
        file.sync_all().await.map_err(backend)?;
        drop(file);
        let (sha256, size) = hasher.finish();
        limits.check_sha256(sha256)?;

        let blob_path = self.blob_path(&blob_id);
        tokio::fs::rename(temp.path(), &blob_path)
            .await
            .map_err(backend)?;
        temp.keep();
        let blob = TempPath(Some(blob_path));
        let manifest = Manifest {
            version: 1,
            blob: blob_id,
            size,
            last_modified: Utc::now(),
            etag: etag_of(&sha256),
            content_type,
            metadata: options.metadata,
            sha256,
        };
        self.commit(key, &manifest, !limits.if_absent).await?;
        blob.keep();
        Ok(manifest.to_object(key))
    }

    fn blob_path(&self, id: &str) -> PathBuf {
        self.inner.root.join(BLOBS).join(id)
    }

    fn lock_for(&self, key: &ObjectKey) -> &Mutex<()> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let stripe = usize::try_from(h.finish() % LOCK_STRIPES as u64).unwrap_or(0);
        &self.inner.locks[stripe]
    }

    /// Makes `manifest` the object at `key` (the commit point), then drops the blob it replaced.
    /// Without `replace`, only when no object is there: a hard link, which the filesystem
    /// refuses atomically when the name exists (whatever process holds it).
    async fn commit(
        &self,
        key: &ObjectKey,
        manifest: &Manifest,
        replace: bool,
    ) -> StorageResult<()> {
        let json = serde_json::to_vec(manifest).map_err(|e| StorageError::backend(BACKEND, e))?;
        let temp = TempPath(Some(
            self.inner
                .root
                .join(TMP)
                .join(format!("{}.manifest", uuid::Uuid::new_v4().simple())),
        ));
        let mut file = tokio::fs::File::create(temp.path())
            .await
            .map_err(backend)?;
        file.write_all(&json).await.map_err(backend)?;
        file.sync_all().await.map_err(backend)?;
        drop(file);

        let _guard = self.lock_for(key).lock().await;
        let _dirs = self.inner.dirs.read().await;
        let mut attempts = 0;
        let (target, replaced) = loop {
            // Another process sharing the directory may still prune a parent as it is made:
            // that is a reason to make it again, not a missing object.
            let target = match self.make_parents(key).await {
                Ok(target) => target,
                Err(StorageError::NotFound { .. }) if attempts < 5 => {
                    attempts += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let replaced = match tokio::fs::symlink_metadata(&target).await {
                Ok(m) if m.is_symlink() => return Err(symlink_refused(key.as_str())),
                Ok(m) if m.is_dir() => {
                    return Err(StorageError::AlreadyExists {
                        key: format!("{key} (other objects exist under it as a prefix)"),
                    });
                }
                Ok(_) => self.read_manifest(key, &target).await.ok(),
                Err(_) => None,
            };
            let placed = if replace {
                tokio::fs::rename(temp.path(), &target).await
            } else {
                match tokio::fs::hard_link(temp.path(), &target).await {
                    Ok(()) => {
                        let _ = tokio::fs::remove_file(temp.path()).await;
                        Ok(())
                    }
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        return Err(StorageError::AlreadyExists {
                            key: key.to_string(),
                        });
                    }
                    Err(e) => Err(e),
                }
            };
            match placed {
                Ok(()) => break (target, replaced),
                // A concurrent delete removed an emptied parent directory: make it again.
                Err(e) if e.kind() == ErrorKind::NotFound && attempts < 5 => attempts += 1,
                Err(e) => return Err(io_error(key, e)),
            }
        };
        temp.keep();
        sync_parent(&target).await?;
        if let Some(old) = replaced
            && old.blob != manifest.blob
        {
            let _ = tokio::fs::remove_file(self.blob_path(&old.blob)).await;
        }
        Ok(())
    }

    /// Creates the directories of `key`'s parents (refusing symlinks and objects in the way) and
    /// returns the path of its manifest.
    async fn make_parents(&self, key: &ObjectKey) -> StorageResult<PathBuf> {
        let mut path = self.inner.root.join(OBJECTS);
        let segments: Vec<&str> = key.segments().collect();
        let (last, parents) = segments.split_last().unwrap_or((&"", &[]));
        for (i, segment) in parents.iter().enumerate() {
            path.push(segment);
            match tokio::fs::symlink_metadata(&path).await {
                Ok(m) if m.is_symlink() => return Err(symlink_refused(key.as_str())),
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(StorageError::AlreadyExists {
                        key: format!(
                            "{} (an object, so {key} cannot be stored under it)",
                            parents[..=i].join("/")
                        ),
                    });
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    match tokio::fs::create_dir(&path).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                            let m = tokio::fs::symlink_metadata(&path).await.map_err(backend)?;
                            if !m.is_dir() || m.is_symlink() {
                                return Err(symlink_refused(key.as_str()));
                            }
                        }
                        Err(e) => return Err(io_error(key, e)),
                    }
                }
                Err(e) => return Err(io_error(key, e)),
            }
        }
        path.push(last);
        Ok(path)
    }

    /// Finds the manifest of `key` without following any symlink.
    async fn locate(&self, key: &ObjectKey) -> StorageResult<Found> {
        check_segments(key)?;
        let mut path = self.inner.root.join(OBJECTS);
        let count = key.segments().count();
        for (i, segment) in key.segments().enumerate() {
            path.push(segment);
            match tokio::fs::symlink_metadata(&path).await {
                Ok(m) if m.is_symlink() => return Err(symlink_refused(key.as_str())),
                Ok(m) if m.is_dir() && i + 1 < count => {}
                Ok(m) if m.is_file() && i + 1 == count => return Ok(Found::Manifest(path)),
                Ok(_) => return Ok(Found::Nothing),
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                    return Ok(Found::Nothing);
                }
                Err(e) => return Err(io_error(key, e)),
            }
        }
        Ok(Found::Nothing)
    }

    async fn read_manifest(&self, key: &ObjectKey, path: &Path) -> StorageResult<Manifest> {
        let bytes = tokio::fs::read(path).await.map_err(|e| io_error(key, e))?;
        serde_json::from_slice(&bytes).map_err(|e| StorageError::backend(BACKEND, e))
    }

    async fn manifest(&self, key: &ObjectKey) -> StorageResult<Option<Manifest>> {
        match self.locate(key).await? {
            Found::Manifest(path) => match self.read_manifest(key, &path).await {
                Ok(m) => Ok(Some(m)),
                Err(StorageError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            },
            Found::Nothing => Ok(None),
        }
    }

    /// The manifest and the open blob of `key`, retrying once when a concurrent overwrite
    /// removed the blob between the two reads.
    async fn open(&self, key: &ObjectKey) -> StorageResult<(Manifest, tokio::fs::File)> {
        for _ in 0..3 {
            let manifest = self
                .manifest(key)
                .await?
                .ok_or_else(|| StorageError::not_found(key.as_str()))?;
            match tokio::fs::File::open(self.blob_path(&manifest.blob)).await {
                Ok(file) => return Ok((manifest, file)),
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(io_error(key, e)),
            }
        }
        Err(StorageError::backend(
            BACKEND,
            format!("the content of {key} is missing from the store"),
        ))
    }

    /// Every key under `dir` (relative to `objects/`), unsorted, skipping symlinks.
    fn walk(objects: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                Self::walk(objects, &path, out)?;
            } else if kind.is_file() {
                let relative = path.strip_prefix(objects).ok().and_then(Path::to_str);
                if let Some(relative) = relative {
                    out.push(relative.replace(std::path::MAIN_SEPARATOR, "/"));
                }
            }
        }
        Ok(())
    }
}

fn check_segments(key: &ObjectKey) -> StorageResult<()> {
    if key.segments().any(|s| s.len() > MAX_SEGMENT_BYTES) {
        return Err(StorageError::InvalidKey {
            key: key.to_string(),
            reason: format!("a segment is longer than {MAX_SEGMENT_BYTES} bytes (local limit)"),
        });
    }
    Ok(())
}

async fn sync_parent(path: &Path) -> StorageResult<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    match tokio::fs::File::open(parent).await {
        Ok(dir) => dir.sync_all().await.map_err(backend),
        // Emptied and removed by a concurrent delete: nothing left to make durable.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(backend(e)),
    }
}

#[async_trait]
impl ObjectStorage for FsStorage {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::minimal()
            .with_presigned_upload(UploadMethod::Put, true, true)
            .with_presigned_download()
            .without_object_under_object()
            .with_create_only()
    }

    async fn upload_if_absent(
        &self,
        key: &ObjectKey,
        data: bytes::Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        let body: ByteStream = Box::pin(futures::stream::once(async move { Ok(data) }));
        let limits = UploadLimits {
            if_absent: true,
            ..UploadLimits::default()
        };
        self.upload_with_limits(key, body, options, limits).await
    }

    async fn upload_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        self.upload_with_limits(key, data, options, UploadLimits::default())
            .await
    }

    async fn download_stream(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> StorageResult<ObjectStream> {
        if let Some(range) = &range {
            range.validate()?;
        }
        let (manifest, mut file) = self.open(key).await?;
        let range = ByteRange::span(range, manifest.size)?;
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start))
                .await
                .map_err(backend)?;
        }
        let reader = file.take(range.end - range.start);
        let body = ReaderStream::with_capacity(reader, READ_CHUNK).map_err(backend);
        Ok(ObjectStream {
            object: manifest.to_object(key),
            range,
            body: Box::pin(body),
        })
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        Ok(self.manifest(key).await?.map(|m| m.to_object(key)))
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        let _guard = self.lock_for(key).lock().await;
        let Found::Manifest(path) = self.locate(key).await? else {
            return Ok(());
        };
        let manifest = self.read_manifest(key, &path).await.ok();
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(key, e)),
        }
        sync_parent(&path).await?;
        if let Some(manifest) = manifest {
            let _ = tokio::fs::remove_file(self.blob_path(&manifest.blob)).await;
        }
        // Drop emptied directories, never while an object is being placed (best effort: another
        // process sharing the directory may be filling one, and retries).
        let _dirs = self.inner.dirs.write().await;
        let objects = self.inner.root.join(OBJECTS);
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == objects || tokio::fs::remove_dir(&d).await.is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    async fn list(&self, options: ListOptions) -> StorageResult<ListPage> {
        let page_size = options.page_size()?;
        let after = match &options.continuation_token {
            Some(token) => Some(
                ObjectKey::new(token.as_str())
                    .map_err(|_| StorageError::invalid_input("continuation_token", "malformed"))?,
            ),
            None => None,
        };
        let objects = self.inner.root.join(OBJECTS);
        let start = match &options.prefix {
            Some(prefix) => {
                check_segments(prefix)?;
                // Refuse to walk through a symlink: `walk` skips links below, the prefix itself
                // is checked here.
                let mut dir = objects.clone();
                for segment in prefix.segments() {
                    dir.push(segment);
                    if let Ok(m) = tokio::fs::symlink_metadata(&dir).await
                        && m.is_symlink()
                    {
                        return Err(symlink_refused(prefix.as_str()));
                    }
                }
                dir
            }
            None => objects.clone(),
        };
        let mut keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            Self::walk(&objects, &start, &mut keys).map(|()| keys)
        })
        .await
        .map_err(|e| StorageError::backend(BACKEND, e))?
        .map_err(backend)?;
        keys.sort_unstable();
        let mut selected = Vec::with_capacity(page_size + 1);
        for raw in keys {
            let Ok(key) = ObjectKey::new(raw) else {
                continue;
            };
            if after.as_ref().is_some_and(|a| &key <= a) {
                continue;
            }
            selected.push(key);
            if selected.len() > page_size {
                break;
            }
        }
        let next_token = if selected.len() > page_size {
            selected.truncate(page_size);
            selected.last().map(ToString::to_string)
        } else {
            None
        };
        let mut page = Vec::with_capacity(selected.len());
        for key in selected {
            // An object deleted since the walk is simply not listed.
            if let Some(manifest) = self.manifest(&key).await? {
                page.push(summary_of(&manifest.to_object(&key)));
            }
        }
        Ok(ListPage {
            objects: page,
            next_token,
        })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject> {
        check_segments(to)?;
        let (source, _file) = self.open(from).await?;
        let blob_id = uuid::Uuid::new_v4().simple().to_string();
        let target = self.blob_path(&blob_id);
        // Blobs are immutable: a hard link is a complete, instant copy.
        if tokio::fs::hard_link(self.blob_path(&source.blob), &target)
            .await
            .is_err()
        {
            let temp = TempPath(Some(self.inner.root.join(TMP).join(&blob_id)));
            tokio::fs::copy(self.blob_path(&source.blob), temp.path())
                .await
                .map_err(|e| io_error(from, e))?;
            tokio::fs::rename(temp.path(), &target)
                .await
                .map_err(backend)?;
            temp.keep();
        }
        let blob = TempPath(Some(target));
        let manifest = Manifest {
            blob: blob_id,
            last_modified: Utc::now(),
            ..source
        };
        self.commit(to, &manifest, true).await?;
        blob.keep();
        Ok(manifest.to_object(to))
    }

    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload> {
        check_segments(key)?;
        self.inner.signer.sign_upload(key, &request, Utc::now())
    }

    async fn presigned_download(
        &self,
        key: &ObjectKey,
        request: PresignDownloadRequest,
    ) -> StorageResult<PresignedDownload> {
        check_segments(key)?;
        self.inner.signer.sign_download(key, &request, Utc::now())
    }
}
