//! One typed settings struct, merged in one place from, lowest first:
//! built-in defaults, the `bevara.toml` file, `BEVARA_*` environment variables
//! and command-line flags.
//!
//! Every key has an environment variable named after its path: `data_dir` is
//! `BEVARA_DATA_DIR`, `capture.max_duration_secs` is
//! `BEVARA_CAPTURE_MAX_DURATION_SECS`. `bevara config --example` prints every
//! key with its variable.
//!
//! ```
//! use bevara::config::{Layers, Settings};
//! let env = [("BEVARA_DATA_DIR".to_string(), "/srv/bevara".to_string())];
//! let settings = Layers::default().env(env).resolve().unwrap();
//! assert_eq!(settings.data_dir, std::path::PathBuf::from("/srv/bevara"));
//! assert_eq!(settings.browser.viewport_width, Settings::default().browser.viewport_width);
//! ```

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Value;

/// Where the SQLite file and the local object directory live unless told otherwise.
pub const DEFAULT_DATA_DIR: &str = "./bevara-data";
/// The config file read from the working directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "bevara.toml";
/// Debian's Chromium.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// All of Bevara's settings. `Debug` prints them as `bevara config` does,
/// with secrets hidden.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Holds `bevara.sqlite` and the local object directory `objects/`.
    pub data_dir: PathBuf,
    /// Permit loopback, private and link-local targets (refused by default).
    pub allow_private_addresses: bool,
    /// A directory of `*.toml` behaviour profiles overriding or adding to the built-in ones.
    pub profiles_dir: String,
    /// The key (base64 or hex, 32 bytes) that encrypts channels' login sessions.
    pub session_key: String,
    /// A file holding the session key, instead of `session_key`.
    pub session_key_file: String,
    /// Where schedule files (`*.toml`) are read from.
    pub schedules_dir: PathBuf,
    pub database: DatabaseSettings,
    pub store: StoreSettings,
    pub network: NetworkSettings,
    pub browser: BrowserSettings,
    pub capture: CaptureSettings,
    pub recording: RecordingSettings,
    pub worker: WorkerSettings,
    pub web: WebSettings,
    pub log: LogSettings,
    pub export: ExportSettings,
    pub timestamp: TimestampSettings,
}

/// `[timestamp]`: RFC 3161 trusted timestamps of each stored manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimestampSettings {
    /// The time-stamping authority's address (RFC 3161 over HTTP). Empty: no timestamps.
    pub tsa_url: String,
    /// PEM certificates the TSA's chain must end in; `verify` checks tokens
    /// against them. Empty: tokens are checked against the manifest only.
    pub ca_file: String,
    /// Seconds a TSA has to answer.
    pub timeout_secs: u64,
}

impl Default for TimestampSettings {
    fn default() -> Self {
        Self {
            tsa_url: String::new(),
            ca_file: String::new(),
            timeout_secs: 30,
        }
    }
}

/// `[export]`: who delivers the packages to the e-archive, and the tools of
/// `export --renditions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportSettings {
    /// The authority, e.g. "Sala kommun" (empty: the channel's owner).
    pub authority: String,
    /// Its identification code, e.g. the organisation number "212000-2080".
    pub authority_id: String,
    /// The Ghostscript binary that makes the PDF/A-2b renditions.
    pub ghostscript_path: PathBuf,
    /// The sRGB ICC profile given to PDF/A renditions as their OutputIntent.
    pub icc_profile: PathBuf,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            authority: String::new(),
            authority_id: String::new(),
            ghostscript_path: PathBuf::from("gs"),
            icc_profile: PathBuf::from("/usr/share/color/icc/ghostscript/srgb.icc"),
        }
    }
}

