//! Validated names that come from users: [`LogicalPath`] and [`FileName`].

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// The longest logical path, in bytes of UTF-8.
pub const MAX_LOGICAL_PATH_BYTES: usize = 1024;
/// The longest segment of a logical path (and the longest file name), in bytes of UTF-8.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// The most segments of a logical path.
pub const MAX_DEPTH: usize = 32;

/// Why a user-supplied name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidName {
    /// The rule broken.
    pub reason: &'static str,
}

const fn invalid(reason: &'static str) -> InvalidName {
    InvalidName { reason }
}

/// Characters that render as a slash, a backslash or dots without being them, and invisible
/// characters that reorder or hide text: refused so that a name shown to a person is the name
/// stored (`．．／` must not read as `../`, a right-to-left override (U+202E) must not reverse an extension).
fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{2215}' // division slash
            | '\u{2044}' // fraction slash
            | '\u{29F8}' // big solidus
            | '\u{FF0F}' // fullwidth solidus
            | '\u{FF3C}' // fullwidth reverse solidus
            | '\u{FE68}' // small reverse solidus
            | '\u{29F5}' // reverse solidus operator
            | '\u{2216}' // set minus
            | '\u{FF0E}' // fullwidth full stop
            | '\u{2024}' // one dot leader
            | '\u{2025}' // two dot leader
            | '\u{FE52}' // small full stop
            | '\u{200B}'..='\u{200F}' // zero-width and directional marks
            | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidirectional isolates
            | '\u{FEFF}' // zero-width no-break space
    )
}

/// Checks one segment (already NFC): shared by [`LogicalPath`] and [`FileName`].
fn check_segment(segment: &str) -> Result<(), InvalidName> {
    if segment.is_empty() {
        return Err(invalid("empty segment ('//', leading or trailing '/')"));
    }
    if segment == "." || segment == ".." {
        return Err(invalid("'.' and '..' segments are not allowed"));
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Err(invalid("a segment is longer than 255 bytes"));
    }
    if segment.chars().any(char::is_control) {
        return Err(invalid("control characters are not allowed"));
    }
    if segment.contains('\\') {
        return Err(invalid("backslashes are not allowed"));
    }
    if segment.chars().any(is_deceptive) {
        return Err(invalid(
            "look-alike slashes or dots and invisible characters are not allowed",
        ));
    }
    // Compatibility forms must not turn into separators or dot segments either.
    let compat: String = segment.nfkc().collect();
    if compat.contains('/') || compat.contains('\\') || compat == "." || compat == ".." {
        return Err(invalid(
            "characters that normalise to '/', '\\' or dot segments are not allowed",
        ));
    }
    Ok(())
}

/// Where a file sits in its case, as the user sees it: `pleadings/2024/motion.pdf`.
///
/// It lives in the database only; storage keys are generated, never derived from it.
/// Rules (after NFC normalisation, so `é` typed either way is the same path):
///
/// - `/`-separated, relative (no leading `/`), no trailing `/`, no empty segment;
/// - no `.` or `..` segment, no backslash, no control character;
/// - no look-alike of `/`, `\` or `.` (fullwidth `．／`, division slash, …), no invisible
///   directional or zero-width characters, and nothing that NFKC turns into `/`, `\` or a dot
///   segment;
/// - at most [`MAX_LOGICAL_PATH_BYTES`] bytes, [`MAX_SEGMENT_BYTES`] per segment and
///   [`MAX_DEPTH`] segments.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LogicalPath(String);

impl LogicalPath {
    /// Normalises `input` to NFC and validates it.
    ///
    /// # Errors
    /// [`InvalidName`] naming the rule broken.
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        let nfc: String = input.nfc().collect();
        if nfc.is_empty() {
            return Err(invalid("the path is empty"));
        }
        if nfc.len() > MAX_LOGICAL_PATH_BYTES {
            return Err(invalid("the path is longer than 1024 bytes"));
        }
        if nfc.starts_with('/') {
            return Err(invalid("the path must be relative (no leading '/')"));
        }
        let mut depth = 0;
        for segment in nfc.split('/') {
            check_segment(segment)?;
            depth += 1;
        }
        if depth > MAX_DEPTH {
            return Err(invalid("the path has more than 32 segments"));
        }
        Ok(Self(nfc))
    }

    /// The path as a string (NFC).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether this path lies under `prefix` taken as a folder (`a/b/c` under `a/b`, `a/bc` not).
    pub fn is_under(&self, prefix: &LogicalPath) -> bool {
        self.0.len() > prefix.0.len()
            && self.0.starts_with(prefix.as_str())
            && self.0.as_bytes()[prefix.0.len()] == b'/'
    }
}

impl fmt::Display for LogicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LogicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogicalPath({:?})", self.0)
    }
}

