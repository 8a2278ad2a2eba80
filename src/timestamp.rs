//! RFC 3161 trusted timestamps of stored manifests.
//!
//! When a snapshot is complete, the SHA-256 of the exact bytes of its stored
//! `manifest.json` is sent to the time-stamping authority (`timestamp.tsa_url`);
//! its whole answer (a DER `TimeStampResp`, what `openssl ts -verify -in`
//! reads) is stored beside the manifest as `manifest.tsr` and recorded in the
//! database with the snapshot's other objects. A TSA that does not answer
//! leaves the snapshot complete: the worker (or `bevara timestamp sync`)
//! stamps it later.
//!
//! Checking a token is written here on RustCrypto's DER types (x509-tsp,
//! cms, x509-cert) and rsa, because no Rust crate verifies RFC 3161 tokens:
//! the imprint and nonce, the signed attributes' digest of the TSTInfo, the
//! RSA signature with the signer's certificate, the signer's critical
//! timeStamping key usage, and the chain up to a certificate of
//! `timestamp.ca_file`, each certificate valid at the token's time.

use crate::config::TimestampSettings;
use crate::db::ArtifactRecord;
use crate::store::{PutMeta, Retention};
use crate::Bevara;
use chrono::{DateTime, Utc};
use cms::cert::x509::Certificate;
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo};
use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode};
use sha2::Digest;
use std::path::Path;
use std::time::Duration;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const ID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// The name of the token beside `manifest.json`.
pub const TOKEN_NAME: &str = "manifest.tsr";
/// Its media type: a whole RFC 3161 response.
pub const TOKEN_MEDIA_TYPE: &str = "application/timestamp-reply";

#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    #[error("the time-stamping authority {url} did not answer: {why}")]
    Unreachable { url: String, why: String },
    #[error("the time-stamping authority refused: {0}")]
    Refused(String),
    #[error("the timestamp token is not valid: {0}")]
    Invalid(String),
    #[error("timestamp.ca_file {path}: {why}")]
    Ca { path: String, why: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

fn invalid(why: impl std::fmt::Display) -> TimestampError {
    TimestampError::Invalid(why.to_string())
}

/// The database record of snapshot `id`'s timestamp token, if it has one.
pub async fn token(
    bevara: &Bevara,
    id: &str,
) -> Result<Option<ArtifactRecord>, crate::db::DbError> {
    Ok(bevara
        .db()
        .artifacts(id)
        .await?
        .into_iter()
        .find(|a| a.name == TOKEN_NAME))
}

/// Reads the stored token `token` (it must be the bytes recorded) and checks
/// it against the manifest's recorded SHA-256 (hex) and `timestamp.ca_file`.
pub async fn check_stored(
    bevara: &Bevara,
    token: &ArtifactRecord,
    manifest_sha256: &str,
) -> Result<Verified, TimestampError> {
    let bytes = bevara.store().get_bytes(&token.key).await?;
    if hex::encode(sha2::Sha256::digest(&bytes)) != token.sha256 {
        return Err(invalid(
            "the newest version of the token is not the one recorded",
        ));
    }
    let anchors = trust_anchors(&bevara.settings().timestamp)?;
    let digest = hex::decode(manifest_sha256)
        .map_err(|e| invalid(format!("the manifest's recorded SHA-256 is not hex: {e}")))?;
    verify(&bytes, &digest, anchors.as_deref(), None)
}

/// What a checked token says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    /// When the TSA saw the manifest's digest.
    pub gen_time: DateTime<Utc>,
    /// The token's serial number, hex.
    pub serial: String,
    /// The signing certificate's subject.
    pub signer: String,
    /// The TSA policy.
    pub policy: String,
    /// Whether the chain was checked against `timestamp.ca_file`.
    pub chain_checked: bool,
}

