//! Secrets generated into the data directory (`jwt.secret`, `blob-url.secret`).
//!
//! A secret file is made once, atomically and private: written to a temporary file of mode 0600,
//! then hard-linked to its name (which fails if another process made it first: then that one's
//! secret is used, so `casefile token` and `casefile serve` started together agree). An existing
//! file must be private (no group or other permission bits) and hold at least 32 bytes of hex;
//! anything else is an error, never a silent regeneration that would invalidate every token and
//! URL issued with the old secret.

use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The shortest generated secret, in bytes (64 hex digits on disk).
pub const MIN_SECRET_BYTES: usize = 32;

/// The secret stored at `path` as hex text, creating it (32 random bytes) when missing. Returns
/// the hex text as stored and whether this call created it.
///
/// # Errors
/// When the file is readable by group or others, is not hex of at least 32 bytes, or cannot be
/// read or written.
pub fn load_or_create(path: &Path) -> io::Result<(String, bool)> {
    match read_private(path) {
        Ok(secret) => return Ok((secret, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let secret = hex::encode(rand::random::<[u8; MIN_SECRET_BYTES]>());
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("secret"),
        uuid::Uuid::new_v4().simple()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    drop(file);
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok((secret, true)),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok((read_private(path)?, false)),
        Err(e) => Err(e),
    }
}

fn read_private(path: &Path) -> io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is readable or writable by group or others (mode {:o}): `chmod 600` it",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    let text = std::fs::read_to_string(path)?;
    let secret = text.trim();
    let valid = secret.len() >= 2 * MIN_SECRET_BYTES && hex::decode(secret).is_ok();
    if !valid {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} does not hold a secret of at least {MIN_SECRET_BYTES} bytes in hex; \
                 restore it, or remove it to generate a new one (every token and URL signed \
                 with the old one stops working)",
                path.display()
            ),
        ));
    }
    Ok(secret.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.secret");
        let (made, created) = load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(made.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), (made, false));
        // Nothing left behind but the secret.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.secret");
        let (made, _) = load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("chmod 600"), "{err}");
        // Not replaced.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), made);
    }

    #[test]
    fn short_or_garbled_secret_is_an_error_not_a_new_secret() {
        let dir = tempfile::tempdir().unwrap();
        for content in ["abcd", "zz", ""] {
            let path = dir.path().join("blob-url.secret");
            let _ = std::fs::remove_file(&path);
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let err = load_or_create(&path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{content:?}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
        }
    }

    #[test]
    fn concurrent_creators_agree_on_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.secret");
        let seen: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.iter().all(|s| s == &seen[0]), "{seen:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), seen[0]);
    }
}