/// `bevara serve`: the HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Address the API and the pages listen on.
    pub listen: String,
    /// The address people reach Bevara at, e.g. `https://bevara.kommun.se`;
    /// with `https` the session cookie is `Secure`. Empty: `http://` + listen.
    pub public_url: String,
    /// A file holding the key that signs session cookies (32 bytes or more,
    /// any text). Servers behind one address share it. Empty: a new random
    /// key at each start, so a restart signs everyone out.
    pub session_key_file: String,
    /// How long a sign-in lasts.
    pub session_hours: u32,
    /// The pages' language unless the visitor picks another: `sv` or `en`.
    pub lang: String,
    /// Sign-in with OpenID Connect (e.g. Entra ID); off while `issuer` is empty.
    pub oidc: OidcSettings,
}

/// `[web.oidc]`: people sign in at the organisation's identity provider,
/// and the values of one claim of their ID token give their role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer, e.g. `https://login.microsoftonline.com/TENANT/v2.0`.
    pub issuer: String,
    pub client_id: String,
    /// A file whose first line is the client secret.
    pub client_secret_file: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The ID token claim whose values name roles (a string or a list of
    /// them), e.g. `roles` (Entra ID app roles) or `groups`.
    pub role_claim: String,
    /// `VALUE=ROLE` pairs: a claim value and the role it gives (`viewer`,
    /// `archivist`, `admin`, `ops`). The highest role matched wins; a person
    /// whose claim matches none is refused.
    pub roles: Vec<String>,
    /// Bound on each request to the provider.
    pub timeout_secs: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            client_id: String::new(),
            client_secret_file: String::new(),
            scopes: vec!["email".into(), "profile".into()],
            role_claim: "roles".into(),
            roles: Vec::new(),
            timeout_secs: 10,
        }
    }
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            session_key_file: String::new(),
            session_hours: 8,
            lang: "sv".into(),
            oidc: OidcSettings::default(),
        }
    }
}

/// Which database holds the register, the captures and the queue.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Empty: the SQLite file in the data directory. `postgres://…` selects Postgres.
    pub url: String,
    /// A file whose first line is the URL (a mounted secret), used when `url` is empty.
    pub url_file: String,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url_password(&self.url))
            .field("url_file", &self.url_file)
            .finish()
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_redacted_toml())
    }
}

