//! An S3-compatible bucket as object store (AWS S3, Ceph, Garage, MinIO, …).
//!
//! Written for servers that are not AWS as much as for AWS: checksums are
//! sent where Bevara asks for them (SHA-256 on every PUT and part) and not
//! added to every request, responses are not checked against CRCs the
//! server may not send, and path-style addressing is one setting away.
//! Every object also carries its whole file's SHA-256 as metadata, because a
//! multipart object's S3 checksum is a digest of its parts' digests.

use super::{Digest, ObjectStore, PutMeta, Stat, StoreError, Stored};
use crate::config::StoreSettings;
use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ObjectLockEnabled,
    ObjectLockMode,
};
use aws_sdk_s3::Client;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::time::Duration;

/// Object metadata names (sent as `x-amz-meta-…`).
const META_SHA256: &str = "bevara-sha256";
const META_SNAPSHOT: &str = "bevara-snapshot";
const META_CHANNEL: &str = "bevara-channel";

/// S3's smallest part (all but the last).
const MIN_PART: u64 = 5 * 1024 * 1024;

/// `BUCKET/PREFIX` of `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl S3Location {
    /// Parses what follows `s3://`.
    pub fn parse(rest: &str) -> Result<Self, StoreError> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid_bucket {
            return Err(StoreError::Config(format!(
                "s3://{rest}: {bucket:?} is not a bucket name (3–63 lower-case letters, digits, '-' and '.')"
            )));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            super::validate_key(&prefix).map_err(|_| {
                StoreError::Config(format!(
                    "s3://{rest}: the prefix {prefix:?} is not a valid key"
                ))
            })?;
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

/// A bucket (and a prefix in it) as Bevara's object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    location: S3Location,
    part_size: u64,
    endpoint: String,
    /// Bound on the start-up check.
    check_timeout: Duration,
}

