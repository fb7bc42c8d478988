//! Which MIME type a verified file is recorded with, and which declared types its bytes refuse.

use crate::content;
use crate::storage::ObjectKey;

/// MIME types of native executables: content sniffed as one of these never passes as anything
/// else.
const EXECUTABLES: &[&str] = &[
    "application/x-executable",
    "application/x-pie-executable",
    "application/x-sharedlib",
    "application/x-mach-binary",
    "application/x-msdownload",
    "application/x-dosexec",
    "application/vnd.microsoft.portable-executable",
    "application/x-elf",
];

/// Declared types whose files always start with a recognisable signature: the sniffed type must
/// be the declared one.
const SIGNED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
];

/// Whether the type sniffed from the first bytes contradicts the declared one: an executable
/// declared as anything but an executable, or a signature type (PDF, PNG, ...) whose signature
/// is not there. Other combinations are not judged: sniffing is a heuristic.
pub fn mime_contradicts(declared: &str, sniffed: Option<&str>) -> bool {
    let declared = crate::sniff::canonical(declared);
    if let Some(sniffed) = sniffed
        && EXECUTABLES.contains(&sniffed)
        && !EXECUTABLES.contains(&declared.as_str())
    {
        return true;
    }
    SIGNED_TYPES.contains(&declared.as_str()) && sniffed != Some(declared.as_str())
}

/// Types that describe how a request was sent, never a file's content (curl's default for
/// `--data-binary` is the first).
const TRANSFER_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/",
    "message/",
];

fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or(mime)
        .trim()
        .to_ascii_lowercase()
}

/// The type recorded for a verified file: detection decides, and a client's `claimed` type is
/// kept only when it is consistent with the bytes.
///
/// - A transfer type (`application/x-www-form-urlencoded`, `multipart/*`, `message/*`) never
///   describes a file: it is replaced by what the bytes or the file name tell.
/// - The claim is kept when the bytes confirm it (the sniffed type, or the claim's own signature
///   in the MIME database), when the bytes tell nothing specific (no signature, `text/plain`),
///   or when the file name's extension says the same (`report.docx` sniffed as a ZIP container).
/// - Otherwise the sniffed type is recorded.
///
/// Contradictions that refuse the upload (see [`mime_contradicts`]) are judged before this.
pub fn settled_mime_type(claimed: &str, file_name: &str, first_bytes: &[u8]) -> String {
    let claim = essence(claimed);
    let sniffed = content::content_type_from_bytes(first_bytes);
    let by_name = ObjectKey::new(format!("x/{file_name}"))
        .ok()
        .and_then(|k| content::content_type_from_extension(&k));
    let specific = sniffed.clone().filter(|s| s != "text/plain");
    if TRANSFER_TYPES.iter().any(|t| claim.starts_with(t)) {
        return specific
            .or(by_name)
            .or(sniffed)
            .unwrap_or_else(|| content::OCTET_STREAM.to_owned());
    }
    let Some(specific) = specific else {
        return claimed.to_owned();
    };
    let confirmed = specific == claim
        || content::bytes_match_type(&claim, first_bytes)
        || by_name.as_deref().is_some_and(|n| essence(n) == claim);
    if confirmed {
        claimed.to_owned()
    } else {
        specific
    }
}
