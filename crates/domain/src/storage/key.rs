//! [`ObjectKey`]: the validated name of an object in a store.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StorageError;

/// The longest key accepted, in bytes of UTF-8 (the limit of S3, Azure and GCS alike).
pub const MAX_KEY_BYTES: usize = 1024;

/// The validated name of an object, `/`-separated, relative to the store's root.
///
/// Every key that reaches an adapter has passed these rules, so no adapter needs to re-check
/// them and no key can escape a local root or confuse a cloud's path handling:
///
/// - not empty, and at most [`MAX_KEY_BYTES`] bytes of UTF-8;
/// - relative: no leading `/`; and no trailing `/` (objects are not directories);
/// - no empty segment (`a//b`), and no `.` or `..` segment;
/// - no backslash (`\` is a separator on Windows: `..\x`, `C:\x`);
/// - no control character: NUL, C0 (`\t`, `\r`, `\n`, ...), DEL and C1.
///
/// Everything else is allowed, including spaces, `#`, `?`, `%`, `+`, `=`, `&`, non-ASCII letters
/// and emoji: adapters encode keys for their wire format. A key is compared and ordered by its
/// bytes; it is never normalised (Unicode NFC and NFD spellings of a name are different keys).
///
/// ```
/// use casefile_domain::storage::ObjectKey;
/// let key = ObjectKey::new("cases/42/files/7f3c")?;
/// assert_eq!(key.file_name(), "7f3c");
/// assert!(ObjectKey::new("cases/../etc/passwd").is_err());
/// # Ok::<_, casefile_domain::StorageError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key` against the rules above.
    ///
    /// # Errors
    /// [`StorageError::InvalidKey`] naming the rule that `key` breaks.
    pub fn new(key: impl Into<String>) -> Result<Self, StorageError> {
        let key = key.into();
        match check(&key) {
            Ok(()) => Ok(Self(key)),
            Err(reason) => Err(StorageError::InvalidKey {
                key,
                reason: reason.to_owned(),
            }),
        }
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments of the key.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment of the key.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The key with one more validated segment (or several, `/`-separated) appended.
    ///
    /// # Errors
    /// [`StorageError::InvalidKey`] when the result breaks a rule.
    pub fn join(&self, child: &str) -> Result<Self, StorageError> {
        Self::new(format!("{}/{child}", self.0))
    }

    /// Whether this key lies under `prefix` taken as a directory: `a/b/c` is under `a/b`, but
    /// `a/bc` is not. A key is not under itself.
    pub fn is_under(&self, prefix: &ObjectKey) -> bool {
        self.0.len() > prefix.0.len()
            && self.0.starts_with(prefix.as_str())
            && self.0.as_bytes()[prefix.0.len()] == b'/'
    }
}

fn check(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("key is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err("key is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Err("key must be relative (no leading '/')");
    }
    if key.ends_with('/') {
        return Err("key must not end with '/'");
    }
    if key.contains('\\') {
        return Err("key must not contain a backslash");
    }
    if key.chars().any(char::is_control) {
        return Err("key must not contain control characters");
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err("key must not contain an empty segment ('//')"),
            "." | ".." => return Err("key must not contain '.' or '..' segments"),
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ObjectKey {
    type Err = StorageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = StorageError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = StorageError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unusual_but_safe_keys() {
        for ok in [
            "a",
            "cases/1/files/2",
            "with space/and#hash?q=1&x+y%41",
            "ünïcödé/日本語/😀.txt",
            "C:",
            "...",
            ".hidden",
            "a.b/..c/d..",
            &"x".repeat(MAX_KEY_BYTES),
        ] {
            assert_eq!(
                ObjectKey::new(ok).map(|k| k.to_string()).ok().as_deref(),
                Some(ok)
            );
        }
    }

    #[test]
    fn rejects_each_rule_with_its_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("/etc/passwd", "relative"),
            ("a/", "end with"),
            ("a//b", "empty segment"),
            (".", "'.' or '..'"),
            ("..", "'.' or '..'"),
            ("../x", "'.' or '..'"),
            ("a/../../x", "'.' or '..'"),
            ("./x", "'.' or '..'"),
            ("a/./b", "'.' or '..'"),
            ("C:\\x", "backslash"),
            ("..\\..\\x", "backslash"),
            ("a\0b", "control"),
            ("a\rb", "control"),
            ("a\nb", "control"),
            ("a\tb", "control"),
            ("a\u{7f}b", "control"),
            ("a\u{85}b", "control"),
        ];
        for (bad, why) in cases {
            match ObjectKey::new(*bad) {
                Err(StorageError::InvalidKey { key, reason }) => {
                    assert_eq!(&key, bad);
                    assert!(reason.contains(why), "{bad:?}: {reason}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            ObjectKey::new(long),
            Err(StorageError::InvalidKey { .. })
        ));
        // 1024 bytes of UTF-8, not 1024 characters.
        let long_utf8 = "é".repeat(MAX_KEY_BYTES / 2 + 1);
        assert!(ObjectKey::new(long_utf8).is_err());
    }

    #[test]
    fn directory_prefix_is_segment_wise() {
        let prefix = ObjectKey::new("a/b").unwrap();
        assert!(ObjectKey::new("a/b/c").unwrap().is_under(&prefix));
        assert!(!ObjectKey::new("a/bc").unwrap().is_under(&prefix));
        assert!(!ObjectKey::new("a/b").unwrap().is_under(&prefix));
        assert_eq!(prefix.join("c/d").unwrap().as_str(), "a/b/c/d");
        assert!(prefix.join("../x").is_err());
    }
}