impl S3Store {
    /// A client from the standard AWS settings (environment, profiles,
    /// instance and web-identity roles) with `store.*` on top.
    pub async fn connect(location: S3Location, s: &StoreSettings) -> Result<Self, StoreError> {
        use aws_config::meta::region::RegionProviderChain;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if !s.endpoint.is_empty() {
            loader = loader.endpoint_url(&s.endpoint);
        }
        let region_env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|r| !r.is_empty()));
        let region = if !s.region.is_empty() {
            Some(aws_config::Region::new(s.region.clone()))
        } else if !s.endpoint.is_empty() && !region_env {
            // A server of one's own: no need to ask the instance metadata
            // service (a second's wait and a warning off AWS).
            Some(aws_config::Region::new("us-east-1"))
        } else {
            None
        };
        let region = RegionProviderChain::first_try(region)
            .or_default_provider()
            .or_else("us-east-1");
        loader = loader.region(region);
        let secret = secret_key(s)?;
        if !s.access_key_id.is_empty() || secret.is_some() {
            let (Some(secret), false) = (secret, s.access_key_id.is_empty()) else {
                return Err(StoreError::Config(
                    "store.access_key_id and store.secret_access_key (or _file) go together".into(),
                ));
            };
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                s.access_key_id.clone(),
                secret,
                None,
                None,
                "bevara-settings",
            ));
        }
        let shared = loader.load().await;
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(s.connect_timeout_secs.max(1)))
            .operation_attempt_timeout(Duration::from_secs(s.request_timeout_secs.max(1)))
            .build();
        let conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(s.path_style)
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .build();
        let endpoint = shared
            .endpoint_url()
            .map(str::to_string)
            .unwrap_or_else(|| "AWS".into());
        Ok(Self {
            client: Client::from_conf(conf),
            location,
            part_size: (s.multipart_part_mb.max(5)) * 1024 * 1024,
            endpoint,
            check_timeout: Duration::from_secs(
                (s.connect_timeout_secs + 5).min(s.request_timeout_secs.max(1)),
            ),
        })
    }

    /// The SDK client, for tools and tests that look at the bucket directly.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.location.bucket
    }

    /// The key in the bucket of Bevara's key `key`.
    pub fn full_key(&self, key: &str) -> String {
        if self.location.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.location.prefix)
        }
    }

    async fn put_single(
        &self,
        key: &str,
        src: &Path,
        size: u64,
        meta: &PutMeta<'_>,
    ) -> Result<Stored, StoreError> {
        let body = ByteStream::from_path(src)
            .await
            .map_err(|e| io_error(key, e))?;
        let mut put = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .body(body)
            .content_length(size as i64)
            .content_type(meta.media_type)
            .set_metadata(Some(metadata(meta)));
        if let Some(b64) = super::sha256_base64(meta.sha256) {
            put = put.checksum_sha256(b64);
        }
        if let Some(r) = meta.retention {
            // S3 wants a checksum named on a PUT under Object Lock; the value
            // given above is used, not computed again.
            put = put
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .object_lock_mode(lock_mode(&r.mode))
                .object_lock_retain_until_date(aws_date(r.until));
        }
        let out = put.send().await.map_err(|e| s3_error("PUT", key, e))?;
        Ok(Stored {
            version_id: out.version_id().map(str::to_string),
        })
    }

    /// One part at a time, each read from disk twice (its SHA-256, then its
    /// bytes streamed), so memory stays at a buffer whatever the size.
    async fn put_multipart(
        &self,
        key: &str,
        src: &Path,
        size: u64,
        meta: &PutMeta<'_>,
    ) -> Result<Stored, StoreError> {
        let full = self.full_key(key);
        let mut create = self
            .client
            .create_multipart_upload()
            .bucket(&self.location.bucket)
            .key(&full)
            .content_type(meta.media_type)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .set_metadata(Some(metadata(meta)));
        if let Some(r) = meta.retention {
            create = create
                .object_lock_mode(lock_mode(&r.mode))
                .object_lock_retain_until_date(aws_date(r.until));
        }
        let created = create
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", key, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StoreError::Refused {
                op: "CreateMultipartUpload",
                key: key.to_string(),
                reason: "no upload id in the answer".into(),
            })?
            .to_string();
        let uploaded = self.upload_parts(key, &full, src, size, &upload_id).await;
        let parts = match uploaded {
            Ok(parts) => parts,
            Err(e) => {
                // Parts of an unfinished upload cost storage until aborted.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.location.bucket)
                    .key(&full)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                return Err(e);
            }
        };
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.location.bucket)
            .key(&full)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", key, e))?;
        Ok(Stored {
            version_id: done.version_id().map(str::to_string),
        })
    }

    async fn upload_parts(
        &self,
        key: &str,
        full: &str,
        src: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, StoreError> {
        let mut parts = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        while offset < size {
            let len = self.part_size.min(size - offset);
            let sum = {
                let src = src.to_path_buf();
                tokio::task::spawn_blocking(move || hash_range(&src, offset, len))
                    .await
                    .map_err(|e| io_error(key, e))?
                    .map_err(|e| io_error(key, e))?
            };
            let body = ByteStream::read_from()
                .path(src)
                .offset(offset)
                .length(Length::Exact(len))
                .build()
                .await
                .map_err(|e| io_error(key, e))?;
            let out = self
                .client
                .upload_part()
                .bucket(&self.location.bucket)
                .key(full)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(len as i64)
                .checksum_sha256(&sum)
                .body(body)
                .send()
                .await
                .map_err(|e| s3_error("UploadPart", key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .checksum_sha256(out.checksum_sha256().unwrap_or(&sum))
                    .build(),
            );
            offset += len;
            number += 1;
        }
        Ok(parts)
    }

    /// [`ObjectStore::check`] once the store answers.
    async fn check_answered(&self, retention_asked: bool) -> Result<(), StoreError> {
        let bucket = &self.location.bucket;
        if !retention_asked {
            return match self.client.head_bucket().bucket(bucket).send().await {
                Ok(_) => Ok(()),
                Err(e) => match s3_error("HeadBucket", bucket, e) {
                    // Captures spool until it answers.
                    StoreError::Unreachable { reason, .. } => {
                        tracing::warn!(%reason, "the object store does not answer now; captures are spooled until it does");
                        Ok(())
                    }
                    StoreError::NotFound(_) => Err(StoreError::Config(format!(
                        "bucket {bucket} does not exist at {}",
                        self.endpoint
                    ))),
                    other => Err(other),
                },
            };
        }
        let answer = self
            .client
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await;
        match answer {
            Ok(out) => {
                let enabled = out
                    .object_lock_configuration()
                    .and_then(|c| c.object_lock_enabled())
                    == Some(&ObjectLockEnabled::Enabled);
                if enabled {
                    Ok(())
                } else {
                    Err(no_lock(bucket, "its Object Lock is not enabled"))
                }
            }
            Err(e) => match s3_error("GetObjectLockConfiguration", bucket, e) {
                StoreError::Unreachable { reason, .. } => {
                    tracing::warn!(%reason, "cannot check the bucket's Object Lock now; captures are spooled until the store answers");
                    Ok(())
                }
                StoreError::NotFound(_) => Err(no_lock(
                    bucket,
                    "it does not exist or has no Object Lock configuration",
                )),
                StoreError::Refused { reason, .. } => Err(no_lock(bucket, &reason)),
                other => Err(other),
            },
        }
    }

    async fn open_object(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<ByteStream, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .map_err(|e| s3_error("GET", key, e))?;
        Ok(out.body)
    }
}

/// The secret key from `store.secret_access_key` or the file
/// `store.secret_access_key_file` names (its first line).
fn secret_key(s: &StoreSettings) -> Result<Option<String>, StoreError> {
    if !s.secret_access_key_file.is_empty() {
        let text = std::fs::read_to_string(&s.secret_access_key_file).map_err(|e| {
            StoreError::Config(format!(
                "cannot read store.secret_access_key_file {}: {e}",
                s.secret_access_key_file
            ))
        })?;
        let line = text.lines().next().unwrap_or("").trim().to_string();
        if line.is_empty() {
            return Err(StoreError::Config(format!(
                "store.secret_access_key_file {} is empty",
                s.secret_access_key_file
            )));
        }
        return Ok(Some(line));
    }
    Ok((!s.secret_access_key.is_empty()).then(|| s.secret_access_key.clone()))
}

fn metadata(meta: &PutMeta<'_>) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    if !meta.sha256.is_empty() {
        m.insert(META_SHA256.into(), meta.sha256.to_string());
    }
    m.insert(META_SNAPSHOT.into(), meta.snapshot_id.to_string());
    m.insert(META_CHANNEL.into(), meta.channel.to_string());
    m
}

