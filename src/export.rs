//! Delivery to the e-archive: snapshots as one information package in FGS
//! Paketstruktur 2.0, which is E-ARK CSIP 2.1.0 with the SIP 2.1.0 profile.
//!
//! ```text
//! uuid-…/                              the package; its folder is its OBJID
//!   METS.xml                           agents (the authority, Bevara), every representation
//!   metadata/preservation/premis.xml   the agents, the packaging event, the disposals
//!   metadata/other/disposals.json      disposal records of the package's channels
//!   representations/<snapshot>/
//!     METS.xml                         the snapshot's files and metadata
//!     data/…                           the artifacts (screenshots, recording, PDF, text, DOM)
//!     data/renditions/…                with --renditions: PDF/A-2b, FFV1/MKV
//!     metadata/preservation/premis.xml objects with SHA-256 fixity and formats, the capture
//!                                      event (trigger, reason, requester), software and browser
//!     metadata/other/manifest.json     Bevara's manifest, items.json, removed-items.json,
//!                                      manifest.tsr (its RFC 3161 timestamp)
//!   schemas/                           the schemas the package uses
//! ```
//!
//! The package id is derived from the snapshot ids, so exporting the same
//! snapshots again gives the same ids. The XML is written with quick-xml;
//! no METS or PREMIS crate exists.

pub mod renditions;

use crate::capture::manifest::{Manifest, ManifestArtifact};
use crate::db::{CaptureState, Disposal};
use crate::Bevara;
use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use renditions::{Rendition, RenditionError};
use sha2::{Digest, Sha256};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const SIP_PROFILE: &str = "https://earksip.dilcis.eu/profile/E-ARK-SIP-v2-1-0.xml";
const NS_METS: &str = "http://www.loc.gov/METS/";
const NS_CSIP: &str = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS";
const NS_SIP: &str = "https://DILCIS.eu/XML/METS/SIPExtensionMETS";
const NS_XLINK: &str = "http://www.w3.org/1999/xlink";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const NS_PREMIS: &str = "http://www.loc.gov/premis/v3";

/// The schemas the package uses, as its `schemas/` folder holds them: METS
/// 1.12 with the DILCIS extensions (as the E-ARK validator checks them),
/// xlink and PREMIS 3.0.
const SCHEMAS: [(&str, &[u8]); 5] = [
    ("mets.xsd", include_bytes!("export/schemas/mets.xsd")),
    ("xlink.xsd", include_bytes!("export/schemas/xlink.xsd")),
    (
        "DILCISExtensionMETS.xsd",
        include_bytes!("export/schemas/DILCISExtensionMETS.xsd"),
    ),
    (
        "DILCISExtensionSIPMETS.xsd",
        include_bytes!("export/schemas/DILCISExtensionSIPMETS.xsd"),
    ),
    ("premis.xsd", include_bytes!("export/schemas/premis.xsd")),
];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Rendition(#[from] RenditionError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{name} of snapshot {snapshot} does not match its manifest: {why}")]
    Mismatch {
        snapshot: String,
        name: String,
        why: String,
    },
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How a package is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// One zip beside where the folder would be, instead of the folder.
    pub zip: bool,
    /// Preservation renditions beside the artifacts: the PDF as PDF/A-2b,
    /// a recording that is not FFV1 as FFV1/MKV.
    pub renditions: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub package_id: String,
    /// The package's folder, or its zip.
    pub path: PathBuf,
    pub snapshots: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    /// Renditions made, as `SNAPSHOT/data/renditions/NAME`.
    pub renditions: Vec<String>,
    /// Disposal records of the package's channels it carries.
    pub disposals: usize,
}