/// The certificates of `timestamp.ca_file`, if set.
pub fn trust_anchors(s: &TimestampSettings) -> Result<Option<Vec<Certificate>>, TimestampError> {
    if s.ca_file.is_empty() {
        return Ok(None);
    }
    let path = Path::new(&s.ca_file);
    let ca_err = |why: String| TimestampError::Ca {
        path: path.display().to_string(),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
    let certs = Certificate::load_pem_chain(&pem).map_err(|e| ca_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(ca_err("no certificate in it".into()));
    }
    Ok(Some(certs))
}

/// A non-negative INTEGER in its shortest (DER) form.
fn int_of(n: u64) -> Result<Int, TimestampError> {
    let b = n.to_be_bytes();
    let first = b.iter().position(|&x| x != 0).unwrap_or(7);
    let mut v = b[first..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    Int::new(&v).map_err(invalid)
}

fn request_der(sha256: &[u8], nonce: u64) -> Result<Vec<u8>, TimestampError> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: x509_cert::spki::AlgorithmIdentifier {
                oid: ID_SHA256,
                parameters: Some(der::asn1::AnyRef::NULL.into()),
            },
            hashed_message: OctetString::new(sha256).map_err(invalid)?,
        },
        req_policy: None,
        nonce: Some(int_of(nonce)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(invalid)
}

/// Asks the TSA to timestamp a SHA-256 digest; returns its whole answer,
/// checked against the digest and nonce (and the chain, with a CA file).
pub async fn request(
    s: &TimestampSettings,
    sha256: &[u8],
    anchors: Option<&[Certificate]>,
) -> Result<Vec<u8>, TimestampError> {
    // A positive 63-bit nonce from the clock and a ULID's randomness.
    let nonce = (ulid::Ulid::new().random() as u64) & 0x7fff_ffff_ffff_ffff;
    let body = request_der(sha256, nonce)?;
    let unreachable = |why: String| TimestampError::Unreachable {
        url: s.tsa_url.clone(),
        why,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(s.timeout_secs.max(1)))
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let resp = client
        .post(&s.tsa_url)
        .header("content-type", "application/timestamp-query")
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| unreachable(e.to_string()))?
        .to_vec();
    let v = verify(&bytes, sha256, anchors, Some(nonce))?;
    tracing::debug!(gen_time = %v.gen_time, serial = %v.serial, "timestamped");
    Ok(bytes)
}

fn digest_of(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, TimestampError> {
    Ok(match *alg {
        ID_SHA256 => sha2::Sha256::digest(data).to_vec(),
        ID_SHA384 => sha2::Sha384::digest(data).to_vec(),
        ID_SHA512 => sha2::Sha512::digest(data).to_vec(),
        other => return Err(invalid(format!("unsupported digest algorithm {other}"))),
    })
}

/// Checks an RSA PKCS#1 v1.5 signature by `cert`'s key over `msg`, with
/// the digest `digest` (a digest OID, or an RSA-with-digest OID).
fn check_rsa(
    cert: &Certificate,
    digest: &ObjectIdentifier,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), TimestampError> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != ID_RSA {
        return Err(invalid(format!(
            "the key of {} is {}, not RSA; only RSA signatures are checked",
            cert.tbs_certificate.subject, spki.algorithm.oid
        )));
    }
    let der = spki.to_der().map_err(invalid)?;
    let key = rsa::RsaPublicKey::from_public_key_der(&der).map_err(invalid)?;
    let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(invalid)?;
    let ok = match *digest {
        ID_SHA256 | ID_RSA_SHA256 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(msg, &sig)
        }
        ID_SHA384 | ID_RSA_SHA384 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key).verify(msg, &sig)
        }
        ID_SHA512 | ID_RSA_SHA512 => {
            rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key).verify(msg, &sig)
        }
        other => return Err(invalid(format!("unsupported signature algorithm {other}"))),
    };
    ok.map_err(|_| invalid("the signature does not match"))
}