fn lock_mode(mode: &str) -> ObjectLockMode {
    if mode.eq_ignore_ascii_case("governance") {
        ObjectLockMode::Governance
    } else {
        ObjectLockMode::Compliance
    }
}

fn aws_date(t: chrono::DateTime<chrono::Utc>) -> aws_sdk_s3::primitives::DateTime {
    aws_sdk_s3::primitives::DateTime::from_secs(t.timestamp())
}

/// Base64 SHA-256 of `len` bytes of `path` from `offset`.
fn hash_range(path: &Path, offset: u64, len: u64) -> std::io::Result<String> {
    use base64::Engine as _;
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut left = len;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank while it was uploaded",
            ));
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

fn io_error(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        key: key.to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// An SDK failure as a [`StoreError`]: no answer (connection refused, timed
/// out) is `Unreachable`; an answer is `NotFound` or `Refused` with the
/// server's code and message; a 5xx or throttling answer counts as
/// unreachable, since a later try may succeed.
fn s3_error<E>(op: &'static str, key: &str, e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let reason = DisplayErrorContext(&e).to_string();
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("");
            let message = se.err().message().unwrap_or("");
            let said = format!("HTTP {status} {code} {message}").trim().to_string();
            if status == 404 || code == "NoSuchKey" || code == "NotFound" {
                StoreError::NotFound(key.to_string())
            } else if status >= 500 || status == 429 || code == "SlowDown" {
                StoreError::Unreachable {
                    op,
                    key: key.to_string(),
                    reason: said,
                }
            } else {
                StoreError::Refused {
                    op,
                    key: key.to_string(),
                    reason: said,
                }
            }
        }
        SdkError::ResponseError(_) => StoreError::Unreachable {
            op,
            key: key.to_string(),
            reason,
        },
        SdkError::ConstructionFailure(_) => StoreError::Config(reason),
        _ => StoreError::Unreachable {
            op,
            key: key.to_string(),
            reason,
        },
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        format!(
            "S3 bucket s3://{}/{} at {}",
            self.location.bucket, self.location.prefix, self.endpoint
        )
    }

    async fn check(&self, retention_asked: bool) -> Result<(), StoreError> {
        // A store that hangs must not hold up the start: captures spool.
        match tokio::time::timeout(self.check_timeout, self.check_answered(retention_asked)).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(
                    secs = self.check_timeout.as_secs(),
                    "the object store did not answer at start-up; captures are spooled until it does"
                );
                Ok(())
            }
        }
    }

    async fn put_file(
        &self,
        key: &str,
        src: &Path,
        meta: &PutMeta<'_>,
    ) -> Result<Stored, StoreError> {
        super::validate_key(key)?;
        let size = tokio::fs::metadata(src)
            .await
            .map_err(|e| io_error(key, e))?
            .len();
        if size > self.part_size.max(MIN_PART) {
            self.put_multipart(key, src, size, meta).await
        } else {
            self.put_single(key, src, size, meta).await
        }
    }

    async fn get_to_file(&self, key: &str, dst: &Path) -> Result<u64, StoreError> {
        use tokio::io::AsyncWriteExt;
        let mut body = self.open_object(key, None).await?;
        let mut file = tokio::fs::File::create(dst)
            .await
            .map_err(|e| io_error(key, e))?;
        let mut n = 0u64;
        while let Some(chunk) = next_chunk(&mut body, key).await? {
            file.write_all(&chunk).await.map_err(|e| io_error(key, e))?;
            n += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| io_error(key, e))?;
        Ok(n)
    }

    async fn digest(&self, key: &str, version: Option<&str>) -> Result<Digest, StoreError> {
        let mut body = self.open_object(key, version).await?;
        let mut h = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = next_chunk(&mut body, key).await? {
            h.update(&chunk);
            bytes += chunk.len() as u64;
        }
        Ok(Digest {
            bytes,
            sha256: hex::encode(h.finalize()),
        })
    }

    async fn stat(&self, key: &str, version: Option<&str>) -> Result<Stat, StoreError> {
        let out = self
            .client
            .head_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| s3_error("HEAD", key, e))?;
        Ok(Stat {
            bytes: out.content_length().unwrap_or(0).max(0) as u64,
            sha256: out.metadata().and_then(|m| m.get(META_SHA256)).cloned(),
        })
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let body = self.open_object(key, None).await?;
        let data = body.collect().await.map_err(|e| StoreError::Unreachable {
            op: "GET",
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        Ok(data.into_bytes().to_vec())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self
            .client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match s3_error("DELETE", key, e) {
                StoreError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn delete_version(&self, key: &str, version: Option<&str>) -> Result<(), StoreError> {
        match self
            .client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match s3_error("DELETE", key, e) {
                StoreError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn legal_hold(
        &self,
        key: &str,
        version: Option<&str>,
        on: bool,
    ) -> Result<bool, StoreError> {
        use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockLegalHoldStatus};
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        match self
            .client
            .put_object_legal_hold()
            .bucket(&self.location.bucket)
            .key(self.full_key(key))
            .set_version_id(version.map(str::to_string))
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let text = format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e));
                // A bucket made without Object Lock has no legal holds.
                if text.contains("InvalidRequest")
                    || text.contains("ObjectLockConfigurationNotFound")
                {
                    Ok(false)
                } else {
                    Err(s3_error("PUT legal hold", key, e))
                }
            }
        }
    }

    fn can_lock(&self) -> bool {
        true
    }
}

/// The next piece of an object's body; a body cut off is the store's failure.
async fn next_chunk(body: &mut ByteStream, key: &str) -> Result<Option<bytes::Bytes>, StoreError> {
    body.try_next().await.map_err(|e| StoreError::Unreachable {
        op: "GET",
        key: key.to_string(),
        reason: e.to_string(),
    })
}

fn no_lock(bucket: &str, why: &str) -> StoreError {
    StoreError::Config(format!(
        "Object Lock retention is asked for (store.object_lock_days or a channel's --retain-days), but bucket {bucket} cannot lock objects: {why}; create the bucket with Object Lock enabled, or set store.object_lock_days = 0"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = S3Location::parse("arkiv/bevara/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("arkiv", "bevara"));
        let l = S3Location::parse("arkiv").unwrap();
        assert_eq!(l.prefix, "");
        for bad in ["", "A", "ar", "arkiv/../x", "Arkiv/x"] {
            assert!(S3Location::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn part_hash_is_of_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"xxabcxx").unwrap();
        // sha256("abc") in base64.
        assert_eq!(
            hash_range(&p, 2, 3).unwrap(),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert!(hash_range(&p, 5, 10).is_err());
    }
}
