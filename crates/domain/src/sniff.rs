//! Content types told by the leading bytes: the same answer on every machine.
//!
//! Signatures come from the `infer` crate (MIT; compiled in, no database read at run time), plus
//! what it does not know and law firms exchange: Outlook PST/OST stores, e-mail messages
//! (RFC 5322) and mbox files, and plain text. A container's signature is also the signature of
//! the formats built on it: a ZIP for DOCX/XLSX/PPTX/ODF/EPUB, an OLE compound file for
//! DOC/XLS/PPT/MSG (from the first 8 KiB, `infer` often cannot open the compound file to tell
//! which). ADR 0010 says why not the freedesktop database.

/// OLE2 compound files (DOC, XLS, PPT, MSG, MSI, ...), when the specific kind is not told.
pub const OLE_STORAGE: &str = "application/x-ole-storage";

/// Outlook personal folders (PST, OST): `!BDN`.
pub const OUTLOOK_PST: &str = "application/vnd.ms-outlook-pst";

/// Types that are the same type under two names.
const ALIASES: &[(&str, &str)] = &[
    ("audio/x-wav", "audio/wav"),
    ("audio/vnd.wave", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/mp3", "audio/mpeg"),
    ("image/jpg", "image/jpeg"),
    ("image/heic", "image/heif"),
    ("image/heic-sequence", "image/heif"),
    ("application/x-zip-compressed", "application/zip"),
    ("application/x-pdf", "application/pdf"),
    ("text/xml", "application/xml"),
    ("application/x-7z", "application/x-7z-compressed"),
    ("application/x-mbox", "application/mbox"),
    ("audio/x-m4a", "audio/m4a"),
];

/// Formats whose files are ZIP archives.
const ZIP_FAMILY: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "application/java-archive",
    "application/vnd.android.package-archive",
];

/// Formats whose files are OLE2 compound files.
const OLE_FAMILY: &[&str] = &[
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.ms-outlook",
    "application/x-msi",
];

/// Formats that are text: any text confirms them (a CSV has no signature).
const TEXT_FAMILY: &[&str] = &[
    "text/",
    "message/rfc822",
    "application/mbox",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/rtf",
];

/// `mime` without parameters, lowercase, under its canonical name.
pub fn canonical(mime: &str) -> String {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or(mime)
        .trim()
        .to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == essence)
        .map_or(essence, |(_, name)| (*name).to_owned())
}

/// The type the leading bytes tell, if they tell one.
pub fn sniff(bytes: &[u8]) -> Option<String> {
    if bytes.is_empty() {
        return None;
    }
    // `infer` slices by offsets it read from the bytes: a hostile prefix must not panic a
    // request.
    let inferred = std::panic::catch_unwind(|| infer::get(bytes).map(|t| t.mime_type()))
        .ok()
        .flatten();
    if let Some(mime) = inferred {
        return Some(canonical(mime));
    }
    if bytes.starts_with(b"!BDN") {
        return Some(OUTLOOK_PST.to_owned());
    }
    text_type(bytes)
}

/// Whether `bytes` carry the signature of `claimed`: they sniff as it (under any of its names),
/// as a more specific format of it (DOCX bytes for a ZIP), or as the container it is built on
/// (a ZIP for a DOCX, an OLE file for a DOC or MSG), or as text for a text format.
pub fn matches(claimed: &str, bytes: &[u8]) -> bool {
    let claim = canonical(claimed);
    let Some(sniffed) = sniff(bytes) else {
        return false;
    };
    if sniffed == claim {
        return true;
    }
    let zip = |m: &str| m == "application/zip" || ZIP_FAMILY.contains(&m);
    let ole = |m: &str| m == OLE_STORAGE || OLE_FAMILY.contains(&m);
    let text = |m: &str| TEXT_FAMILY.iter().any(|t| m.starts_with(t));
    match (claim.as_str(), sniffed.as_str()) {
        ("application/zip", s) => zip(s),
        (c, "application/zip") => ZIP_FAMILY.contains(&c),
        (c, OLE_STORAGE) => OLE_FAMILY.contains(&c),
        (c, s) if ole(c) && ole(s) => c == OLE_STORAGE,
        (c, s) => text(c) && text(s),
    }
}

/// Text, and which text: an e-mail message, an mbox, or plain text. Text is valid UTF-8 (a
/// character cut at the end of the sample allowed) without NUL or other control characters
/// than tab, line feed, form feed and carriage return.
fn text_type(bytes: &[u8]) -> Option<String> {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() && bytes.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    if valid
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\x0c' | '\r'))
    {
        return None;
    }
    if valid.starts_with("From ") {
        return Some("application/mbox".to_owned());
    }
    if looks_like_message(valid) {
        return Some("message/rfc822".to_owned());
    }
    Some("text/plain".to_owned())
}