/// Whether `issuer` may sign certificates `below` intermediates above an
/// end entity: a CA by its basic constraints (and their path length), with
/// keyCertSign where it states its key usage.
fn may_issue(issuer: &Certificate, below: usize) -> Result<(), TimestampError> {
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
    let name = &issuer.tbs_certificate.subject;
    let bc = issuer
        .tbs_certificate
        .get::<BasicConstraints>()
        .map_err(invalid)?
        .map(|(_, bc)| bc);
    match bc {
        Some(bc) if bc.ca => {
            if let Some(max) = bc.path_len_constraint {
                if below > usize::from(max) {
                    return Err(invalid(format!(
                        "{name} may not issue: its path length allows {max} intermediates below it"
                    )));
                }
            }
        }
        _ => {
            return Err(invalid(format!(
                "{name} may not issue certificates: it is not a CA (basicConstraints)"
            )))
        }
    }
    if let Some((_, ku)) = issuer.tbs_certificate.get::<KeyUsage>().map_err(invalid)? {
        if !ku.0.contains(KeyUsages::KeyCertSign) {
            return Err(invalid(format!(
                "{name} may not issue certificates: its key usage lacks keyCertSign"
            )));
        }
    }
    Ok(())
}

fn valid_at(cert: &Certificate, t: std::time::Duration) -> Result<(), TimestampError> {
    let v = &cert.tbs_certificate.validity;
    if t < v.not_before.to_unix_duration() || t > v.not_after.to_unix_duration() {
        return Err(invalid(format!(
            "the certificate {} was not valid at the token's time",
            cert.tbs_certificate.subject
        )));
    }
    Ok(())
}

/// The parts of a token's SignedData that are checked. Read field by field
/// rather than with `cms::SignedData`, because TSAs (OpenSSL's among them)
/// may list the signing certificate twice, which a strict DER SET OF refuses.
struct Signed {
    encap: EncapsulatedContentInfo,
    certs: Vec<Certificate>,
    signer: SignerInfo,
}

fn read_signed_data(bytes: &[u8]) -> Result<Signed, der::Error> {
    use der::{Header, Reader, SliceReader, Tag, TagNumber, Tagged};
    let mut outer = SliceReader::new(bytes)?;
    let h = Header::decode(&mut outer)?;
    let mut r = SliceReader::new(outer.read_slice(h.length)?)?;
    let _version: der::Any = r.decode()?;
    let _digest_algorithms: der::Any = r.decode()?;
    let encap: EncapsulatedContentInfo = r.decode()?;
    let mut certs = Vec::new();
    let mut signer = None;
    while !r.is_finished() {
        let h = Header::decode(&mut r)?;
        let content = r.read_slice(h.length)?;
        match h.tag {
            Tag::ContextSpecific { number, .. } if number == TagNumber::N0 => {
                let mut c = SliceReader::new(content)?;
                while !c.is_finished() {
                    let any: der::Any = c.decode()?;
                    // Plain certificates; other choices (attribute certificates) are left.
                    if any.tag() == Tag::Sequence {
                        if let Ok(cert) = Certificate::from_der(&any.to_der()?) {
                            if !certs.contains(&cert) {
                                certs.push(cert);
                            }
                        }
                    }
                }
            }
            Tag::Set => {
                let mut s = SliceReader::new(content)?;
                signer = Some(SignerInfo::decode(&mut s)?);
            }
            _ => {}
        }
    }
    let signer = signer.ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?;
    Ok(Signed {
        encap,
        certs,
        signer,
    })
}