impl TryFrom<String> for LogicalPath {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<LogicalPath> for String {
    fn from(p: LogicalPath) -> Self {
        p.0
    }
}

/// A file name safe to show and to put in a `Content-Disposition` header: one segment of a
/// [`LogicalPath`] (same rules, NFC), with no `/` and no `"`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

impl FileName {
    /// Normalises `input` to NFC and validates it.
    ///
    /// # Errors
    /// [`InvalidName`] naming the rule broken.
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        let nfc: String = input.nfc().collect();
        if nfc.contains('/') {
            return Err(invalid("a file name cannot contain '/'"));
        }
        if nfc.contains('"') {
            return Err(invalid("a file name cannot contain '\"'"));
        }
        if nfc.is_empty() {
            return Err(invalid("the file name is empty"));
        }
        check_segment(&nfc)?;
        Ok(Self(nfc))
    }

    /// The name as a string (NFC).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A `Content-Disposition: attachment` value for this name (RFC 6266): an ASCII fallback in
    /// `filename=` and the exact name, percent-encoded UTF-8, in `filename*=`.
    pub fn content_disposition(&self) -> String {
        let fallback: String = self
            .0
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut encoded = String::with_capacity(self.0.len() * 3);
        for b in self.0.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileName({:?})", self.0)
    }
}

impl TryFrom<String> for FileName {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<FileName> for String {
    fn from(n: FileName) -> Self {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_are_kept() {
        for ok in [
            "motion.pdf",
            "pleadings/2024/Motion to Dismiss (final).pdf",
            "évidence/日本語/😀.png",
            "a/...",
            "C:",
            "x#y?z%20&+=.txt",
        ] {
            assert_eq!(
                LogicalPath::parse(ok).map(|p| p.to_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn traversal_and_tricks_are_refused() {
        let long_segment = "x".repeat(1000);
        let cases: Vec<(&str, &str)> = vec![
            ("../x", "'.' and '..'"),
            ("a/../../x", "'.' and '..'"),
            ("./x", "'.' and '..'"),
            ("/abs", "relative"),
            ("/etc/passwd", "relative"),
            ("C:\\x", "backslash"),
            ("a\\b", "backslash"),
            ("..\\..\\x", "backslash"),
            ("a\0b", "control"),
            ("a\rb", "control"),
            ("a\nb", "control"),
            ("a\u{85}b", "control"),
            ("．．／x", "look-alike"),
            ("．．/x", "look-alike"),
            ("a／b", "look-alike"),
            ("a\u{2215}b", "look-alike"),
            ("invoice\u{202E}fdp.exe", "look-alike"),
            ("a\u{200B}b", "look-alike"),
            ("\u{FE30}", "normalise"),
            (&long_segment, "255 bytes"),
            ("", "empty"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
        ];
        for (bad, why) in cases {
            match LogicalPath::parse(bad) {
                Err(e) => assert!(e.reason.contains(why), "{bad:?}: {}", e.reason),
                Ok(p) => panic!("{bad:?} accepted as {p:?}"),
            }
        }
        let too_long = vec!["abcdefgh"; 120].join("/");
        assert!(LogicalPath::parse(&too_long).is_err());
        let too_deep = vec!["a"; 33].join("/");
        assert!(LogicalPath::parse(&too_deep).is_err());
    }

    #[test]
    fn nfd_and_nfc_spellings_are_one_path() {
        let nfc = LogicalPath::parse("caf\u{e9}/r\u{e9}sum\u{e9}.pdf").unwrap();
        let nfd = LogicalPath::parse("cafe\u{301}/re\u{301}sume\u{301}.pdf").unwrap();
        assert_eq!(nfc, nfd);
        assert_eq!(nfd.as_str(), "caf\u{e9}/r\u{e9}sum\u{e9}.pdf");
    }

    #[test]
    fn folder_prefix() {
        let p = LogicalPath::parse("a/b/c.pdf").unwrap();
        assert!(p.is_under(&LogicalPath::parse("a/b").unwrap()));
        assert!(p.is_under(&LogicalPath::parse("a").unwrap()));
        assert!(!p.is_under(&LogicalPath::parse("a/b/c.pdf").unwrap()));
        assert!(
            !LogicalPath::parse("a/bc")
                .unwrap()
                .is_under(&LogicalPath::parse("a/b").unwrap())
        );
        assert_eq!(p.file_name(), "c.pdf");
    }

    #[test]
    fn file_names_and_content_disposition() {
        let name = FileName::parse("Exhibit A – «final».pdf").unwrap();
        assert_eq!(
            name.content_disposition(),
            "attachment; filename=\"Exhibit A _ _final_.pdf\"; \
             filename*=UTF-8''Exhibit%20A%20%E2%80%93%20%C2%ABfinal%C2%BB.pdf"
        );
        for bad in ["a/b", "a\"b", "", "..", "a\r\nSet-Cookie: x", "x\u{202E}"] {
            assert!(FileName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