/// Where snapshots are stored: a local directory or an S3-compatible bucket,
/// with the local spool artifacts wait in until they are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Empty: `objects/` in the data directory. A directory or `file://PATH`:
    /// that directory. `s3://BUCKET/PREFIX`: an S3 bucket (the standard AWS
    /// settings apply: `AWS_ENDPOINT_URL`, `AWS_REGION`, keys, profiles, roles).
    pub url: String,
    /// The S3 endpoint, e.g. `https://s3.example.se` (empty: AWS, or `AWS_ENDPOINT_URL`).
    pub endpoint: String,
    /// The S3 region (empty: `AWS_REGION` or the profile's, else `us-east-1`).
    pub region: String,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`), which MinIO, Garage,
    /// Ceph and most servers that are not AWS need.
    pub path_style: bool,
    /// S3 access key id (empty: the standard AWS credential chain).
    pub access_key_id: String,
    /// S3 secret key; prefer `secret_access_key_file`.
    pub secret_access_key: String,
    /// A file holding the S3 secret key (its first line).
    pub secret_access_key_file: String,
    /// Days every object of a snapshot is kept under S3 Object Lock from the
    /// capture's time (0 = off); a channel's `--retain-days` overrides it.
    pub object_lock_days: u32,
    /// `compliance` (no one can shorten or remove it) or `governance`.
    pub object_lock_mode: String,
    /// Objects larger than this many MiB go by multipart upload in parts of this size (at least 5).
    pub multipart_part_mb: u64,
    /// Seconds to open a connection to the store.
    pub connect_timeout_secs: u64,
    /// Seconds one request (one PUT, one part) may take.
    pub request_timeout_secs: u64,
    /// Where captures' files wait until every object is stored (empty: `spool/` in the data directory).
    pub spool_dir: String,
    /// New captures are refused while the spool holds this many MiB (0 = no cap).
    pub spool_max_mb: u64,
    /// Seconds between the worker's first retries of pending uploads (doubling while the store refuses).
    pub sync_secs: u64,
    /// Longest wait between retries of pending uploads: how late a store
    /// that is back is noticed at most.
    pub sync_max_secs: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            endpoint: String::new(),
            region: String::new(),
            path_style: false,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            secret_access_key_file: String::new(),
            object_lock_days: 0,
            object_lock_mode: "compliance".into(),
            multipart_part_mb: 16,
            connect_timeout_secs: 5,
            request_timeout_secs: 120,
            spool_dir: String::new(),
            spool_max_mb: 20_480,
            sync_secs: 60,
            sync_max_secs: 600,
        }
    }
}

/// Where a capture's browser may connect, beyond public addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// CIDRs or host names allowed although not public (an authority's
    /// intranet), e.g. `["10.20.0.0/16", "intranet.sala.se"]`.
    pub allow: Vec<String>,
}

/// The worker: how many captures at a time, leases, retries, draining, its HTTP port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Captures run at the same time, each in its own browser context.
    pub concurrency: u32,
    /// Seconds a claimed job is leased; a heartbeat renews it every third of that.
    pub lease_secs: u64,
    /// Seconds between looks at the queue when nothing wakes the worker.
    pub poll_secs: u64,
    /// Seconds running captures may take to finish after SIGTERM before they are cancelled.
    pub drain_secs: u64,
    /// Chromium is restarted after this many captures (0 = never; it is always restarted when it dies).
    pub browser_recycle_after: u32,
    /// Attempts of a job before a retryable failure is final.
    pub max_attempts: u32,
    /// Backoff after the first failed attempt, doubling per attempt.
    pub retry_base_secs: u64,
    /// Longest backoff between attempts.
    pub retry_max_secs: u64,
    /// Run the scheduler in this worker (any number of workers may).
    pub scheduler: bool,
    /// Seconds between the scheduler's looks at the schedules.
    pub scheduler_tick_secs: u64,
    /// A fire missed by at most this many seconds (the worker was down) still runs, once.
    pub missed_grace_secs: u64,
    /// Address of `/healthz`, `/readyz` and `/metrics` (empty: none).
    pub listen: String,
    /// No job is claimed while the data directory's filesystem has less free
    /// space than this (MiB): a full disk pauses the worker, it does not fail jobs.
    pub min_free_mb: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            // One Chromium capture uses most of a 2-core machine.
            concurrency: 1,
            lease_secs: 120,
            poll_secs: 5,
            // Under Kubernetes' default grace period of 30 s less a margin
            // would cut most captures; pods should set a longer grace.
            drain_secs: 300,
            browser_recycle_after: 50,
            max_attempts: 3,
            retry_base_secs: 60,
            retry_max_secs: 3600,
            scheduler: true,
            scheduler_tick_secs: 5,
            missed_grace_secs: 6 * 3600,
            listen: "127.0.0.1:9464".into(),
            // A capture with its recording writes up to a few hundred MiB of work files.
            min_free_mb: 512,
        }
    }
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json` (one object per line, for log collectors).
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".into(),
        }
    }
}

/// The screen recording of the behaviour pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingSettings {
    /// Record the pass (a channel or `--no-recording` can still turn it off).
    pub enabled: bool,
    /// The ffmpeg binary.
    pub ffmpeg_path: PathBuf,
    /// `mp4` (H.264) or `mkv-ffv1` (lossless, for preservation; much larger).
    pub format: String,
    /// Frames per second of the video.
    pub fps: u32,
    /// JPEG quality of the screencast frames Chromium sends (1–100).
    pub jpeg_quality: u8,
    /// Seconds of title card (channel, URL, time, snapshot id) at the start.
    pub title_seconds: f64,
    /// The recording stops (with a warning) after this many seconds; the pass goes on.
    pub max_duration_secs: u64,
    /// A failed recording fails the whole capture instead of leaving a warning.
    pub required: bool,
    /// Pacing while recording: milliseconds per scroll step (one step is 0.8 viewport).
    pub step_ms: u64,
    /// Pacing while recording: milliseconds to dwell after expanders open.
    pub dwell_ms: u64,
}

