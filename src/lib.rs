//! Bevara keeps public authorities' social-media channels as archival records.
//!
//! It drives headless Chromium through each registered channel, dismisses
//! dialogs, scrolls the feed, expands every comment, reply and "see more",
//! and stores a full-page screenshot, a PDF, an MHTML snapshot and the page's
//! text with a manifest of SHA-256 checksums in object storage.
//!
//! The modules follow the archive's words:
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | one settings struct: defaults < `bevara.toml` < `BEVARA_*` env < flags |
//! | [`registry`] | channels (the *förteckning*) |
//! | [`schedule`] | schedule files in `schedules/`: cron, time zone, channel selection; fire times across daylight-saving changes; debate windows; missed fires |
//! | [`db`] | one repository trait over SQLite and Postgres: register, captures, items, jobs, fires, debates |
//! | [`queue`] | capture jobs: triggers, priorities, leases, retries |
//! | [`browser`] | launching Chromium, one fresh context per capture |
//! | [`behaviour`] | dismissing dialogs, scrolling, clicking expanders |
//! | [`capture`] | the pipeline for one channel: screenshots, PDF, MHTML, text, manifest |
//! | [`store`] | object storage (a local directory by default, or S3) and the spool captures wait in until stored |
//! | [`archive`] | retrieval and fixity verification of snapshots |
//! | [`worker`] | `bevara worker`: the scheduler, claiming jobs with leases, draining, metrics |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bevara::{config::Settings, Bevara};
//! let bevara = Bevara::open(Settings::default()).await?;
//! for channel in bevara.db().list_channels().await? {
//!     println!("{} {}", channel.id, channel.url);
//! }
//! # Ok(()) }
//! ```

pub mod archive;
pub mod behaviour;
pub mod bench;
pub mod browser;
pub mod capture;
pub mod config;
pub mod db;
pub mod demo;
pub mod exit;
pub mod export;
pub mod queue;
pub mod registry;
pub mod retention;
pub mod schedule;
pub mod session;
pub mod store;
pub mod target;
pub mod timestamp;
pub mod web;
pub mod worker;

pub use capture::{CaptureError, CaptureOutcome, Trigger};
pub use config::Settings;
pub use db::Db;
pub use exit::ExitCode;
pub use registry::{Channel, ChannelId, Platform};
pub use store::{LocalStore, ObjectStore};

use std::sync::Arc;

/// An opened Bevara installation: its settings, database and object store.
#[derive(Clone)]
pub struct Bevara {
    settings: Arc<Settings>,
    profiles: Arc<behaviour::Profiles>,
    db: Db,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Bevara {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bevara")
            .field("db", &self.db.backend())
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

/// Opening the data directory, database or store failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Profile(#[from] behaviour::ProfileError),
}

impl Bevara {
    /// Opens (creating if needed) the data directory, the database and the
    /// object store the settings name.
    pub async fn open(settings: Settings) -> Result<Self, OpenError> {
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| OpenError::DataDir {
            path: settings.data_dir.clone(),
            source,
        })?;
        let db = Db::open(&settings.database_url()).await?;
        let store: Arc<dyn ObjectStore> = Arc::from(store::open(&settings).await?);
        let dir = (!settings.profiles_dir.is_empty())
            .then(|| std::path::Path::new(&settings.profiles_dir));
        let profiles = Arc::new(behaviour::Profiles::load(dir)?);
        Ok(Self {
            settings: Arc::new(settings),
            profiles,
            db,
            store,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings of this handle, changed for it alone (the handle's
    /// clones made before keep theirs).
    pub fn settings_mut(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.settings)
    }

    /// The behaviour profiles: built-in, with the profiles directory's overrides.
    pub fn profiles(&self) -> &behaviour::Profiles {
        &self.profiles
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn store(&self) -> &dyn ObjectStore {
        self.store.as_ref()
    }

    /// Checks that the store can do what the settings ask: run by commands
    /// that capture, before the first capture. Retention asked for of a
    /// store that cannot lock objects is an error here, not after a capture.
    pub async fn check_store(&self) -> Result<(), store::StoreError> {
        let asked = self.settings.store.object_lock_days > 0
            || self
                .db
                .list_channels()
                .await
                .map(|cs| cs.iter().any(|c| c.retain_days.unwrap_or(0) > 0))
                .unwrap_or(false);
        self.store.check(asked).await
    }
}
