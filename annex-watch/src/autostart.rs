//! `~/.config/git-annex/autostart`: the repositories `assistant
//! --autostart` starts a daemon in (and `--autostop` stops), one absolute
//! path a line, as git-annex keeps it. Relative lines are ignored (old
//! git-annex wrote `.` there), a trailing `/` is dropped, a path listed
//! twice counts once.

use std::path::{Path, PathBuf};

/// The autostart file: `$XDG_CONFIG_HOME/git-annex/autostart`, or under
/// `$HOME/.config` when that is not set.
pub fn autostart_file() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("git-annex").join("autostart"))
}

/// The repositories listed in the autostart file `text`.
pub fn parse(text: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let mut l = line;
        while l.len() > 1 && l.ends_with(b"/") {
            l = &l[..l.len() - 1];
        }
        let p = Path::new(std::ffi::OsStr::from_bytes(l));
        if p.is_absolute() && !out.iter().any(|o| o == p) {
            out.push(p.to_path_buf());
        }
    }
    out
}

/// The repositories the autostart file lists (none when it is missing).
pub fn read() -> Vec<PathBuf> {
    autostart_file()
        .and_then(|f| std::fs::read(f).ok())
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_once_each() {
        let got = parse(b"/a/b/\n.\nrel\n/a/b\n/c\n\n");
        assert_eq!(got, vec![PathBuf::from("/a/b"), PathBuf::from("/c")]);
    }
}