impl Default for RecordingSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ffmpeg_path: PathBuf::from("ffmpeg"),
            format: "mp4".into(),
            fps: 25,
            jpeg_quality: 80,
            title_seconds: 3.0,
            max_duration_secs: 1800,
            required: false,
            // About one viewport per 1.5 s, a pace a person can follow.
            step_ms: 1200,
            dwell_ms: 600,
        }
    }
}

/// How Chromium is started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrowserSettings {
    pub chromium_path: PathBuf,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub locale: String,
    pub timezone: String,
    /// Seconds Chromium may take to start and answer on its DevTools socket.
    pub launch_timeout_secs: u64,
    /// Extra command-line switches for Chromium, e.g. `["--proxy-server=…"]`.
    pub extra_args: Vec<String>,
}

/// Budgets and knobs of one capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureSettings {
    /// Seconds the first response and the DOM may take; past it the capture fails.
    pub page_load_timeout_secs: u64,
    /// Seconds the whole capture may take: the page's pass, further comment
    /// pages, opened posts and the artifacts share this one deadline.
    pub max_duration_secs: u64,
    /// Seconds of `max_duration_secs` kept for the artifacts after the
    /// passes (at most a third of it): the passes stop this early.
    pub artifact_reserve_secs: u64,
    /// The pass stops growing the page beyond this height (CSS px), with a warning.
    pub max_page_height: u64,
    /// Expander clicks allowed in one capture.
    pub max_expander_clicks: u64,
    /// Scroll steps allowed in one capture.
    pub max_scroll_steps: u64,
    /// Height of one screenshot tile (CSS px); Chromium blanks single shots past ~86,000 px.
    pub tile_height: u32,
    /// Seconds each of screenshot, PDF and MHTML may take.
    pub artifact_timeout_secs: u64,
    /// Write a PDF of the capture.
    pub pdf: bool,
    /// Record the page's network traffic as WARC and package it as
    /// `capture.wacz`, for replay in ReplayWeb.page.
    pub wacz: bool,
    /// Response bodies larger than this many MiB are left out of the WACZ
    /// (named in the manifest's warnings).
    pub wacz_max_body_mb: u64,
    /// What the PDF is made from: `screenshots` (every screenshot of the
    /// capture, paged, with the whole text as a text layer: what the
    /// screenshots hold) or `print` (Chromium's print of the final DOM, with
    /// vector text; used only when the DOM still holds everything).
    pub pdf_from: String,
    /// Write an MHTML snapshot of the DOM.
    pub mhtml: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            allow_private_addresses: false,
            profiles_dir: String::new(),
            session_key: String::new(),
            session_key_file: String::new(),
            schedules_dir: PathBuf::from("./schedules"),
            database: DatabaseSettings::default(),
            store: StoreSettings::default(),
            network: NetworkSettings::default(),
            browser: BrowserSettings::default(),
            capture: CaptureSettings::default(),
            recording: RecordingSettings::default(),
            worker: WorkerSettings::default(),
            web: WebSettings::default(),
            export: ExportSettings::default(),
            timestamp: TimestampSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            chromium_path: PathBuf::from(DEFAULT_CHROMIUM),
            viewport_width: 1280,
            viewport_height: 900,
            locale: "sv-SE".into(),
            timezone: "Europe/Stockholm".into(),
            launch_timeout_secs: 30,
            extra_args: Vec::new(),
        }
    }
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            page_load_timeout_secs: 30,
            max_duration_secs: 600,
            artifact_reserve_secs: 90,
            max_page_height: 300_000,
            max_expander_clicks: 3_000,
            max_scroll_steps: 5_000,
            // 16,384 px clips were the fastest correct tiling measured (FACTS.md).
            tile_height: 16_384,
            artifact_timeout_secs: 300,
            pdf: true,
            wacz: false,
            wacz_max_body_mb: 50,
            pdf_from: "screenshots".into(),
            mhtml: true,
        }
    }
}

