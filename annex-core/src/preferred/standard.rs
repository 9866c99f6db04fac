//! The standard groups and their preferred content expressions, as
//! git-annex defines them (`git annex group REPO client` and `wanted REPO
//! standard`).

/// A standard group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StandardGroup {
    /// `client`.
    Client,
    /// `transfer`.
    Transfer,
    /// `backup`.
    Backup,
    /// `incrementalbackup`.
    IncrementalBackup,
    /// `smallarchive`.
    SmallArchive,
    /// `archive`.
    Archive,
    /// `source`.
    Source,
    /// `manual`.
    Manual,
    /// `public`.
    Public,
    /// `unwanted`.
    Unwanted,
}

/// Every standard group, in git-annex's order.
pub const ALL: [StandardGroup; 10] = [
    StandardGroup::Client,
    StandardGroup::Transfer,
    StandardGroup::Backup,
    StandardGroup::IncrementalBackup,
    StandardGroup::SmallArchive,
    StandardGroup::Archive,
    StandardGroup::Source,
    StandardGroup::Manual,
    StandardGroup::Public,
    StandardGroup::Unwanted,
];

const NOT_ARCHIVED: &str = "not (copies=archive:1 or copies=smallarchive:1)";

fn last_resort(s: &str) -> String {
    format!("({s}) or approxlackingcopies=1")
}

impl StandardGroup {
    /// The group's name.
    pub fn name(self) -> &'static str {
        match self {
            StandardGroup::Client => "client",
            StandardGroup::Transfer => "transfer",
            StandardGroup::Backup => "backup",
            StandardGroup::IncrementalBackup => "incrementalbackup",
            StandardGroup::SmallArchive => "smallarchive",
            StandardGroup::Archive => "archive",
            StandardGroup::Source => "source",
            StandardGroup::Manual => "manual",
            StandardGroup::Public => "public",
            StandardGroup::Unwanted => "unwanted",
        }
    }

    /// The standard group of a name.
    pub fn from_name(name: &[u8]) -> Option<StandardGroup> {
        ALL.into_iter().find(|g| g.name().as_bytes() == name)
    }

    /// The group's preferred content expression, exactly as git-annex
    /// writes it.
    pub fn expression(self) -> String {
        let client = || {
            last_resort(&format!(
                "include=* and ((exclude=*/archive/* and exclude=archive/*) or ({NOT_ARCHIVED}))"
            ))
        };
        match self {
            StandardGroup::Client => client(),
            StandardGroup::Transfer => last_resort(&format!(
                "not (inallgroup=client and copies=client:2) and ({})",
                client()
            )),
            StandardGroup::Backup => "anything".to_owned(),
            StandardGroup::IncrementalBackup => {
                last_resort("(not copies=backup:1) and (not copies=incrementalbackup:1)")
            }
            StandardGroup::SmallArchive => last_resort(&format!(
                "(include=*/archive/* or include=archive/*) and ({})",
                StandardGroup::Archive.expression()
            )),
            StandardGroup::Archive => last_resort(NOT_ARCHIVED),
            StandardGroup::Source => "not (copies=1)".to_owned(),
            StandardGroup::Manual => format!("present and ({})", client()),
            StandardGroup::Public => "inpreferreddir".to_owned(),
            StandardGroup::Unwanted => "not anything".to_owned(),
        }
    }
}

/// The one standard group among a repository's groups, if exactly one is.
pub fn standard_group_of<'a>(
    groups: impl IntoIterator<Item = &'a Vec<u8>>,
) -> Option<StandardGroup> {
    let mut found = groups
        .into_iter()
        .filter_map(|g| StandardGroup::from_name(g));
    match (found.next(), found.next()) {
        (Some(g), None) => Some(g),
        _ => None,
    }
}