/// An RFC 5322 message: it opens with header fields, among them at least two a message has.
fn looks_like_message(text: &str) -> bool {
    const FIELDS: &[&str] = &[
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "received",
        "return-path",
        "mime-version",
        "delivered-to",
        "cc",
        "reply-to",
    ];
    let mut known = 0;
    for line in text.lines().take(40) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return false;
        }
        if FIELDS.contains(&name.to_ascii_lowercase().as_str()) {
            known += 1;
        }
    }
    known >= 2
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A ZIP whose first entry is `name` (enough for the signatures of ZIP and OOXML).
    fn zip_with(name: &str) -> Vec<u8> {
        let mut b = b"PK\x03\x04".to_vec();
        b.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&[0; 64]);
        b
    }

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0x18];
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(brand);
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(brand);
        b.extend_from_slice(b"mif1");
        b.extend_from_slice(&[0; 32]);
        b
    }

    /// #22: the formats firms exchange, told the same on every machine (no database is read).
    #[test]
    fn the_formats_firms_exchange() {
        let ole = {
            let mut b = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
            b.extend_from_slice(&[0; 504]);
            b
        };
        let mut wav = b"RIFF\x24\x08\x00\x00WAVEfmt ".to_vec();
        wav.extend_from_slice(&[0x10, 0, 0, 0, 1, 0, 1, 0, 0x44, 0xAC, 0, 0]);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(), "application/pdf"),
            (
                "DOCX",
                zip_with("word/document.xml"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            (
                "XLSX",
                zip_with("xl/workbook.xml"),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                "PPTX",
                zip_with("ppt/presentation.xml"),
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ),
            ("DOC, XLS, MSG (OLE2)", ole.clone(), OLE_STORAGE),
            ("PST", b"!BDN\x00\x00\x00\x00SM".to_vec(), OUTLOOK_PST),
            (
                "EML",
                b"Return-Path: <a@firm.example>\r\nFrom: A <a@firm.example>\r\nTo: b@firm.example\r\nSubject: Discovery\r\n\r\nBody"
                    .to_vec(),
                "message/rfc822",
            ),
            (
                "MBOX",
                b"From a@firm.example Mon Jan  1 00:00:00 2024\nFrom: a@firm.example\n".to_vec(),
                "application/mbox",
            ),
            ("TIFF", b"II*\x00\x08\x00\x00\x00\x00\x00".to_vec(), "image/tiff"),
            ("JPEG", b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec(), "image/jpeg"),
            ("PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(), "image/png"),
            ("HEIC", ftyp(b"heic"), "image/heif"),
            ("ZIP", zip_with("notes.txt"), "application/zip"),
            (
                "7z",
                b"7z\xBC\xAF\x27\x1C\x00\x04\x00\x00\x00\x00".to_vec(),
                "application/x-7z-compressed",
            ),
            ("TXT", "Témoignage du 3 mars\n".as_bytes().to_vec(), "text/plain"),
            ("CSV", b"bates,custodian,date\nDOE0001,Doe,2024-01-01\n".to_vec(), "text/plain"),
            (
                "HTML",
                b"<!DOCTYPE html><html><body>x</body></html>".to_vec(),
                "text/html",
            ),
            ("XML", b"<?xml version=\"1.0\"?><a/>".to_vec(), "application/xml"),
            ("MP3", b"ID3\x03\x00\x00\x00\x00\x00\x00".to_vec(), "audio/mpeg"),
            ("MP4", ftyp(b"isom"), "video/mp4"),
            ("WAV", wav, "audio/wav"),
        ];
        for (what, bytes, expected) in cases {
            assert_eq!(sniff(&bytes).as_deref(), Some(expected), "{what}");
            assert!(matches(expected, &bytes), "{what} matches its own type");
        }
    }

    #[test]
    fn containers_confirm_what_is_built_on_them_and_nothing_else() {
        let docx = zip_with("word/document.xml");
        let plain_zip = zip_with("a.txt");
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0];
        assert!(matches("application/zip", &docx), "DOCX bytes are a ZIP");
        assert!(
            matches(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                &plain_zip
            ),
            "a DOCX is a ZIP: its signature is there"
        );
        assert!(matches("application/msword", &ole));
        assert!(matches("application/vnd.ms-outlook", &ole));
        assert!(!matches("application/pdf", &plain_zip));
        assert!(!matches("application/msword", &plain_zip));
        assert!(!matches("application/zip", &ole));
        assert!(
            matches("text/csv", b"a,b\n1,2\n"),
            "text confirms a text format"
        );
        assert!(!matches("text/csv", &ole));
        assert!(!matches("application/pdf", b"just text"));
        assert!(
            matches("audio/x-wav", b"RIFF\x24\x08\x00\x00WAVEfmt "),
            "an alias"
        );
        assert_eq!(sniff(b""), None);
        assert_eq!(
            sniff(&[0, 1, 2, 3, 0xff]),
            None,
            "binary without a signature"
        );
        // A UTF-8 character cut by the end of the sample is still text.
        let cut = "caf\u{e9}".as_bytes();
        assert_eq!(sniff(&cut[..cut.len() - 1]).as_deref(), Some("text/plain"));
    }

    #[test]
    fn hostile_prefixes_do_not_panic() {
        for len in 0..64 {
            let _ = sniff(&b"PK\x03\x04[Content_Types].xml"[..len.min(23)]);
            let mut b = b"PK\x03\x04".to_vec();
            b.resize(len + 4, 0xff);
            let _ = sniff(&b);
            let mut o = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
            o.resize(len + 8, 0xff);
            let _ = sniff(&o);
        }
    }
}
