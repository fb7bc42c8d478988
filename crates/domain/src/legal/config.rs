//! Limits of the legal file service.

use std::time::Duration;

use crate::legal::{ServiceError, ServiceResult};
use crate::storage::MAX_PRESIGN_EXPIRY;

/// The default largest file: 100 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;
/// The default lifetime of an upload URL: 15 minutes.
pub const DEFAULT_UPLOAD_URL_EXPIRY: Duration = Duration::from_secs(15 * 60);
/// The default lifetime of a download URL: 5 minutes.
pub const DEFAULT_DOWNLOAD_URL_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// The largest `max_file_size` a service accepts: 5 TiB, the largest object S3 and Google Cloud
/// Storage store (and far below what an `i64` byte count in the database holds).
pub const MAX_FILE_SIZE_LIMIT: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// The default cap on open uploads per user, across cases.
pub const DEFAULT_MAX_OPEN_UPLOADS_PER_USER: u64 = 100;
/// The default cap on open uploads per case.
pub const DEFAULT_MAX_OPEN_UPLOADS_PER_CASE: u64 = 1_000;

/// Limits of the service, validated when built: expiries within (0, 7 days], a size within
/// (0, [`MAX_FILE_SIZE_LIMIT`]], positive caps on open uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceConfig {
    max_file_size: u64,
    upload_url_expiry: Duration,
    download_url_expiry: Duration,
    max_open_uploads_per_user: u64,
    max_open_uploads_per_case: u64,
    default_retention_days: u32,
    retention_mode: crate::storage::RetentionMode,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            upload_url_expiry: DEFAULT_UPLOAD_URL_EXPIRY,
            download_url_expiry: DEFAULT_DOWNLOAD_URL_EXPIRY,
            max_open_uploads_per_user: DEFAULT_MAX_OPEN_UPLOADS_PER_USER,
            max_open_uploads_per_case: DEFAULT_MAX_OPEN_UPLOADS_PER_CASE,
            default_retention_days: 0,
            retention_mode: crate::storage::RetentionMode::Governance,
        }
    }
}

impl ServiceConfig {
    /// Checked limits.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for a zero size or an expiry outside (0, 7 days].
    pub fn new(
        max_file_size: u64,
        upload_url_expiry: Duration,
        download_url_expiry: Duration,
    ) -> ServiceResult<Self> {
        if max_file_size == 0 || max_file_size > MAX_FILE_SIZE_LIMIT {
            return Err(ServiceError::invalid(
                "max_file_size",
                format!("must be within 1..={MAX_FILE_SIZE_LIMIT} bytes (5 TiB)"),
            ));
        }
        for (field, expiry) in [
            ("upload_url_expiry", upload_url_expiry),
            ("download_url_expiry", download_url_expiry),
        ] {
            if expiry.is_zero() || expiry > MAX_PRESIGN_EXPIRY {
                return Err(ServiceError::invalid(field, "must be within (0, 7 days]"));
            }
        }
        Ok(Self {
            max_file_size,
            upload_url_expiry,
            download_url_expiry,
            ..Self::default()
        })
    }

    /// These limits with other caps on open uploads (pending, their URL not yet expired): `per_user`
    /// across all cases, `per_case` by everyone.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for a zero cap.
    pub fn with_open_upload_caps(mut self, per_user: u64, per_case: u64) -> ServiceResult<Self> {
        for (field, cap) in [
            ("max_open_uploads_per_user", per_user),
            ("max_open_uploads_per_case", per_case),
        ] {
            if cap == 0 {
                return Err(ServiceError::invalid(field, "must be positive"));
            }
        }
        self.max_open_uploads_per_user = per_user;
        self.max_open_uploads_per_case = per_case;
        Ok(self)
    }

    /// New cases are retained this many days from their creation (0: no retention).
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] beyond 100 years (36,525 days).
    pub fn with_default_retention_days(mut self, days: u32) -> ServiceResult<Self> {
        if days > 36_525 {
            return Err(ServiceError::invalid(
                "default_retention_days",
                "at most 36525 (100 years)",
            ));
        }
        self.default_retention_days = days;
        Ok(self)
    }

    /// The mode of the retention dates set on a store that enforces them itself (default
    /// [`Governance`](crate::storage::RetentionMode::Governance)).
    pub fn with_retention_mode(mut self, mode: crate::storage::RetentionMode) -> Self {
        self.retention_mode = mode;
        self
    }

    /// The mode of retention dates set on the store.
    pub fn retention_mode(&self) -> crate::storage::RetentionMode {
        self.retention_mode
    }

    /// How many days new cases are retained (0: none).
    pub fn default_retention_days(&self) -> u32 {
        self.default_retention_days
    }

    /// The most uploads one user may have open at once, across cases.
    pub fn max_open_uploads_per_user(&self) -> u64 {
        self.max_open_uploads_per_user
    }

    /// The most uploads open at once in one case.
    pub fn max_open_uploads_per_case(&self) -> u64 {
        self.max_open_uploads_per_case
    }

    /// The largest file accepted, in bytes.
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// How long an upload URL stays valid (and a pending upload holds its path).
    pub fn upload_url_expiry(&self) -> Duration {
        self.upload_url_expiry
    }

    /// How long a download URL stays valid.
    pub fn download_url_expiry(&self) -> Duration {
        self.download_url_expiry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        let d = ServiceConfig::default();
        assert_eq!(d.max_file_size(), 100 * 1024 * 1024);
        assert_eq!(d.upload_url_expiry(), Duration::from_secs(900));
        assert_eq!(d.download_url_expiry(), Duration::from_secs(300));
        let week = MAX_PRESIGN_EXPIRY;
        assert!(ServiceConfig::new(1, week, week).is_ok());
        let over = week + Duration::from_secs(1);
        assert!(matches!(
            ServiceConfig::new(1, over, week),
            Err(ServiceError::InvalidInput {
                field: "upload_url_expiry",
                ..
            })
        ));
        assert!(matches!(
            ServiceConfig::new(1, week, over),
            Err(ServiceError::InvalidInput {
                field: "download_url_expiry",
                ..
            })
        ));
        assert!(ServiceConfig::new(1, Duration::ZERO, week).is_err());
        assert!(ServiceConfig::new(0, week, week).is_err());
        assert!(ServiceConfig::new(MAX_FILE_SIZE_LIMIT, week, week).is_ok());
        assert!(matches!(
            ServiceConfig::new(MAX_FILE_SIZE_LIMIT + 1, week, week),
            Err(ServiceError::InvalidInput {
                field: "max_file_size",
                ..
            })
        ));
        let capped = d.with_open_upload_caps(3, 5).unwrap();
        assert_eq!(
            (
                capped.max_open_uploads_per_user(),
                capped.max_open_uploads_per_case()
            ),
            (3, 5)
        );
        assert!(d.with_open_upload_caps(0, 5).is_err());
        assert!(d.with_open_upload_caps(3, 0).is_err());
    }
}