/// Checks a TSA's answer (`TimeStampResp`) against the SHA-256 `sha256` of
/// the manifest, and with `anchors`, its chain.
pub fn verify(
    resp_der: &[u8],
    sha256: &[u8],
    anchors: Option<&[Certificate]>,
    nonce: Option<u64>,
) -> Result<Verified, TimestampError> {
    let resp = TimeStampResp::from_der(resp_der).map_err(invalid)?;
    let status = resp.status.status as u8;
    if status > 1 {
        return Err(TimestampError::Refused(format!(
            "status {status} {:?}",
            resp.status.status_string
        )));
    }
    let token: ContentInfo = resp
        .time_stamp_token
        .ok_or_else(|| invalid("the answer holds no token"))?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(invalid("the token is not CMS SignedData"));
    }
    let sd = read_signed_data(&token.content.to_der().map_err(invalid)?).map_err(invalid)?;
    if sd.encap.econtent_type != ID_CT_TSTINFO {
        return Err(invalid("the token's content is not a TSTInfo"));
    }
    let econtent = sd
        .encap
        .econtent
        .as_ref()
        .ok_or_else(|| invalid("the token has no content"))?;
    let tst_bytes = econtent.value();
    let tst = TstInfo::from_der(tst_bytes).map_err(invalid)?;
    if tst.message_imprint.hash_algorithm.oid != ID_SHA256
        || tst.message_imprint.hashed_message.as_bytes() != sha256
    {
        return Err(invalid(
            "the token is for other data: its imprint is not the manifest's SHA-256",
        ));
    }
    if let Some(n) = nonce {
        let got = tst.nonce.as_ref().map(|i| i.as_bytes().to_vec());
        let want = int_of(n)?;
        if got.as_deref() != Some(want.as_bytes()) {
            return Err(invalid("the token's nonce is not the request's"));
        }
    }
    let gen = tst.gen_time.to_unix_duration();
    let gen_time = DateTime::<Utc>::from_timestamp(gen.as_secs() as i64, gen.subsec_nanos())
        .ok_or_else(|| invalid("the token's time is out of range"))?;

    // The signer and its signed attributes.
    let si = &sd.signer;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("the token's signer has no signed attributes"))?;
    let attr = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let md = attr(ID_MESSAGE_DIGEST).ok_or_else(|| invalid("no messageDigest attribute"))?;
    let md = OctetString::from_der(&md.to_der().map_err(invalid)?).map_err(invalid)?;
    if md.as_bytes() != digest_of(&si.digest_alg.oid, tst_bytes)?.as_slice() {
        return Err(invalid("the signed digest is not the TSTInfo's"));
    }
    let ct = attr(ID_CONTENT_TYPE).ok_or_else(|| invalid("no contentType attribute"))?;
    if ObjectIdentifier::from_der(&ct.to_der().map_err(invalid)?).ok() != Some(ID_CT_TSTINFO) {
        return Err(invalid("the signed content type is not TSTInfo"));
    }
    let pool: Vec<&Certificate> = sd.certs.iter().chain(anchors.unwrap_or(&[])).collect();
    let signer = pool
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate.issuer == isn.issuer
                    && c.tbs_certificate.serial_number == isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => c
                .tbs_certificate
                .get::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, k)| k == *ski),
        })
        .copied()
        .ok_or_else(|| {
            invalid("the signing certificate is neither in the token nor in timestamp.ca_file")
        })?;
    let signed = attrs.to_der().map_err(invalid)?;
    check_rsa(signer, &si.digest_alg.oid, &signed, si.signature.as_bytes())?;

    // The signer may stamp time: extendedKeyUsage, critical, timeStamping only.
    let eku = signer
        .tbs_certificate
        .extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_EXT_KEY_USAGE));
    let Some(eku) = eku else {
        return Err(invalid("the signing certificate has no extended key usage"));
    };
    let usages = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(invalid)?;
    if !eku.critical || usages.0 != [ID_KP_TIME_STAMPING] {
        return Err(invalid(
            "the signing certificate's extended key usage is not a critical timeStamping",
        ));
    }

    // The chain, to a certificate of the CA file.
    let chain_checked = match anchors {
        None => false,
        Some(anchors) => {
            let mut cert = signer;
            let mut depth = 0;
            loop {
                valid_at(cert, gen)?;
                if anchors.iter().any(|a| a == cert) {
                    break;
                }
                let issuer = pool
                    .iter()
                    .find(|c| c.tbs_certificate.subject == cert.tbs_certificate.issuer)
                    .copied()
                    .ok_or_else(|| {
                        invalid(format!(
                            "the chain of {} does not end in timestamp.ca_file",
                            signer.tbs_certificate.subject
                        ))
                    })?;
                may_issue(issuer, depth)?;
                let tbs = cert.tbs_certificate.to_der().map_err(invalid)?;
                check_rsa(
                    issuer,
                    &cert.signature_algorithm.oid,
                    &tbs,
                    cert.signature.raw_bytes(),
                )
                .map_err(|e| {
                    invalid(format!(
                        "{} is not signed by {}: {e}",
                        cert.tbs_certificate.subject, issuer.tbs_certificate.subject
                    ))
                })?;
                if issuer == cert {
                    // Self-signed and not in the CA file.
                    return Err(invalid(format!(
                        "the chain of {} does not end in timestamp.ca_file",
                        signer.tbs_certificate.subject
                    )));
                }
                cert = issuer;
                depth += 1;
                if depth > 8 {
                    return Err(invalid("the chain is longer than 8 certificates"));
                }
            }
            true
        }
    };
    Ok(Verified {
        gen_time,
        serial: hex::encode(tst.serial_number.as_bytes()),
        signer: signer.tbs_certificate.subject.to_string(),
        policy: tst.policy.to_string(),
        chain_checked,
    })
}

