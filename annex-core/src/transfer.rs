//! Transfers: transfer information files, resumable downloads, verification.
