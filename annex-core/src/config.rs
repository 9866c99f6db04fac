//! git-annex's settings from git config: annex.* values and the remotes.
