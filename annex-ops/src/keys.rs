//! The keys the `git-annex` branch knows: what `--all` acts on.

use annex_core::key::Key;

use crate::annex::{Annex, AnnexError};

impl Annex {
    /// Every key with a location log in the `git-annex` branch (journal
    /// included), in the branch's order, dead or not: the items of
    /// `--all` (`get --all`, `sync --content --all`).
    pub fn logged_keys(&self) -> Result<Vec<Key>, AnnexError> {
        let mut keys = Vec::new();
        self.session.state.branch().for_each_file(
            |p| p.ends_with(b".log") && p.iter().filter(|&&c| c == b'/').count() == 2,
            |p, _| {
                let name = p.rsplit(|&c| c == b'/').next().unwrap_or(p);
                if let Some(stem) = name.strip_suffix(b".log")
                    && let Some(k) = annex_core::objects::file_key(stem)
                {
                    keys.push(k);
                }
            },
        )?;
        Ok(keys)
    }
}
