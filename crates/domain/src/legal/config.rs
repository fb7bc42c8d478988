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

/// Limits of the service, validated when built: expiries within (0, 7 days], a positive size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceConfig {
    max_file_size: u64,
    upload_url_expiry: Duration,
    download_url_expiry: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            upload_url_expiry: DEFAULT_UPLOAD_URL_EXPIRY,
            download_url_expiry: DEFAULT_DOWNLOAD_URL_EXPIRY,
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
        if max_file_size == 0 {
            return Err(ServiceError::invalid("max_file_size", "must be positive"));
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
        })
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
    }
}
