//! Settings forced for one run on the command line, over what the
//! repository configures: git-annex's common options `--numcopies N`,
//! `--mincopies N`, `--semitrust REPO` and `--untrust REPO`.
//!
//! They are the process's, as `-c NAME=VALUE` is ([`crate::config`]):
//! the program records them once ([`set`]) before opening repositories,
//! and every decision reads them through the functions that apply them
//! ([`numcopies`], [`mincopies`], [`apply_trust`]), so that a drop never
//! counts copies with a setting the user overrode. As in git-annex, a
//! forced number wins over `numcopies.log`, the deprecated
//! `annex.numcopies` git config and a file's `.gitattributes`; a forced
//! trust level wins over `trust.log` and `remote.NAME.annex-trustlevel`.
//! A number below 1 counts as 1, as git-annex's `configuredNumCopies`.
//!
//! ```
//! use annex_core::forced::{self, Forced};
//! forced::set(Forced { numcopies: Some(0), ..Forced::default() });
//! assert_eq!(forced::numcopies(), Some(1));
//! assert_eq!(forced::mincopies(), None);
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::config::AnnexConfig;
use crate::logs::trust::TrustLevel;
use crate::uuid::Uuid;

/// What the command line forces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forced {
    /// `--numcopies N`.
    pub numcopies: Option<i64>,
    /// `--mincopies N`.
    pub mincopies: Option<i64>,
    /// `--semitrust REPO` and `--untrust REPO`, in command-line order (a
    /// later one for the same repository wins): the repository as named
    /// (`here`, a remote, a description or a UUID) and its level.
    pub trust: Vec<(String, TrustLevel)>,
}

static FORCED: OnceLock<Forced> = OnceLock::new();

/// Records what the command line forces for this process; only the first
/// call counts (repositories may have been read with it).
pub fn set(forced: Forced) {
    let _ = FORCED.set(forced);
}

/// What the command line forces (nothing before [`set`]).
pub fn get() -> &'static Forced {
    FORCED.get_or_init(Forced::default)
}

/// `--numcopies`, at least 1.
pub fn numcopies() -> Option<i64> {
    get().numcopies.map(|n| n.max(1))
}

/// `--mincopies`, at least 1.
pub fn mincopies() -> Option<i64> {
    get().mincopies.map(|n| n.max(1))
}

/// Lays the forced trust levels over `levels` (the trust map of the
/// repository whose git config is `config` and whose descriptions are
/// `descriptions`). A name that names no repository is skipped here: the
/// program refuses it when it opens the repository, as git-annex does.
pub fn apply_trust(
    levels: &mut BTreeMap<Uuid, TrustLevel>,
    config: &AnnexConfig,
    descriptions: &BTreeMap<Uuid, Vec<u8>>,
) {
    let here = here(config);
    for (name, level) in &get().trust {
        if let Ok(u) = crate::config::resolve_repository(name, here.as_ref(), config, descriptions)
        {
            levels.insert(u, *level);
        }
    }
}

fn here(config: &AnnexConfig) -> Option<Uuid> {
    config
        .get_str("annex.uuid")
        .and_then(|u| Uuid::parse(u.as_bytes()).ok())
}
