//! Signing and verification of the local stores' presigned URLs.

use std::time::Duration;

use casefile_domain::Sha256;
use casefile_domain::storage::{
    ObjectKey, ObjectStorage, PresignDownloadRequest, PresignUploadRequest, UploadMethod,
};
use casefile_storage_local::{FsStorage, GrantMethod, MemoryStorage, SignatureError, UrlSigner};
use chrono::{TimeZone, Utc};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn signer() -> UrlSigner {
    UrlSigner::new("https://files.example.test/v1/blobs", SECRET.to_vec()).unwrap()
}

fn upload_request() -> PresignUploadRequest {
    PresignUploadRequest {
        content_type: "application/pdf".into(),
        expires_in: Duration::from_secs(900),
        max_size: 1_000_000,
        sha256: Some(Sha256::digest(b"content")),
    }
}

#[test]
fn upload_url_verifies_and_carries_its_bounds() {
    let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    let key = ObjectKey::new("cases/7/files/ä b#c?d%.pdf").unwrap();
    let presigned = signer().sign_upload(&key, &upload_request(), now).unwrap();
    assert_eq!(presigned.method, UploadMethod::Put);
    assert_eq!(
        presigned.headers.get("content-type").map(String::as_str),
        Some("application/pdf")
    );
    assert_eq!(presigned.expires_at, now + chrono::Duration::seconds(900));
    assert!(
        presigned
            .url
            .starts_with("https://files.example.test/v1/blobs/cases/7/files/")
    );
    let grant = signer().verify("PUT", &presigned.url, now).unwrap();
    assert_eq!(grant.method, GrantMethod::Put);
    assert_eq!(grant.key, key);
    assert_eq!(grant.max_size, Some(1_000_000));
    assert_eq!(grant.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(grant.sha256, Some(Sha256::digest(b"content")));
    // Valid until the last second before expiry, not at it.
    let last = presigned.expires_at - chrono::Duration::seconds(1);
    assert!(signer().verify("PUT", &presigned.url, last).is_ok());
    assert_eq!(
        signer().verify("PUT", &presigned.url, presigned.expires_at),
        Err(SignatureError::Expired {
            at: presigned.expires_at
        })
    );
}

#[test]
fn tampered_foreign_and_misused_urls_are_refused() {
    let now = Utc::now();
    let key = ObjectKey::new("cases/7/files/abc").unwrap();
    let url = signer()
        .sign_upload(&key, &upload_request(), now)
        .unwrap()
        .url;

    let other_key = url.replace("/files/abc", "/files/abd");
    assert_eq!(
        signer().verify("PUT", &other_key, now),
        Err(SignatureError::BadSignature)
    );
    let bigger = url.replace("cf-max-size=1000000", "cf-max-size=9000000");
    assert_ne!(bigger, url);
    assert_eq!(
        signer().verify("PUT", &bigger, now),
        Err(SignatureError::BadSignature)
    );
    let later = url.replace("cf-expires=", "cf-expires=9");
    assert_eq!(
        signer().verify("PUT", &later, now),
        Err(SignatureError::BadSignature)
    );

    let foreign = UrlSigner::new("https://files.example.test/v1/blobs", vec![7u8; 32]).unwrap();
    assert_eq!(
        foreign.verify("PUT", &url, now),
        Err(SignatureError::BadSignature)
    );

    assert_eq!(
        signer().verify("GET", &url, now),
        Err(SignatureError::WrongMethod {
            allowed: GrantMethod::Put
        })
    );
    let elsewhere = url.replace("files.example.test", "evil.example.test");
    assert!(matches!(
        signer().verify("PUT", &elsewhere, now),
        Err(SignatureError::Malformed(_))
    ));
    // A `..` (literal or %2E%2E) is resolved by URL parsing, to another key: the signature fails.
    // An encoded slash decodes to a `..` segment inside the key, which is no key at all.
    let traversal = url.replace("cases/7/files/abc", "cases/7/../../etc/passwd");
    assert_eq!(
        signer().verify("PUT", &traversal, now),
        Err(SignatureError::BadSignature)
    );
    let dots = url.replace("cases/7/files/abc", "cases/7/%2E%2E/%2E%2E/etc/passwd");
    assert_eq!(
        signer().verify("PUT", &dots, now),
        Err(SignatureError::BadSignature)
    );
    let slash = url.replace("cases/7/files/abc", "cases/7/files%2F..%2F..%2Fetc");
    assert!(matches!(
        signer().verify("PUT", &slash, now),
        Err(SignatureError::Malformed(_))
    ));
    let unsigned = url.split("&cf-signature").next().unwrap().to_owned();
    assert!(matches!(
        signer().verify("PUT", &unsigned, now),
        Err(SignatureError::Malformed(_))
    ));
    let extra = format!("{url}&cf-extra=1");
    assert!(matches!(
        signer().verify("PUT", &extra, now),
        Err(SignatureError::Malformed(_))
    ));
}

#[test]
fn download_url_carries_the_file_name_and_expires() {
    let now = Utc::now();
    let key = ObjectKey::new("cases/1/files/f").unwrap();
    let request = PresignDownloadRequest {
        expires_in: Duration::from_secs(60),
        file_name: Some("Exhibit A – «final».pdf".into()),
    };
    let presigned = signer().sign_download(&key, &request, now).unwrap();
    let grant = signer().verify("GET", &presigned.url, now).unwrap();
    assert_eq!(grant.method, GrantMethod::Get);
    assert_eq!(grant.file_name.as_deref(), Some("Exhibit A – «final».pdf"));
    assert_eq!(grant.max_size, None);
    assert!(matches!(
        signer().verify("GET", &presigned.url, now + chrono::Duration::seconds(61)),
        Err(SignatureError::Expired { .. })
    ));
    assert!(matches!(
        signer().verify("PUT", &presigned.url, now),
        Err(SignatureError::WrongMethod {
            allowed: GrantMethod::Get
        })
    ));
    let bad_name = PresignDownloadRequest {
        file_name: Some("a\r\nb".into()),
        ..request
    };
    assert!(signer().sign_download(&key, &bad_name, now).is_err());
}

#[test]
fn signer_configuration_is_checked() {
    assert!(
        UrlSigner::new("https://x.test/", vec![0u8; 31]).is_err(),
        "short secret"
    );
    assert!(UrlSigner::new("ftp://x.test/", SECRET.to_vec()).is_err());
    assert!(UrlSigner::new("not a url", SECRET.to_vec()).is_err());
    assert!(UrlSigner::new("https://x.test/?q=1", SECRET.to_vec()).is_err());
    assert!(
        !format!("{:?}", signer()).contains("0123456789"),
        "secret never printed"
    );
}

#[tokio::test]
async fn stores_sign_with_their_configured_signer() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStorage::new(dir.path())
        .unwrap()
        .with_url_signer(signer());
    let memory = MemoryStorage::new().with_url_signer(signer());
    let key = ObjectKey::new("k").unwrap();
    for store in [&fs as &dyn ObjectStorage, &memory] {
        let up = store
            .presigned_upload(&key, upload_request())
            .await
            .unwrap();
        assert_eq!(
            signer().verify("PUT", &up.url, Utc::now()).unwrap().key,
            key
        );
        let down = store
            .presigned_download(
                &key,
                PresignDownloadRequest {
                    expires_in: Duration::from_secs(5),
                    file_name: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            signer()
                .verify("GET", &down.url, Utc::now())
                .unwrap()
                .method,
            GrantMethod::Get
        );
    }
}
