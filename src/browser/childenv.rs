//! The environment of the programs Bevara starts (Chromium, ffmpeg,
//! ffprobe): only what they need to run, so no `BEVARA_*`, `AWS_*` or other
//! secret of the worker's environment ever reaches a child process.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Variables a child may get from Bevara's own environment: a home, the
/// search path, the locale and time zone, and where fonts are found.
const PASSED: &[&str] = &[
    "HOME",
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "FONTCONFIG_FILE",
    "FONTCONFIG_PATH",
    "XDG_DATA_DIRS",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
];

/// Debian's default search path, when Bevara's own environment has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The clean environment for a child process.
pub fn child_env() -> Vec<(String, OsString)> {
    let mut env: Vec<(String, OsString)> = PASSED
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v)))
        .collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    env
}

/// Applies the clean environment to a command.
pub fn clean(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    cmd.env_clear().envs(child_env())
}

/// The same for a blocking command.
pub fn clean_std(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.env_clear().envs(child_env())
}

/// Writes, in `dir`, a launcher that starts `chromium` with the clean
/// environment and every argument it is given. chromiumoxide starts the
/// browser with Bevara's whole environment and offers no way to clear it,
/// so Bevara hands it this launcher instead of the binary.
pub fn chromium_launcher(dir: &Path, chromium: &Path) -> std::io::Result<PathBuf> {
    use std::fmt::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let mut script = String::from("#!/bin/sh\nexec /usr/bin/env -i");
    for (k, v) in child_env() {
        let _ = write!(script, " {k}={}", shell_quote(&v.to_string_lossy()));
    }
    let _ = writeln!(
        script,
        " {} \"$@\"",
        shell_quote(&chromium.display().to_string())
    );
    let path = dir.join("chromium-launcher");
    std::fs::write(&path, script)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
    Ok(path)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_children_need() {
        let env = child_env();
        assert!(env.iter().any(|(k, _)| k == "PATH"));
        assert!(env
            .iter()
            .all(|(k, _)| PASSED.contains(&k.as_str()) && !k.starts_with("BEVARA_")));
    }

    #[test]
    fn the_launcher_quotes_what_it_passes() {
        let dir = tempfile::tempdir().unwrap();
        let p = chromium_launcher(dir.path(), Path::new("/opt/it's here/chromium")).unwrap();
        let text = std::fs::read_to_string(p).unwrap();
        assert!(text.starts_with("#!/bin/sh\nexec /usr/bin/env -i "));
        assert!(
            text.contains(r#"'/opt/it'\''s here/chromium' "$@""#),
            "{text}"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