/// The package id of a set of snapshots: a name-based UUID of their sorted
/// ids, so the same snapshots always give the same package.
pub fn package_id(snapshots: &[String]) -> String {
    let mut ids = snapshots.to_vec();
    ids.sort();
    ids.dedup();
    let h = Sha256::digest(format!("bevara-package:{}", ids.join(",")).as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 layout (name-based)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let x = hex::encode(b);
    format!(
        "uuid-{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One file the METS lists.
struct Listed {
    /// Path from the METS file's folder.
    href: String,
    mime: String,
    size: u64,
    sha256: String,
    created: DateTime<Utc>,
}

fn list_file(
    root: &Path,
    href: &str,
    mime: &str,
    created: DateTime<Utc>,
) -> Result<Listed, ExportError> {
    let path = root.join(href);
    let digest = crate::store::sha256_file(&path).map_err(io_at(&path))?;
    Ok(Listed {
        href: href.to_string(),
        // METS wants the bare media type: "text/plain", not "text/plain; charset=utf-8".
        mime: mime.split(';').next().unwrap_or(mime).trim().to_string(),
        size: digest.bytes,
        sha256: digest.sha256.to_ascii_uppercase(),
        created,
    })
}

/// A small layer over quick-xml's writer: elements with attributes, text and
/// children, errors as `io::Error`.
struct Xml {
    w: Writer<Vec<u8>>,
}

impl Xml {
    fn new() -> io::Result<Self> {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        Ok(Self { w })
    }

    fn el(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        inner: impl FnOnce(&mut Xml) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut start = quick_xml::events::BytesStart::new(name);
        for a in attrs {
            start.push_attribute(*a);
        }
        self.w.write_event(Event::Start(start.borrow()))?;
        inner(self)?;
        self.w.write_event(Event::End(start.to_end()))?;
        Ok(())
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        let mut start = quick_xml::events::BytesStart::new(name);
        for a in attrs {
            start.push_attribute(*a);
        }
        self.w.write_event(Event::Empty(start))
    }

    fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> io::Result<()> {
        self.el(name, attrs, |x| {
            x.w.write_event(Event::Text(BytesText::new(text)))
        })
    }

    fn finish(self, path: &Path) -> Result<(), ExportError> {
        let mut bytes = self.w.into_inner();
        bytes.push(b'\n');
        std::fs::write(path, bytes).map_err(io_at(path))
    }
}

/// The attributes every METS of the package starts with.
fn mets_root<'a>(objid: &'a str, label: &'a str, schemas: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("xmlns", NS_METS),
        ("xmlns:csip", NS_CSIP),
        ("xmlns:sip", NS_SIP),
        ("xmlns:xlink", NS_XLINK),
        ("xmlns:xsi", NS_XSI),
        ("OBJID", objid),
        ("TYPE", "Mixed"),
        ("csip:CONTENTINFORMATIONTYPE", "MIXED"),
        ("LABEL", label),
        ("PROFILE", SIP_PROFILE),
        ("xsi:schemaLocation", schemas),
    ]
}

fn schema_locations(prefix: &str) -> String {
    format!(
        "{NS_METS} {prefix}schemas/mets.xsd {NS_XLINK} {prefix}schemas/xlink.xsd {NS_CSIP} {prefix}schemas/DILCISExtensionMETS.xsd {NS_SIP} {prefix}schemas/DILCISExtensionSIPMETS.xsd"
    )
}

fn software_agent(x: &mut Xml) -> io::Result<()> {
    x.el(
        "agent",
        &[
            ("ROLE", "CREATOR"),
            ("TYPE", "OTHER"),
            ("OTHERTYPE", "SOFTWARE"),
        ],
        |x| {
            x.text("name", &[], "Bevara")?;
            x.text(
                "note",
                &[("csip:NOTETYPE", "SOFTWARE VERSION")],
                env!("CARGO_PKG_VERSION"),
            )
        },
    )
}

fn file_entry(x: &mut Xml, id: &str, f: &Listed) -> io::Result<()> {
    let size = f.size.to_string();
    let created = time(f.created);
    x.el(
        "file",
        &[
            ("ID", id),
            ("MIMETYPE", &f.mime),
            ("SIZE", &size),
            ("CREATED", &created),
            ("CHECKSUM", &f.sha256),
            ("CHECKSUMTYPE", "SHA-256"),
        ],
        |x| {
            x.empty(
                "FLocat",
                &[
                    ("LOCTYPE", "URL"),
                    ("xlink:type", "simple"),
                    ("xlink:href", &f.href),
                ],
            )
        },
    )
}

fn md_ref(x: &mut Xml, id: &str, f: &Listed, mdtype: &str, other: Option<&str>) -> io::Result<()> {
    let size = f.size.to_string();
    let created = time(f.created);
    let mut attrs = vec![
        ("LOCTYPE", "URL"),
        ("xlink:type", "simple"),
        ("xlink:href", f.href.as_str()),
        ("MDTYPE", mdtype),
    ];
    if let Some(o) = other {
        attrs.push(("OTHERMDTYPE", o));
    }
    attrs.extend([
        ("MIMETYPE", f.mime.as_str()),
        ("SIZE", size.as_str()),
        ("CREATED", created.as_str()),
        ("CHECKSUM", f.sha256.as_str()),
        ("CHECKSUMTYPE", "SHA-256"),
    ]);
    x.el(
        "digiprovMD",
        &[("ID", id), ("CREATED", &created), ("STATUS", "CURRENT")],
        |x| x.empty("mdRef", &attrs),
    )
}

/// An NCName-safe id from any text.
fn xml_id(prefix: &str, s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{clean}")
}

/// What the package says of a snapshot.
struct Rep {
    id: String,
    manifest: Manifest,
    /// The representation's METS, as the root METS lists it.
    mets: Listed,
    renditions: Vec<String>,
}

/// The complete snapshots of a channel requested in `[from, to)`, oldest first.
pub async fn select(
    bevara: &Bevara,
    channel: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<String>, ExportError> {
    let channel = channel
        .parse()
        .map_err(|e: crate::registry::RegistryError| ExportError::Usage(e.to_string()))?;
    let list = bevara
        .db()
        .list_captures(&crate::db::CaptureFilter {
            channel: Some(channel),
            from,
            to,
            state: Some(CaptureState::Complete),
        })
        .await?;
    Ok(list.into_iter().map(|c| c.id).collect())
}

/// Writes one information package of `snapshots` into `out`, or, with
/// `zip`, a zip of it beside where the folder would be. The disposal records
/// of the package's channels go with it, so the archive knows what was
/// disposed of between deliveries and by which decision.
pub async fn export(
    bevara: &Bevara,
    snapshots: &[String],
    out: &Path,
    opts: ExportOptions,
) -> Result<Exported, ExportError> {
    if snapshots.is_empty() {
        return Err(ExportError::Usage("no snapshots to export".into()));
    }
    let mut ids = snapshots.to_vec();
    ids.sort();
    ids.dedup();
    let objid = package_id(&ids);
    std::fs::create_dir_all(out).map_err(io_at(out))?;
    let root = out.join(&objid);
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(io_at(&root))?;
    }
    let now = Utc::now();
    let mut reps = Vec::new();
    let mut authority = bevara.settings().export.authority.clone();
    for id in &ids {
        let rec = bevara.db().capture(id).await?;
        if rec.state != CaptureState::Complete {
            return Err(ExportError::Usage(format!(
                "snapshot {id} is {}, not complete; only complete snapshots are delivered",
                rec.state.as_str()
            )));
        }
        let (_, manifest) = crate::archive::manifest(bevara, id).await?;
        if authority.is_empty() {
            authority = manifest.channel.owner.clone().unwrap_or_default();
        }
        reps.push(
            write_representation(
                bevara,
                &root,
                id,
                &rec.manifest_key,
                manifest,
                now,
                opts.renditions,
            )
            .await?,
        );
    }
    if authority.is_empty() {
        authority = "Okänd myndighet".into();
    }
    // Schemas.
    let schemas_dir = root.join("schemas");
    std::fs::create_dir_all(&schemas_dir).map_err(io_at(&schemas_dir))?;
    let mut schema_files = Vec::new();
    for (name, bytes) in SCHEMAS {
        let p = schemas_dir.join(name);
        std::fs::write(&p, bytes).map_err(io_at(&p))?;
        schema_files.push(list_file(
            &root,
            &format!("schemas/{name}"),
            "application/xml",
            now,
        )?);
    }
    // The package's PREMIS: who made it, and the packaging event.
    let pres = root.join("metadata/preservation");
    std::fs::create_dir_all(&pres).map_err(io_at(&pres))?;
    // The disposal records of the channels in the package.
    let channels: Vec<&str> = reps
        .iter()
        .map(|r| r.manifest.channel.id.as_str())
        .collect();
    let disposals: Vec<Disposal> = bevara
        .db()
        .disposals()
        .await?
        .into_iter()
        .filter(|d| channels.contains(&d.channel_id.as_str()))
        .collect();
    let mut root_other = Vec::new();
    if !disposals.is_empty() {
        let other = root.join("metadata/other");
        std::fs::create_dir_all(&other).map_err(io_at(&other))?;
        let p = other.join("disposals.json");
        let doc = serde_json::json!({
            "schema": "bevara.disposals",
            "schema_version": 1,
            "disposals": disposals,
        });
        std::fs::write(&p, serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .map_err(io_at(&p))?;
        root_other.push(list_file(
            &root,
            "metadata/other/disposals.json",
            "application/json",
            now,
        )?);
    }
    let premis_path = pres.join("premis.xml");
    root_premis(&objid, &authority, &reps, &disposals, now)
        .map_err(io_at(&premis_path))?
        .finish(&premis_path)?;
    let premis = list_file(&root, "metadata/preservation/premis.xml", "text/xml", now)?;
    let mets_path = root.join("METS.xml");
    root_mets(
        bevara,
        &objid,
        &authority,
        &reps,
        &schema_files,
        &premis,
        &root_other,
        now,
    )
    .map_err(io_at(&mets_path))?
    .finish(&mets_path)?;

    let (mut files, mut bytes) = (0usize, 0u64);
    for f in files_under(&root) {
        files += 1;
        bytes += std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
    }
    let path = if opts.zip {
        let z = out.join(format!("{objid}.zip"));
        zip_dir(&root, &objid, &z)?;
        std::fs::remove_dir_all(&root).map_err(io_at(&root))?;
        z
    } else {
        root
    };
    Ok(Exported {
        package_id: objid,
        path,
        snapshots: ids,
        files,
        bytes,
        renditions: reps
            .iter()
            .flat_map(|r| {
                r.renditions
                    .iter()
                    .map(|n| format!("{}/data/renditions/{n}", r.id))
            })
            .collect(),
        disposals: disposals.len(),
    })
}

async fn write_representation(
    bevara: &Bevara,
    root: &Path,
    id: &str,
    manifest_key: &Option<String>,
    manifest: Manifest,
    now: DateTime<Utc>,
    renditions: bool,
) -> Result<Rep, ExportError> {
    let rep_dir = root.join("representations").join(id);
    let data = rep_dir.join("data");
    let other = rep_dir.join("metadata/other");
    let pres = rep_dir.join("metadata/preservation");
    for d in [&data, &other, &pres] {
        std::fs::create_dir_all(d).map_err(io_at(d))?;
    }
    let created = manifest.finished_at;
    let mut listed = Vec::new();
    let mut other_files = Vec::new();
    for a in &manifest.artifacts {
        // The items are metadata about the page; the rest is the page as captured.
        let (dir, rel) = if a.name == "items.json" {
            (&other, format!("metadata/other/{}", a.name))
        } else {
            (&data, format!("data/{}", a.name))
        };
        let path = dir.join(&a.name);
        bevara
            .store()
            .get_to_file(&a.key, &path)
            .await
            .map_err(crate::archive::ArchiveError::from)?;
        let l = list_file(&rep_dir, &rel, &a.media_type, created)?;
        if !l.sha256.eq_ignore_ascii_case(&a.sha256) {
            return Err(ExportError::Mismatch {
                snapshot: id.to_string(),
                name: a.name.clone(),
                why: format!(
                    "SHA-256 {} in the store, {} in the manifest",
                    l.sha256, a.sha256
                ),
            });
        }
        if a.name == "items.json" {
            other_files.push(l);
        } else {
            listed.push((a.clone(), l));
        }
    }
    // Preservation renditions, made from the checked copies.
    let mut made: Vec<(Rendition, Listed)> = Vec::new();
    if renditions {
        for (a, _) in &listed {
            let Some((kind, name)) = renditions::planned(&a.name, &a.media_type) else {
                continue;
            };
            let rdir = renditions::dir(&rep_dir);
            std::fs::create_dir_all(&rdir).map_err(io_at(&rdir))?;
            let r = renditions::make(
                kind,
                &data.join(&a.name),
                &rdir.join(&name),
                &a.name,
                &bevara.settings().export,
                &bevara.settings().recording.ffmpeg_path,
            )
            .await?;
            let l = list_file(
                &rep_dir,
                &format!("data/renditions/{name}"),
                r.media_type,
                now,
            )?;
            made.push((r, l));
        }
    }
    if let Some(key) = manifest_key {
        let p = other.join("manifest.json");
        bevara
            .store()
            .get_to_file(key, &p)
            .await
            .map_err(crate::archive::ArchiveError::from)?;
        other_files.push(list_file(
            &rep_dir,
            "metadata/other/manifest.json",
            "application/json",
            created,
        )?);
    }
    // The manifest's trusted timestamp, where one was taken.
    if let Some(t) = crate::timestamp::token(bevara, id).await? {
        let p = other.join(crate::timestamp::TOKEN_NAME);
        bevara
            .store()
            .get_to_file(&t.key, &p)
            .await
            .map_err(crate::archive::ArchiveError::from)?;
        let l = list_file(
            &rep_dir,
            &format!("metadata/other/{}", crate::timestamp::TOKEN_NAME),
            crate::timestamp::TOKEN_MEDIA_TYPE,
            created,
        )?;
        if !l.sha256.eq_ignore_ascii_case(&t.sha256) {
            return Err(ExportError::Mismatch {
                snapshot: id.to_string(),
                name: t.name.clone(),
                why: format!("SHA-256 {} in the store, {} recorded", l.sha256, t.sha256),
            });
        }
        other_files.push(l);
    }
    // The comments removed since the snapshot before: their own object.
    if let Some(diff) = manifest
        .diff
        .as_ref()
        .filter(|d| !d.removed_items.is_empty())
    {
        let p = other.join("removed-items.json");
        let doc = serde_json::json!({
            "schema": "bevara.removed-items",
            "schema_version": 1,
            "snapshot_id": id,
            "previous_snapshot": diff.previous_snapshot,
            "removed": diff.removed_items,
        });
        std::fs::write(&p, serde_json::to_vec_pretty(&doc).unwrap_or_default())
            .map_err(io_at(&p))?;
        other_files.push(list_file(
            &rep_dir,
            "metadata/other/removed-items.json",
            "application/json",
            now,
        )?);
    }
    let premis_path = pres.join("premis.xml");
    rep_premis(id, &manifest, &listed, &made, &other_files)
        .map_err(io_at(&premis_path))?
        .finish(&premis_path)?;
    let premis = list_file(
        &rep_dir,
        "metadata/preservation/premis.xml",
        "text/xml",
        now,
    )?;
    let mets_path = rep_dir.join("METS.xml");
    rep_mets(id, &manifest, &listed, &made, &other_files, &premis, now)
        .map_err(io_at(&mets_path))?
        .finish(&mets_path)?;
    let mets = list_file(
        root,
        &format!("representations/{id}/METS.xml"),
        "text/xml",
        now,
    )?;
    Ok(Rep {
        id: id.to_string(),
        manifest,
        mets,
        renditions: made.into_iter().map(|(r, _)| r.name).collect(),
    })
}

fn rep_mets(
    id: &str,
    manifest: &Manifest,
    data: &[(ManifestArtifact, Listed)],
    made: &[(Rendition, Listed)],
    other: &[Listed],
    premis: &Listed,
    now: DateTime<Utc>,
) -> io::Result<Xml> {
    let mut x = Xml::new()?;
    let label = format!(
        "{} {}",
        manifest
            .channel
            .name
            .as_deref()
            .unwrap_or(&manifest.channel.id),
        time(manifest.requested_at)
    );
    let schemas = schema_locations("../../");
    let created = time(now);
    x.el("mets", &mets_root(id, &label, &schemas), |x| {
        x.el(
            "metsHdr",
            &[
                ("CREATEDATE", &created),
                ("RECORDSTATUS", "NEW"),
                ("csip:OAISPACKAGETYPE", "SIP"),
            ],
            software_agent,
        )?;
        x.el("amdSec", &[("ID", "amd")], |x| {
            md_ref(x, "md-premis", premis, "PREMIS", None)?;
            for (i, f) in other.iter().enumerate() {
                let kind = f
                    .href
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(".json")
                    .replace('.', "-");
                md_ref(
                    x,
                    &format!("md-other-{i}"),
                    f,
                    "OTHER",
                    Some(&format!("bevara-{kind}")),
                )?;
            }
            Ok(())
        })?;
        x.el("fileSec", &[("ID", "files")], |x| {
            x.el("fileGrp", &[("ID", "grp-data"), ("USE", "Data")], |x| {
                for (a, f) in data {
                    file_entry(x, &xml_id("file", &a.name), f)?;
                }
                for (r, f) in made {
                    file_entry(x, &xml_id("file-rendition", &r.name), f)?;
                }
                Ok(())
            })
        })?;
        let admids: Vec<String> = std::iter::once("md-premis".to_string())
            .chain((0..other.len()).map(|i| format!("md-other-{i}")))
            .collect();
        let admid = admids.join(" ");
        x.el(
            "structMap",
            &[("ID", "struct"), ("TYPE", "PHYSICAL"), ("LABEL", "CSIP")],
            |x| {
                x.el("div", &[("ID", "div-root"), ("LABEL", id)], |x| {
                    x.empty(
                        "div",
                        &[
                            ("ID", "div-metadata"),
                            ("LABEL", "Metadata"),
                            ("ADMID", &admid),
                        ],
                    )?;
                    x.el("div", &[("ID", "div-data"), ("LABEL", "Data")], |x| {
                        x.empty("fptr", &[("FILEID", "grp-data")])
                    })
                })
            },
        )
    })?;
    Ok(x)
}

fn root_mets(
    bevara: &Bevara,
    objid: &str,
    authority: &str,
    reps: &[Rep],
    schema_files: &[Listed],
    premis: &Listed,
    other: &[Listed],
    now: DateTime<Utc>,
) -> io::Result<Xml> {
    let mut x = Xml::new()?;
    let channels: Vec<String> = {
        let mut c: Vec<String> = reps.iter().map(|r| r.manifest.channel.id.clone()).collect();
        c.dedup();
        c
    };
    let label = format!(
        "Sociala medier: {} ({} ögonblicksbilder)",
        channels.join(", "),
        reps.len()
    );
    let schemas = schema_locations("");
    let created = time(now);
    let authority_id = bevara.settings().export.authority_id.clone();
    x.el("mets", &mets_root(objid, &label, &schemas), |x| {
        x.el(
            "metsHdr",
            &[
                ("CREATEDATE", &created),
                ("RECORDSTATUS", "NEW"),
                ("csip:OAISPACKAGETYPE", "SIP"),
            ],
            |x| {
                x.el(
                    "agent",
                    &[("ROLE", "CREATOR"), ("TYPE", "ORGANIZATION")],
                    |x| {
                        x.text("name", &[], authority)?;
                        if !authority_id.is_empty() {
                            x.text(
                                "note",
                                &[("csip:NOTETYPE", "IDENTIFICATIONCODE")],
                                &authority_id,
                            )?;
                        }
                        Ok(())
                    },
                )?;
                software_agent(x)
            },
        )?;
        x.el("amdSec", &[("ID", "amd")], |x| {
            md_ref(x, "md-premis", premis, "PREMIS", None)?;
            for (i, f) in other.iter().enumerate() {
                md_ref(
                    x,
                    &format!("md-other-{i}"),
                    f,
                    "OTHER",
                    Some("bevara-disposals"),
                )?;
            }
            Ok(())
        })?;
        let admid: String = std::iter::once("md-premis".to_string())
            .chain((0..other.len()).map(|i| format!("md-other-{i}")))
            .collect::<Vec<_>>()
            .join(" ");
        x.el("fileSec", &[("ID", "files")], |x| {
            x.el(
                "fileGrp",
                &[("ID", "grp-schemas"), ("USE", "Schemas")],
                |x| {
                    for (i, f) in schema_files.iter().enumerate() {
                        file_entry(x, &format!("file-schema-{i}"), f)?;
                    }
                    Ok(())
                },
            )?;
            for r in reps {
                let grp = xml_id("grp-rep", &r.id);
                let usage = format!("Representations/{}", r.id);
                x.el("fileGrp", &[("ID", &grp), ("USE", &usage)], |x| {
                    file_entry(x, &xml_id("file-rep-mets", &r.id), &r.mets)
                })?;
            }
            Ok(())
        })?;
        x.el(
            "structMap",
            &[("ID", "struct"), ("TYPE", "PHYSICAL"), ("LABEL", "CSIP")],
            |x| {
                x.el("div", &[("ID", "div-root"), ("LABEL", objid)], |x| {
                    x.empty(
                        "div",
                        &[
                            ("ID", "div-metadata"),
                            ("LABEL", "Metadata"),
                            ("ADMID", &admid),
                        ],
                    )?;
                    x.el("div", &[("ID", "div-schemas"), ("LABEL", "Schemas")], |x| {
                        x.empty("fptr", &[("FILEID", "grp-schemas")])
                    })?;
                    for r in reps {
                        let usage = format!("Representations/{}", r.id);
                        let href = format!("representations/{}/METS.xml", r.id);
                        let grp = xml_id("grp-rep", &r.id);
                        x.el(
                            "div",
                            &[("ID", &xml_id("div-rep", &r.id)), ("LABEL", &usage)],
                            |x| {
                                x.empty(
                                    "mptr",
                                    &[
                                        ("LOCTYPE", "URL"),
                                        ("xlink:type", "simple"),
                                        ("xlink:href", &href),
                                        ("xlink:title", &grp),
                                    ],
                                )
                            },
                        )?;
                    }
                    Ok(())
                })
            },
        )
    })?;
    Ok(x)
}

fn premis_open(
    x: &mut Xml,
    schema: &str,
    inner: impl FnOnce(&mut Xml) -> io::Result<()>,
) -> io::Result<()> {
    let loc = format!("{NS_PREMIS} {schema}");
    x.el(
        "premis:premis",
        &[
            ("xmlns:premis", NS_PREMIS),
            ("xmlns:xsi", NS_XSI),
            ("xsi:schemaLocation", &loc),
            ("version", "3.0"),
        ],
        inner,
    )
}

fn ident(x: &mut Xml, el: &str, kind: &str, value: &str) -> io::Result<()> {
    x.el(&format!("premis:{el}Identifier"), &[], |x| {
        x.text(&format!("premis:{el}IdentifierType"), &[], kind)?;
        x.text(&format!("premis:{el}IdentifierValue"), &[], value)
    })
}

/// One file as a PREMIS object; `source` names the object a rendition was
/// derived from.
fn premis_file(
    x: &mut Xml,
    href: &str,
    f: &Listed,
    event: &str,
    note: Option<&str>,
    source: Option<&str>,
) -> io::Result<()> {
    x.el("premis:object", &[("xsi:type", "premis:file")], |x| {
        ident(x, "object", "local", href)?;
        if let Some(n) = note {
            x.el("premis:significantProperties", &[], |x| {
                x.text("premis:significantPropertiesType", &[], "content")?;
                x.text("premis:significantPropertiesValue", &[], n)
            })?;
        }
        x.el("premis:objectCharacteristics", &[], |x| {
            x.el("premis:fixity", &[], |x| {
                x.text("premis:messageDigestAlgorithm", &[], "SHA-256")?;
                x.text("premis:messageDigest", &[], &f.sha256)
            })?;
            x.text("premis:size", &[], &f.size.to_string())?;
            x.el("premis:format", &[], |x| {
                x.el("premis:formatDesignation", &[], |x| {
                    x.text("premis:formatName", &[], &f.mime)
                })
            })
        })?;
        x.text(
            "premis:originalName",
            &[],
            href.rsplit('/').next().unwrap_or(href),
        )?;
        if let Some(src) = source {
            x.el("premis:relationship", &[], |x| {
                x.text("premis:relationshipType", &[], "derivation")?;
                x.text("premis:relationshipSubType", &[], "has source")?;
                x.el("premis:relatedObjectIdentifier", &[], |x| {
                    x.text("premis:relatedObjectIdentifierType", &[], "local")?;
                    x.text("premis:relatedObjectIdentifierValue", &[], src)
                })
            })?;
        }
        x.el("premis:linkingEventIdentifier", &[], |x| {
            x.text("premis:linkingEventIdentifierType", &[], "local")?;
            x.text("premis:linkingEventIdentifierValue", &[], event)
        })
    })
}

/// A PREMIS event's identifier, type, time, detail and outcome.
fn event_head(
    x: &mut Xml,
    id: &str,
    kind: &str,
    when: &str,
    detail: &str,
    outcome: &str,
) -> io::Result<()> {
    ident(x, "event", "local", id)?;
    x.text("premis:eventType", &[], kind)?;
    x.text("premis:eventDateTime", &[], when)?;
    x.el("premis:eventDetailInformation", &[], |x| {
        x.text("premis:eventDetail", &[], detail)
    })?;
    x.el("premis:eventOutcomeInformation", &[], |x| {
        x.text("premis:eventOutcome", &[], outcome)
    })
}

/// An event's link to an object, with the object's role in it.
fn link_object(x: &mut Xml, value: &str, role: Option<&str>) -> io::Result<()> {
    x.el("premis:linkingObjectIdentifier", &[], |x| {
        x.text("premis:linkingObjectIdentifierType", &[], "local")?;
        x.text("premis:linkingObjectIdentifierValue", &[], value)?;
        if let Some(r) = role {
            x.text("premis:linkingObjectRole", &[], r)?;
        }
        Ok(())
    })
}

fn agent(x: &mut Xml, id: &str, name: &str, kind: &str, version: Option<&str>) -> io::Result<()> {
    x.el("premis:agent", &[], |x| {
        ident(x, "agent", "local", id)?;
        x.text("premis:agentName", &[], name)?;
        x.text("premis:agentType", &[], kind)?;
        if let Some(v) = version {
            x.text("premis:agentVersion", &[], v)?;
        }
        Ok(())
    })
}

fn link_agent(x: &mut Xml, id: &str, role: &str) -> io::Result<()> {
    x.el("premis:linkingAgentIdentifier", &[], |x| {
        x.text("premis:linkingAgentIdentifierType", &[], "local")?;
        x.text("premis:linkingAgentIdentifierValue", &[], id)?;
        x.text("premis:linkingAgentRole", &[], role)
    })
}

/// A representation's PREMIS: each file with its fixity and format, the
/// capture as an event with its trigger, reason and requester, and the
/// software, browser and requester as agents.
fn rep_premis(
    id: &str,
    m: &Manifest,
    data: &[(ManifestArtifact, Listed)],
    made: &[(Rendition, Listed)],
    other: &[Listed],
) -> io::Result<Xml> {
    let mut x = Xml::new()?;
    let event = format!("capture-{id}");
    premis_open(&mut x, "../../../../schemas/premis.xsd", |x| {
        for (_, f) in data {
            premis_file(
                x,
                &format!("representations/{id}/{}", f.href),
                f,
                &event,
                None,
                None,
            )?;
        }
        for (i, (r, f)) in made.iter().enumerate() {
            premis_file(
                x,
                &format!("representations/{id}/{}", f.href),
                f,
                &format!("migration-{id}-{i}"),
                None,
                Some(&format!("representations/{id}/data/{}", r.source)),
            )?;
        }
        for f in other {
            let note = f.href.ends_with("removed-items.json").then(|| {
                let n = m.diff.as_ref().map_or(0, |d| d.removed_items.len());
                let prev = m.diff.as_ref().map(|d| d.previous_snapshot.as_str()).unwrap_or("");
                format!("{n} comments and posts present in snapshot {prev} and removed before this capture")
            });
            premis_file(
                x,
                &format!("representations/{id}/{}", f.href),
                f,
                &event,
                note.as_deref(),
                None,
            )?;
        }
        x.el("premis:event", &[], |x| {
            let detail = format!(
                "{} of {} ({}) by {}; trigger {}{}{}",
                m.profile,
                m.requested_url,
                m.channel.platform,
                "Bevara",
                m.trigger.kind,
                m.trigger
                    .reason
                    .as_deref()
                    .map(|r| format!(", reason: {r}"))
                    .unwrap_or_default(),
                m.trigger
                    .requested_by
                    .as_deref()
                    .map(|r| format!(", requested by {r}"))
                    .unwrap_or_default()
            );
            event_head(
                x,
                &event,
                "capture",
                &time(m.started_at),
                &detail,
                "complete",
            )?;
            link_agent(x, "agent-bevara", "executing program")?;
            link_agent(x, "agent-browser", "executing program")?;
            if m.trigger.requested_by.is_some() {
                link_agent(x, "agent-requester", "requester")?;
            }
            for (_, f) in data {
                link_object(x, &format!("representations/{id}/{}", f.href), None)?;
            }
            Ok(())
        })?;
        for (i, (r, f)) in made.iter().enumerate() {
            x.el("premis:event", &[], |x| {
                event_head(
                    x,
                    &format!("migration-{id}-{i}"),
                    "migration",
                    &time(f.created),
                    &r.detail,
                    "success",
                )?;
                link_agent(x, &format!("agent-tool-{i}"), "executing program")?;
                for (obj, role) in [
                    (format!("representations/{id}/data/{}", r.source), "source"),
                    (format!("representations/{id}/{}", f.href), "outcome"),
                ] {
                    link_object(x, &obj, Some(role))?;
                }
                Ok(())
            })?;
        }
        agent(
            x,
            "agent-bevara",
            "Bevara",
            "software",
            Some(env!("CARGO_PKG_VERSION")),
        )?;
        agent(x, "agent-browser", &m.browser.product, "software", None)?;
        for (i, (r, _)) in made.iter().enumerate() {
            agent(x, &format!("agent-tool-{i}"), &r.tool, "software", None)?;
        }
        if let Some(r) = &m.trigger.requested_by {
            agent(x, "agent-requester", r, "person", None)?;
        }
        Ok(())
    })?;
    Ok(x)
}

/// The package's PREMIS: the authority and Bevara as agents, and the
/// packaging as an event.
fn root_premis(
    objid: &str,
    authority: &str,
    reps: &[Rep],
    disposals: &[Disposal],
    now: DateTime<Utc>,
) -> io::Result<Xml> {
    let mut x = Xml::new()?;
    premis_open(&mut x, "../../schemas/premis.xsd", |x| {
        // The package itself, as the intellectual entity the event made.
        x.el(
            "premis:object",
            &[("xsi:type", "premis:intellectualEntity")],
            |x| {
                ident(x, "object", "local", objid)?;
                x.el("premis:linkingEventIdentifier", &[], |x| {
                    x.text("premis:linkingEventIdentifierType", &[], "local")?;
                    x.text("premis:linkingEventIdentifierValue", &[], "packaging")
                })
            },
        )?;
        x.el("premis:event", &[], |x| {
            let detail = format!(
                "{} snapshots packaged for delivery to the e-archive: {}",
                reps.len(),
                reps.iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            event_head(x, "packaging", "packing", &time(now), &detail, "success")?;
            link_agent(x, "agent-bevara", "executing program")?;
            link_agent(x, "agent-authority", "authorizer")
        })?;
        // Each disposal of an earlier snapshot of these channels, with the
        // decision it followed (disposals.json holds the full records).
        for d in disposals {
            x.el("premis:event", &[], |x| {
                let detail = format!(
                    "snapshot {} of channel {} (captured {}; {} objects, {} bytes) disposed of under decision {}{}{}, after {} days{}",
                    d.snapshot_id,
                    d.channel_id,
                    time(d.requested_at),
                    d.objects,
                    d.bytes,
                    d.decision_id,
                    d.decision_date
                        .as_deref()
                        .map(|t| format!(" of {t}"))
                        .unwrap_or_default(),
                    d.decision_text
                        .as_deref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default(),
                    d.keep_days,
                    d.disposed_by
                        .as_deref()
                        .map(|b| format!("; by {b}"))
                        .unwrap_or_default()
                );
                event_head(x, &format!("disposal-{}", d.id), "deletion", &time(d.disposed_at), &detail, "success")?;
                link_agent(x, "agent-bevara", "executing program")?;
                link_agent(x, "agent-authority", "authorizer")
            })?;
        }
        agent(x, "agent-authority", authority, "organization", None)?;
        agent(
            x,
            "agent-bevara",
            "Bevara",
            "software",
            Some(env!("CARGO_PKG_VERSION")),
        )
    })?;
    Ok(x)
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The package folder as one zip, its entries under the package id
/// (stored: the artifacts are compressed already).
fn zip_dir(root: &Path, objid: &str, dest: &Path) -> Result<(), ExportError> {
    let f = std::fs::File::create(dest).map_err(io_at(dest))?;
    let mut z = zip::ZipWriter::new(io::BufWriter::new(f));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for p in files_under(root) {
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        z.start_file(format!("{objid}/{rel}"), opts)
            .map_err(|e| ExportError::Io {
                path: dest.to_path_buf(),
                source: io::Error::other(e),
            })?;
        let mut src = std::fs::File::open(&p).map_err(io_at(&p))?;
        io::copy(&mut src, &mut z).map_err(io_at(dest))?;
    }
    z.finish()
        .map_err(|e| ExportError::Io {
            path: dest.to_path_buf(),
            source: io::Error::other(e),
        })?
        .flush()
        .map_err(io_at(dest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_are_stable_and_look_like_uuids() {
        let a = package_id(&["01B".into(), "01A".into()]);
        assert_eq!(a, package_id(&["01A".into(), "01B".into(), "01A".into()]));
        assert_ne!(a, package_id(&["01A".into()]));
        assert!(a.starts_with("uuid-") && a.len() == 41, "{a}");
        assert_eq!(&a[19..20], "5");
        assert_eq!(
            xml_id("file", "screenshot-p2.png"),
            "file-screenshot-p2-png"
        );
    }
}