impl Settings {
    /// `database.url`, else the SQLite database inside the data directory.
    pub fn database_url(&self) -> String {
        if !self.database.url.is_empty() {
            return self.database.url.clone();
        }
        format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("bevara.sqlite").display()
        )
    }

    /// The egress guard's policy for captures.
    pub fn egress_policy(&self) -> crate::browser::guard::Policy {
        crate::browser::guard::Policy::new(self.allow_private_addresses, &self.network.allow)
            .unwrap_or_default()
    }

    /// The local object store's root.
    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    /// Encrypted login sessions, one file per channel.
    pub fn sessions_dir(&self) -> PathBuf {
        self.data_dir.join("sessions")
    }

    /// The session store: with its key when one is configured, else able only
    /// to tell whether a session exists and to remove it.
    pub fn session_store(
        &self,
    ) -> Result<crate::session::SessionStore, crate::session::SessionError> {
        let value = (!self.session_key.is_empty()).then_some(self.session_key.as_str());
        let file = (!self.session_key_file.is_empty()).then(|| Path::new(&self.session_key_file));
        if value.is_none() && file.is_none() {
            return Ok(crate::session::SessionStore::without_key(
                self.sessions_dir(),
            ));
        }
        let key = crate::session::SessionKey::load(value, file)?;
        Ok(crate::session::SessionStore::new(self.sessions_dir(), key))
    }

    /// Scratch space for artifacts before they are stored.
    pub fn work_dir(&self) -> PathBuf {
        self.data_dir.join("work")
    }

    /// Where captures' files wait until they are in the store.
    pub fn spool_dir(&self) -> PathBuf {
        if self.store.spool_dir.is_empty() {
            self.data_dir.join("spool")
        } else {
            PathBuf::from(&self.store.spool_dir)
        }
    }

    /// The settings as TOML with secret values replaced by `"<hidden>"`.
    pub fn to_redacted_toml(&self) -> String {
        let mut value = Value::try_from(self).unwrap_or(Value::Table(Default::default()));
        redact(&mut value);
        if let Some(Value::Table(db)) = value.get_mut("database") {
            if let Some(Value::String(url)) = db.get_mut("url") {
                *url = redact_url_password(url);
            }
        }
        toml::to_string_pretty(&value).unwrap_or_default()
    }
}

/// A URL with its password, if any, replaced by `hidden`.
pub fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("hidden"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // A file's path is not the secret it holds.
    if k.ends_with("_file") {
        return false;
    }
    k.contains("secret") || k.contains("password") || k.contains("token") || k.ends_with("_key")
}

fn redact(value: &mut Value) {
    if let Value::Table(table) = value {
        for (key, v) in table.iter_mut() {
            if is_secret_key(key) && !matches!(v, Value::Table(_)) {
                *v = Value::String("<hidden>".into());
            } else {
                redact(v);
            }
        }
    }
}

/// A settings error: which source and key was wrong, and how.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {var}={value:?} is not a valid {expected}")]
    Env {
        var: String,
        value: String,
        expected: &'static str,
    },
    #[error("invalid settings: {0}")]
    Invalid(String),
}

/// The sources of settings, merged by [`Layers::resolve`] in a fixed order.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    file: Option<(PathBuf, String)>,
    env: Vec<(String, String)>,
    flags: Vec<(String, Value)>,
}