/// Timestamps the stored manifest of snapshot `id`, whose database record is
/// `manifest`, and stores and records the token. `file` is a scratch path.
/// Each token gets a key of its own, so two stampers racing for one snapshot
/// never overwrite each other: the record names the one that counts.
pub async fn stamp(
    bevara: &Bevara,
    id: &str,
    channel: &str,
    manifest: &ArtifactRecord,
    retention: Option<&Retention>,
    anchors: Option<&[Certificate]>,
    file: &Path,
) -> Result<ArtifactRecord, TimestampError> {
    let s = &bevara.settings().timestamp;
    let sha = hex::decode(&manifest.sha256).map_err(invalid)?;
    let token = request(s, &sha, anchors).await?;
    std::fs::write(file, &token).map_err(|e| invalid(format!("{}: {e}", file.display())))?;
    let digest = crate::store::sha256_file(file).map_err(|e| invalid(e.to_string()))?;
    let unique = format!("manifest-{}.tsr", ulid::Ulid::new());
    let key = match manifest.key.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{unique}"),
        None => unique,
    };
    let meta = PutMeta {
        media_type: TOKEN_MEDIA_TYPE,
        sha256: &digest.sha256,
        snapshot_id: id,
        channel,
        retention,
    };
    let stored = bevara.store().put_file(&key, file, &meta).await?;
    let back = bevara
        .store()
        .digest(&key, stored.version_id.as_deref())
        .await?;
    if back.sha256 != digest.sha256 {
        return Err(TimestampError::Store(crate::store::StoreError::Refused {
            op: "put",
            key,
            reason: "read back with another checksum".into(),
        }));
    }
    let rec = ArtifactRecord {
        name: TOKEN_NAME.into(),
        key,
        media_type: TOKEN_MEDIA_TYPE.into(),
        bytes: digest.bytes as i64,
        sha256: digest.sha256,
        width: None,
        height: None,
        version_id: stored.version_id,
    };
    if let Err(e) = bevara.db().add_artifact(id, &rec).await {
        // Disposed of meanwhile, or the database is down: leave no stray object.
        let _ = bevara
            .store()
            .delete_version(&rec.key, rec.version_id.as_deref())
            .await;
        return Err(e.into());
    }
    Ok(rec)
}

/// What [`catch_up`] did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CatchUp {
    pub stamped: Vec<String>,
    /// Snapshot and why it is not stamped yet.
    pub left: Vec<(String, String)>,
}

