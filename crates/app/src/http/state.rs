//! What every handler shares.

use super::*;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The service.
    pub service: LegalFileService,
    /// The store (health).
    pub storage: Arc<dyn ObjectStorage>,
    /// The repository (health).
    pub repository: Arc<dyn casefile_domain::legal::CaseRepository>,
    /// The local store whose presigned URLs this server honours.
    pub local: Option<crate::wiring::LocalStore>,
    /// The signer of the audit log's checkpoints.
    pub checkpoints: Arc<casefile_domain::legal::audit_log::CheckpointSigner>,
    /// How bearer tokens are checked.
    pub auth: Authenticator,
    /// The profiles (name, e-mail) last kept per user, so that they are written only when they
    /// change.
    pub profiles: Profiles,
    /// The public base URL (to rebuild presigned URLs for verification).
    pub public_url: String,
    /// How long a streamed upload body may send nothing before the request is abandoned.
    pub body_idle_timeout: std::time::Duration,
    /// Slots for streamed uploads and downloads.
    pub streams: crate::limits::StreamSlots,
    /// The least an upload body must send.
    pub upload_rate: crate::limits::MinUploadRate,
    /// Origins allowed to call the API from a browser (CORS); empty: none.
    pub cors_allowed_origins: Vec<String>,
    /// What the page needs to sign in at the identity provider (`/ui/config.json`), if it can.
    pub web_sign_in: Option<crate::web::WebSignIn>,
}

/// The profiles last kept, per user (bounded: cleared when it reaches 10,000 users).
#[derive(Clone, Default)]
pub struct Profiles(
    Arc<std::sync::Mutex<std::collections::HashMap<UserId, casefile_domain::legal::UserProfile>>>,
);

impl Profiles {
    /// Whether `profile` differs from what was last kept for `user` (and notes it as kept).
    pub(super) fn changed(
        &self,
        user: UserId,
        profile: &casefile_domain::legal::UserProfile,
    ) -> bool {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(&user) == Some(profile) {
            return false;
        }
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(user, profile.clone());
        true
    }

    pub(super) fn forget(&self, user: UserId) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&user);
    }
}