impl Layers {
    /// Reads the config file: `explicit` if given (it must exist), else
    /// `bevara.toml` in the working directory if it exists.
    pub fn with_file(mut self, explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, must_exist) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => self.file = Some((path, text)),
            Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ConfigError::Read { path, source }),
        }
        Ok(self)
    }

    /// Uses `text` as the config file's content.
    pub fn file_text(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.file = Some((path.into(), text.into()));
        self
    }

    /// The environment to read `BEVARA_*` variables from.
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("BEVARA_"))
            .collect();
        self
    }

    /// A flag's value for the key at `path` (dotted, e.g. `capture.tile_height`).
    pub fn flag(mut self, path: &str, value: impl Into<Value>) -> Self {
        self.flags.push((path.to_string(), value.into()));
        self
    }

    /// Merges defaults < file < env < flags into one [`Settings`].
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let defaults = Value::try_from(Settings::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut merged = defaults.clone();
        if let Some((path, text)) = &self.file {
            let file: Value = toml::from_str(text).map_err(|source| ConfigError::Parse {
                path: path.clone(),
                source: Box::new(source),
            })?;
            merge(&mut merged, file);
        }
        for (path, default) in leaves(&defaults) {
            let var = env_var_name(&path);
            if let Some((_, raw)) = self.env.iter().find(|(k, _)| *k == var) {
                let value = parse_env(&var, raw, &default)?;
                set_path(&mut merged, &path, value);
            }
        }
        for (path, value) in self.flags {
            set_path(&mut merged, &path, value);
        }
        let mut settings: Settings = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        if settings.database.url.is_empty() && !settings.database.url_file.is_empty() {
            let f = &settings.database.url_file;
            let text = std::fs::read_to_string(f)
                .map_err(|e| ConfigError::Invalid(format!("database.url_file {f}: {e}")))?;
            settings.database.url = text.lines().next().unwrap_or("").trim().to_string();
        }
        settings.validate()?;
        Ok(settings)
    }
}

impl Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.capture;
        let b = &self.browser;
        if b.viewport_width < 320 || b.viewport_height < 240 {
            return Err(ConfigError::Invalid(
                "browser.viewport_width/height must be at least 320×240".into(),
            ));
        }
        if c.tile_height < 256 || c.tile_height > 32_768 {
            return Err(ConfigError::Invalid(
                "capture.tile_height must be between 256 and 32768".into(),
            ));
        }
        let r = &self.recording;
        if !["mp4", "mkv-ffv1"].contains(&r.format.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "recording.format must be \"mp4\" or \"mkv-ffv1\", not {:?}",
                r.format
            )));
        }
        if r.fps == 0 || r.fps > 60 || r.jpeg_quality == 0 || r.jpeg_quality > 100 {
            return Err(ConfigError::Invalid(
                "recording.fps must be 1–60 and recording.jpeg_quality 1–100".into(),
            ));
        }
        let w = &self.worker;
        if w.concurrency == 0 || w.lease_secs < 3 || w.poll_secs == 0 || w.max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "worker.concurrency, worker.poll_secs and worker.max_attempts must be at least 1, worker.lease_secs at least 3".into(),
            ));
        }
        if w.scheduler_tick_secs == 0 {
            return Err(ConfigError::Invalid(
                "worker.scheduler_tick_secs must be at least 1".into(),
            ));
        }
        let st = &self.store;
        if !["compliance", "governance"].contains(&st.object_lock_mode.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "store.object_lock_mode must be \"compliance\" or \"governance\", not {:?}",
                st.object_lock_mode
            )));
        }
        if !(5..=5 * 1024).contains(&st.multipart_part_mb) {
            return Err(ConfigError::Invalid(
                "store.multipart_part_mb must be between 5 and 5120 (S3's part sizes)".into(),
            ));
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "log.format must be \"text\" or \"json\", not {:?}",
                self.log.format
            )));
        }
        crate::browser::guard::Policy::new(false, &self.network.allow)
            .map_err(ConfigError::Invalid)?;
        if !self.database.url.is_empty()
            && !crate::db::is_postgres_url(&self.database.url)
            && !self.database.url.starts_with("sqlite:")
        {
            return Err(ConfigError::Invalid(format!(
                "database.url must be postgres://… or sqlite:…, not {:?}",
                redact_url_password(&self.database.url)
            )));
        }
        if c.page_load_timeout_secs == 0 || c.artifact_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "timeouts must be at least 1 second".into(),
            ));
        }
        if !matches!(c.pdf_from.as_str(), "screenshots" | "print") {
            return Err(ConfigError::Invalid(format!(
                "capture.pdf_from must be screenshots or print, not {:?}",
                c.pdf_from
            )));
        }
        Ok(())
    }
}

