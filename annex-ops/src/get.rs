//! Getting content into this repository: from the cheapest remote that
//! has it, or from one named remote (`get`, `copy --from`, `move --from`).

use annex_core::transfer::Direction;
use annex_core::uuid::Uuid;

use crate::annex::{Annex, AnnexError, Whereabouts};
use crate::drop::{DropError, DropOptions, DropOutcome};
use crate::item::Item;
use crate::observer::{Observer, Warning};
use crate::remotes::RemoteEntry;

/// Which remotes a get may use, and when it acts at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetOptions<'a> {
    /// Only this remote (`--from`); it is used when it has the key now or
    /// the location log says it does.
    pub from: Option<&'a Uuid>,
    /// The name `--from` gave: of the remotes with that UUID (a
    /// repository reached two ways, a cluster through two gateways), only
    /// the one so named is used.
    pub from_name: Option<&'a str>,
    /// Only when this repository wants the content (preferred content, or
    /// fewer copies than numcopies): `--auto`.
    pub auto: bool,
}

/// What a get did.
#[derive(Debug, Clone)]
pub enum GetOutcome {
    /// The content is here now, from the remote named.
    Got {
        /// The remote's name.
        from: String,
    },
    /// No remote we have is said to have it: where else it is.
    NotAvailable(Whereabouts),
    /// Every remote tried failed (each failure went to the observer as a
    /// warning): the remotes tried, and where else it is.
    Failed {
        /// The remotes tried, by name, in order.
        tried: Vec<String>,
        /// Where else the content is said to be.
        whereabouts: Whereabouts,
    },
}

impl Annex {
    /// The remotes a get of `item` tries, in order; `None` when there is
    /// nothing to do (the content is here, not wanted under `--auto`, or
    /// the `--from` remote neither has it nor is said to).
    pub fn get_sources(
        &self,
        item: &Item,
        options: GetOptions<'_>,
    ) -> Result<Option<Vec<&RemoteEntry>>, AnnexError> {
        if self.session.store.has(&item.key) {
            // Here, but perhaps not logged (a get killed in between).
            self.record_found_here(&item.key)?;
            return Ok(None);
        }
        if options.auto && !self.auto_wants_copy(item, None)? {
            return Ok(None);
        }
        if let Some(from) = options.from {
            let entries: Vec<&RemoteEntry> = self
                .remotes
                .entries
                .iter()
                .filter(|r| r.uuid.as_ref() == Some(from))
                .filter(|r| options.from_name.is_none_or(|n| r.name == n))
                .collect();
            return Ok(match entries.first() {
                Some(e) if self.should_get_from(e, &item.key)? => Some(entries),
                _ => None,
            });
        }
        let locs = self.locations(&item.key)?;
        Ok(Some(
            self.remotes
                .entries
                .iter()
                .filter(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)))
                .collect(),
        ))
    }

    /// The remote a queued get of `item` uses: the first of its
    /// [sources](Annex::get_sources) that could be opened, when there is
    /// room for the content.
    pub fn first_source(
        &self,
        item: &Item,
        options: GetOptions<'_>,
    ) -> Result<Option<&dyn annex_core::remote::Remote>, AnnexError> {
        if self.space_shortfall(&item.key).is_some() {
            return Ok(None);
        }
        Ok(self
            .get_sources(item, options)?
            .and_then(|s| s.into_iter().find_map(|e| e.usable())))
    }

    /// Gets `item`'s content from the first of `sources` that can send it
    /// (each failure is a warning to the observer).
    pub fn get(
        &self,
        item: &Item,
        sources: &[&RemoteEntry],
        obs: &mut dyn Observer,
    ) -> Result<GetOutcome, AnnexError> {
        if sources.is_empty() {
            return Ok(GetOutcome::NotAvailable(self.whereabouts(&item.key, &[])?));
        }
        let mut tried = Vec::new();
        let mut tried_uuids = Vec::new();
        for entry in sources {
            tried.push(entry.name.clone());
            tried_uuids.extend(entry.uuid.clone());
            let Some(remote) = entry.usable() else {
                continue;
            };
            match self.download(remote, item, obs) {
                Ok(()) => {
                    return Ok(GetOutcome::Got {
                        from: entry.name.clone(),
                    });
                }
                Err(error) => obs.warning(&Warning::Remote {
                    remote: &entry.name,
                    direction: Direction::Download,
                    error: &error,
                }),
            }
        }
        Ok(GetOutcome::Failed {
            tried,
            whereabouts: self.whereabouts(&item.key, &tried_uuids)?,
        })
    }

    /// `copy --from` and `move --from` of one item: whether to act at all
    /// (see [`FromOptions`]).
    pub fn wants_from(
        &self,
        item: &Item,
        entry: &RemoteEntry,
        options: FromOptions,
    ) -> Result<bool, AnnexError> {
        let here_has = self.session.store.has(&item.key);
        if here_has {
            // Here, but perhaps not logged (a move killed in between).
            self.record_found_here(&item.key)?;
        }
        Ok((options.moving || !here_has)
            && self.should_get_from(entry, &item.key)?
            && !(options.auto && !options.moving && !self.auto_wants_copy(item, None)?))
    }

    /// `copy --from` and `move --from` of one item the caller
    /// [wants](Annex::wants_from): the content is downloaded unless here
    /// already, then, moving, dropped from the remote (without a copy
    /// check when this repository did not have it before: the number of
    /// copies is unchanged).
    pub fn get_from(
        &self,
        item: &Item,
        entry: &RemoteEntry,
        options: FromOptions,
        obs: &mut dyn Observer,
    ) -> Result<FromOutcome, DropError> {
        let here_has = self.session.store.has(&item.key);
        let Some(remote) = entry.usable() else {
            obs.note(&crate::transfer::transfer_note(
                Direction::Download,
                &entry.name,
            ));
            obs.warning(&Warning::Message("cannot access remote"));
            return Ok(FromOutcome::Unreachable);
        };
        if !here_has {
            if let Err(error) = self.download(remote, item, obs) {
                obs.warning(&Warning::Remote {
                    remote: &entry.name,
                    direction: Direction::Download,
                    error: &error,
                });
                return Ok(FromOutcome::Failed);
            }
        } else {
            obs.note(&crate::transfer::transfer_note(
                Direction::Download,
                remote.name(),
            ));
        }
        if !options.moving {
            return Ok(FromOutcome::Got);
        }
        let dropped = self.drop_remote(
            entry,
            item,
            DropOptions {
                force: options.force || !here_has,
                first: None,
            },
        )?;
        Ok(FromOutcome::Moved(dropped))
    }
}

/// How `copy --from`/`move --from` acts.
#[derive(Debug, Clone, Copy, Default)]
pub struct FromOptions {
    /// A move: the remote's copy is dropped afterwards.
    pub moving: bool,
    /// Drop the remote's copy without verifying copies (`--force`).
    pub force: bool,
    /// `--auto` (copy only): only what this repository wants.
    pub auto: bool,
}

/// What `copy --from`/`move --from` of one item did.
#[derive(Debug, Clone)]
pub enum FromOutcome {
    /// The remote could not be opened (a warning went to the observer).
    Unreachable,
    /// The download failed (a warning went to the observer).
    Failed,
    /// The content is here (copy).
    Got,
    /// The content is here, and the remote's copy was dropped or not.
    Moved(DropOutcome),
}