/// Timestamps up to `limit` complete snapshots whose manifest has no token
/// yet (the TSA was down, or timestamps were turned on later), oldest
/// first. The stored manifest is read back first: a token is only given to
/// the manifest the database recorded; one that does not match is skipped
/// (`verify` names it) and the next is tried. A TSA that does not answer,
/// refuses or sends a token that does not hold ends the round: the rest
/// would fail the same way, and a paid TSA is not asked in vain. Snapshots
/// completed less than `grace_secs` ago are left to the stamp their own
/// upload takes (the worker waits; a person running `timestamp sync` need not).
pub async fn catch_up(
    bevara: &Bevara,
    limit: i64,
    grace_secs: i64,
) -> Result<CatchUp, TimestampError> {
    let mut out = CatchUp::default();
    if bevara.settings().timestamp.tsa_url.is_empty() {
        return Ok(out);
    }
    let anchors = trust_anchors(&bevara.settings().timestamp)?;
    let scratch = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
    let mut after = String::new();
    'pages: loop {
        let page = bevara.db().untimestamped(&after, 50).await?;
        if page.is_empty() {
            break;
        }
        for id in page {
            after = id.clone();
            if out.stamped.len() as i64 >= limit {
                break 'pages;
            }
            let rec = bevara.db().capture(&id).await?;
            if rec
                .finished_at
                .is_some_and(|t| (Utc::now() - t).num_seconds() < grace_secs)
            {
                continue;
            }
            let arts = bevara.db().artifacts(&id).await?;
            if arts.iter().any(|a| a.name == TOKEN_NAME) {
                continue;
            }
            let Some(m) = arts.iter().find(|a| a.name == "manifest.json") else {
                continue;
            };
            match bevara.store().digest(&m.key, m.version_id.as_deref()).await {
                Ok(d) if d.sha256 == m.sha256 => {}
                Ok(_) => {
                    out.left.push((
                        id,
                        "the stored manifest does not match its record; run verify".into(),
                    ));
                    continue;
                }
                Err(crate::store::StoreError::NotFound(_)) => {
                    out.left
                        .push((id, "the stored manifest is missing; run verify".into()));
                    continue;
                }
                Err(e) => {
                    out.left.push((id, e.to_string()));
                    break 'pages;
                }
            }
            let retention = retention_of(bevara, &rec).await;
            match stamp(
                bevara,
                &id,
                &rec.channel_id,
                m,
                retention.as_ref(),
                anchors.as_deref(),
                &scratch.path().join(TOKEN_NAME),
            )
            .await
            {
                Ok(_) => out.stamped.push(id),
                Err(TimestampError::Db(crate::db::DbError::NoCapture(_))) => {}
                Err(e) => {
                    out.left.push((id, e.to_string()));
                    break 'pages;
                }
            }
        }
    }
    Ok(out)
}

/// The Object Lock retention the snapshot's manifest was stored under.
async fn retention_of(bevara: &Bevara, rec: &crate::db::CaptureRecord) -> Option<Retention> {
    let (_, m) = crate::archive::manifest(bevara, &rec.id).await.ok()?;
    m.retention
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_the_digest_nonce_and_cert_request() {
        let sha = [7u8; 32];
        let der = request_der(&sha, 0x1234_5678).unwrap();
        let req = TimeStampReq::from_der(&der).unwrap();
        assert_eq!(req.message_imprint.hash_algorithm.oid, ID_SHA256);
        assert_eq!(req.message_imprint.hashed_message.as_bytes(), &sha);
        assert!(req.cert_req);
        assert_eq!(req.nonce.unwrap().as_bytes(), &[0x12, 0x34, 0x56, 0x78]);
        assert_eq!(int_of(0x80).unwrap().as_bytes(), &[0, 0x80]);
        assert_eq!(int_of(0).unwrap().as_bytes(), &[0]);
    }

    #[test]
    fn garbage_is_not_a_token() {
        assert!(matches!(
            verify(b"not der", &[0; 32], None, None),
            Err(TimestampError::Invalid(_))
        ));
    }
}
