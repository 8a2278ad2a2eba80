//! Preservation renditions for `bevara export --renditions`: the PDF as
//! PDF/A-2b (Ghostscript's pdfwrite) and the recording as FFV1 in Matroska
//! (ffmpeg). Both tools are run as processes: no Rust library writes PDF/A
//! or FFV1, and these two are what archives themselves use.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A conversion that runs longer than this is stopped.
const TOOL_TIMEOUT: Duration = Duration::from_secs(1800);

/// What a rendition was made from and with.
#[derive(Debug, Clone)]
pub struct Rendition {
    /// File name under `data/renditions/`.
    pub name: String,
    pub media_type: &'static str,
    /// The artifact it was made from.
    pub source: String,
    /// The tool and its version, e.g. "Ghostscript 10.00.0".
    pub tool: String,
    /// What was done, for the PREMIS migration event.
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
#[error("rendition of {source_name} with {tool}: {why}")]
pub struct RenditionError {
    pub source_name: String,
    pub tool: String,
    pub why: String,
}

/// Which rendition an artifact gets, if any: PDF to PDF/A-2b, a recording
/// that is not already FFV1 to FFV1/MKV.
pub fn planned(name: &str, media_type: &str) -> Option<(&'static str, String)> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    if media_type.starts_with("application/pdf") {
        Some(("pdfa", format!("{stem}.pdfa-2b.pdf")))
    } else if media_type.starts_with("video/") && !name.ends_with(".mkv") {
        Some(("ffv1", format!("{stem}.ffv1.mkv")))
    } else {
        None
    }
}

/// The PostScript prologue that gives the PDF/A its OutputIntent (an sRGB
/// ICC profile), which PDF/A requires and Ghostscript does not add itself.
fn output_intent(icc: &Path) -> String {
    // PostScript string: escape the characters a string literal cannot hold.
    let p = icc
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)");
    format!(
        "%!\n\
         /BevaraICC ({p}) def\n\
         [/_objdef {{bevara_icc}} /type /stream /OBJ pdfmark\n\
         [{{bevara_icc}} << /N 3 >> /PUT pdfmark\n\
         [{{bevara_icc}} BevaraICC (r) file /PUT pdfmark\n\
         [/_objdef {{bevara_intent}} /type /dict /OBJ pdfmark\n\
         [{{bevara_intent}} << /Type /OutputIntent /S /GTS_PDFA1 /DestOutputProfile {{bevara_icc}} /OutputConditionIdentifier (sRGB) >> /PUT pdfmark\n\
         [{{Catalog}} << /OutputIntents [ {{bevara_intent}} ] >> /PUT pdfmark\n"
    )
}

async fn run(tool: &Path, args: &[String]) -> Result<String, String> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", tool.display()))?;
    match tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output()).await {
        Err(_) => Err(format!("stopped after {} s", TOOL_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(4).collect();
            Err(format!(
                "{}: {}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))
        }
    }
}

async fn version(tool: &Path, arg: &str, name: &str) -> String {
    match run(tool, &[arg.to_string()]).await {
        Ok(out) => {
            let first = out.lines().next().unwrap_or("").trim();
            // "ffmpeg version 5.1.6-0+deb12u1 Copyright …" → "5.1.6-0+deb12u1"
            let v = first
                .strip_prefix("ffmpeg version ")
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or(first);
            format!("{name} {v}")
        }
        Err(_) => name.to_string(),
    }
}

/// Makes the rendition `kind` of `src` as `dest`.
pub async fn make(
    kind: &str,
    src: &Path,
    dest: &Path,
    source_name: &str,
    s: &crate::config::ExportSettings,
    ffmpeg: &Path,
) -> Result<Rendition, RenditionError> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let err = |tool: &str, why: String| RenditionError {
        source_name: source_name.to_string(),
        tool: tool.to_string(),
        why,
    };
    if kind == "pdfa" {
        let gs = &s.ghostscript_path;
        if !s.icc_profile.is_file() {
            return Err(err(
                "Ghostscript",
                format!(
                    "the sRGB profile {} is missing (export.icc_profile)",
                    s.icc_profile.display()
                ),
            ));
        }
        let prologue = dest.with_extension("intent.ps");
        std::fs::write(&prologue, output_intent(&s.icc_profile))
            .map_err(|e| err("Ghostscript", e.to_string()))?;
        let icc_dir = s
            .icc_profile
            .parent()
            .map(|p| format!("{}/", p.display()))
            .unwrap_or_default();
        let args = vec![
            "-q".into(),
            "-dPDFA=2".into(),
            "-dBATCH".into(),
            "-dNOPAUSE".into(),
            "-dPDFACompatibilityPolicy=1".into(),
            "-sColorConversionStrategy=RGB".into(),
            "-sDEVICE=pdfwrite".into(),
            format!("--permit-file-read={icc_dir}"),
            format!("-sOutputFile={}", dest.display()),
            prologue.display().to_string(),
            src.display().to_string(),
        ];
        let r = run(gs, &args).await;
        let _ = std::fs::remove_file(&prologue);
        r.map_err(|why| err("Ghostscript", why))?;
        let tool = version(gs, "--version", "Ghostscript").await;
        Ok(Rendition {
            name,
            media_type: "application/pdf",
            source: source_name.to_string(),
            detail: format!("{source_name} migrated to PDF/A-2b (sRGB OutputIntent) with {tool}"),
            tool,
        })
    } else {
        let args: Vec<String> = [
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-i",
            &src.display().to_string(),
            "-map",
            "0:v",
            // Every frame as it is: no frames dropped or repeated to a rate.
            "-fps_mode",
            "passthrough",
            "-c:v",
            "ffv1",
            "-level",
            "3",
            "-g",
            "1",
            "-slicecrc",
            "1",
            &dest.display().to_string(),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        run(ffmpeg, &args).await.map_err(|why| err("ffmpeg", why))?;
        let tool = version(ffmpeg, "-version", "ffmpeg").await;
        Ok(Rendition {
            name,
            media_type: "video/x-matroska",
            source: source_name.to_string(),
            detail: format!(
                "{source_name} migrated to FFV1 level 3 (every frame a key frame, slice CRCs) in Matroska with {tool}; the decoded frames are unchanged"
            ),
            tool,
        })
    }
}

/// Where the renditions of a representation go.
pub fn dir(rep_dir: &Path) -> PathBuf {
    rep_dir.join("data/renditions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_pdf_and_non_ffv1_video_only() {
        assert_eq!(
            planned("page.pdf", "application/pdf").map(|p| p.1),
            Some("page.pdfa-2b.pdf".into())
        );
        assert_eq!(
            planned("recording.mp4", "video/mp4").map(|p| p.1),
            Some("recording.ffv1.mkv".into())
        );
        assert!(planned("recording.mkv", "video/x-matroska").is_none());
        assert!(planned("screenshot.png", "image/png").is_none());
    }

    #[test]
    fn prologue_escapes_the_profile_path() {
        let p = output_intent(Path::new("/icc/s(rgb).icc"));
        assert!(p.contains("(/icc/s\\(rgb\\).icc)"), "{p}");
        assert!(p.contains("/GTS_PDFA1"));
    }
}