/// `BEVARA_` + the key's path in upper case, sections joined by `_`.
pub fn env_var_name(path: &str) -> String {
    format!("BEVARA_{}", path.replace('.', "_").to_ascii_uppercase())
}

/// Every leaf key of the defaults with its default value, in file order.
pub fn leaves(value: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Table(t) => {
                for (k, v) in t {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, v, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Table(b), Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_table() && v.is_table() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut cur = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Value::Table(t) = cur else { return };
        if parts.peek().is_none() {
            t.insert(part.to_string(), value);
            return;
        }
        cur = t
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Default::default()));
    }
}

fn parse_env(var: &str, raw: &str, default: &Value) -> Result<Value, ConfigError> {
    let err = |expected| ConfigError::Env {
        var: var.to_string(),
        value: raw.to_string(),
        expected,
    };
    Ok(match default {
        Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Value::Boolean(true),
            "0" | "false" | "no" | "off" | "" => Value::Boolean(false),
            _ => return Err(err("boolean (1/0, true/false)")),
        },
        Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| err("integer"))?),
        Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| err("number"))?),
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        _ => Value::String(raw.to_string()),
    })
}

/// A commented example `bevara.toml` listing every key, its default and its
/// environment variable.
pub fn example_toml() -> String {
    let defaults = Value::try_from(Settings::default()).unwrap_or(Value::Table(Default::default()));
    let mut out = String::from(
        "# bevara.toml: every key with its default. Each can also be set by the\n\
         # environment variable named beside it; flags win over both.\n",
    );
    let mut section = String::new();
    let mut all = leaves(&defaults);
    // Top-level keys first: after a [section] header they would belong to
    // it; then each section whole, a nested one ([web.oidc]) after its parent.
    all.sort_by_key(|(path, _)| {
        let sec = path.rsplit_once('.').map(|(s, _)| s.to_string());
        (sec.is_some(), sec)
    });
    for (path, value) in all {
        let (sec, key) = match path.rsplit_once('.') {
            Some((s, k)) => (s.to_string(), k.to_string()),
            None => (String::new(), path.clone()),
        };
        if sec != section {
            out.push_str(&format!("\n[{sec}]\n"));
            section = sec;
        }
        let rendered = toml::to_string(&toml::toml! { v = value })
            .unwrap_or_default()
            .trim_start_matches("v = ")
            .trim()
            .to_string();
        out.push_str(&format!("{key} = {rendered}  # {}\n", env_var_name(&path)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_defaults_file_env_flags() {
        let file = "data_dir = \"/from/file\"\n[capture]\ntile_height = 4096\nmax_scroll_steps = 7\n[browser]\nviewport_width = 1000\n";
        let env = vec![
            ("BEVARA_DATA_DIR".to_string(), "/from/env".to_string()),
            ("BEVARA_CAPTURE_TILE_HEIGHT".to_string(), "8192".to_string()),
            (
                "BEVARA_ALLOW_PRIVATE_ADDRESSES".to_string(),
                "1".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let s = Layers::default()
            .file_text("bevara.toml", file)
            .env(env)
            .flag("data_dir", "/from/flag")
            .resolve()
            .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from/flag")); // flag > env > file
        assert_eq!(s.capture.tile_height, 8192); // env > file
        assert_eq!(s.capture.max_scroll_steps, 7); // file > default
        assert_eq!(s.browser.viewport_width, 1000);
        assert_eq!(s.browser.viewport_height, 900); // default
        assert!(s.allow_private_addresses);
    }

    /// Every key can be set from the environment: a default that TOML
    /// cannot hold (an `Option` that is `None`) would have no variable.
    #[test]
    fn every_key_has_an_env_var() {
        let defaults = Value::try_from(Settings::default()).unwrap();
        let keys: Vec<String> = leaves(&defaults).into_iter().map(|(k, _)| k).collect();
        for k in [
            "web.session_key_file",
            "timestamp.ca_file",
            "timestamp.tsa_url",
            "export.ghostscript_path",
            "web.oidc.client_secret_file",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} has no env var");
        }
        let s = Layers::default()
            .env(vec![
                (
                    "BEVARA_WEB_SESSION_KEY_FILE".into(),
                    "/run/secrets/key".into(),
                ),
                ("BEVARA_TIMESTAMP_CA_FILE".into(), "/etc/tsa.pem".into()),
            ])
            .resolve()
            .unwrap();
        assert_eq!(s.web.session_key_file, "/run/secrets/key");
        assert_eq!(s.timestamp.ca_file, "/etc/tsa.pem");
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = Layers::default()
            .env(vec![("BEVARA_CAPTURE_TILE_HEIGHT".into(), "tall".into())])
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("BEVARA_CAPTURE_TILE_HEIGHT"), "{e}");
        let e = Layers::default()
            .file_text("x.toml", "no_such_key = 1")
            .resolve()
            .unwrap_err();
        assert!(e.to_string().contains("no_such_key"), "{e}");
    }

    #[test]
    fn example_lists_every_key_and_parses_back() {
        let example = example_toml();
        for (path, _) in leaves(&Value::try_from(Settings::default()).unwrap()) {
            assert!(example.contains(&env_var_name(&path)), "{path} missing");
        }
        let parsed = Layers::default()
            .file_text("ex", example)
            .resolve()
            .unwrap();
        assert_eq!(parsed, Settings::default());
    }

    #[test]
    fn debug_hides_secrets() {
        let s = Layers::default()
            .flag("session_key", "c2VjcmV0LXNlc3Npb24ta2V5")
            .flag("store.secret_access_key", "s3-hemlig-nyckel")
            .flag("store.secret_access_key_file", "/run/secrets/s3")
            .flag("store.access_key_id", "AKIDBEVARA")
            .flag(
                "database.url",
                "postgres://bevara:hemligt-pw@db.internal/bevara",
            )
            .resolve()
            .unwrap();
        let shown = format!("{s:?} {:?}", s.database);
        assert!(!shown.contains("s3-hemlig-nyckel"), "{shown}");
        // The key's id and the secret's file are not secrets.
        assert!(
            shown.contains("AKIDBEVARA") && shown.contains("/run/secrets/s3"),
            "{shown}"
        );
        assert!(!shown.contains("c2VjcmV0LXNlc3Npb24ta2V5"), "{shown}");
        assert!(!shown.contains("hemligt-pw"), "{shown}");
        assert!(
            shown.contains("bevara:hidden@db.internal") && shown.contains("<hidden>"),
            "{shown}"
        );
    }

    #[test]
    fn secrets_are_hidden() {
        let mut v: Value =
            toml::from_str("[s3]\nsecret_access_key = \"abc\"\nregion = \"x\"").unwrap();
        redact(&mut v);
        let text = toml::to_string(&v).unwrap();
        assert!(!text.contains("abc") && text.contains("<hidden>") && text.contains("region"));
    }
}
