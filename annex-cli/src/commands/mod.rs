//! One module per command; [`run`] dispatches.

pub(crate) mod add;
mod addurl;
mod adjust;
mod assist;
mod calckey;
mod checkpresentkey;
mod cluster;
mod config;
mod contentlocation;
mod copy;
mod describe;
mod drop;
mod dropkey;
mod dropunused;
mod examinekey;
mod filter_process;
mod find;
mod findkeys;
mod findref;
mod fix;
mod forget;
mod fromkey;
mod fsck;
mod get;
mod group;
mod help;
mod info;
mod init;
mod inprogress;
mod list;
mod lock;
mod log;
mod lookupkey;
mod matchexpression;
mod maxsize;
mod merge;
mod metadata;
mod migrate;
mod mirror;
mod move_;
mod numcopies;
mod p2phttp;
mod post_receive;
pub(crate) mod pre_commit;
mod pull_push;
mod readpresentkey;
mod registerurl;
mod reinit;
mod reinject;
mod rekey;
mod remotedaemon;
mod resolvemerge;
mod rmurl;
mod setpresentkey;
mod sim;
mod smudge;
mod special_remotes;
mod status;
pub(crate) mod sync;
pub(crate) mod sync_content;
mod testremote;
mod transferkey;
mod trust;
mod unannex;
mod undo;
mod unlock;
mod unused;
mod upgrade;
mod version;
mod wanted;
mod watch;
mod whereis;
mod whereused;
mod xfer;

use annex_core::logs::trust::TrustLevel;

use crate::error::CommandError;

/// The commands of `git-annex-rs`.
#[derive(clap::Subcommand, Debug)]
#[command(disable_help_subcommand = true)]
pub enum Command {
    /// Add files to the annex.
    Add(add::Args),
    /// Add URLs to the annex.
    Addurl(addurl::Args),
    /// Add back unused content as files.
    Addunused(dropunused::AddArgs),
    /// Enter an adjusted branch.
    Adjust(adjust::Args),
    /// Calculate the key for a file.
    Calckey(calckey::Args),
    /// Check if a key is present in a remote (or any remote).
    Checkpresentkey(checkpresentkey::Args),
    /// Look up the content of a key in this repository.
    Contentlocation(contentlocation::Args),
    /// Get or set configuration stored in the git-annex branch.
    Config(config::Args),
    /// Copy content of files to or from another repository.
    Copy(copy::Args),
    /// Hide a lost repository or key.
    Dead(trust::DeadArgs),
    /// Change the description of a repository.
    Describe(describe::Args),
    /// Add files and sync changes with remotes.
    Assist(sync::Args),
    /// Watch for changes and autocommit (a daemon).
    Watch(watch::Args),
    /// Automatically sync changes (a daemon).
    Assistant(watch::AssistantArgs),
    /// Change a special remote's configuration.
    Configremote(special_remotes::Args),
    /// Enable a special remote set up in another repository.
    Enableremote(special_remotes::Args),
    /// Create a special (non-git) remote.
    Initremote(special_remotes::InitArgs),
    /// Remove content of files from this repository or a remote.
    Drop(drop::Args),
    /// Drop content of keys from this repository, unsafely.
    Dropkey(dropkey::Args),
    /// Drop unused content.
    Dropunused(dropunused::Args),
    /// Print information that can be told from a key alone.
    Examinekey(examinekey::Args),
    /// Long-running git filter process for unlocked files.
    FilterProcess(filter_process::Args),
    /// List the annexed files whose content is present (or that match).
    Find(find::Args),
    /// List the keys whose content is present (or that match).
    Findkeys(findkeys::Args),
    /// List the annexed files in git refs (deprecated).
    Findref(findref::Args),
    /// Point the symlinks of annexed files at their content again.
    Fix(fix::Args),
    /// Forget the git history of the git-annex branch.
    Forget(forget::Args),
    /// Add a file using a specific key.
    Fromkey(fromkey::Args),
    /// Find and fix problems.
    Fsck(fsck::Args),
    /// Make content of annexed files available.
    Get(get::Args),
    /// Add a repository to a group.
    Group(group::Args),
    /// Get or set a group's preferred content expression.
    Groupwanted(wanted::Args),
    /// Show help on git-annex-rs or one of its commands.
    Help(help::Args),
    /// Show information about the repository, a path, a key or a remote.
    Info(info::Args),
    /// Initialize git-annex in the current git repository.
    Init(init::Args),
    /// Show the temporary files of downloads in progress.
    Inprogress(inprogress::Args),
    /// Show which repositories have each file.
    List(list::Args),
    /// Lock files back into the annex (symlinks).
    Lock(lock::Args),
    /// Show the location history of files or keys.
    Log(log::Args),
    /// Look up the key of annexed files.
    Lookupkey(lookupkey::Args),
    /// Check if a preferred content expression matches.
    Matchexpression(matchexpression::Args),
    /// Configure the maximum size of a repository.
    Maxsize(maxsize::Args),
    /// Simulate a network of repositories.
    Sim(sim::Args),
    /// Merge changes from remotes.
    Merge(merge::Args),
    /// Show or change the metadata of files.
    Metadata(metadata::Args),
    /// Move files to another backend.
    Migrate(migrate::Args),
    /// Mirror content of files to or from another repository.
    Mirror(mirror::Args),
    /// Configure the minimum number of copies.
    Mincopies(numcopies::Args),
    /// Move content of files to or from another repository.
    Move(move_::Args),
    /// Configure the desired number of copies.
    Numcopies(numcopies::Args),
    /// Communicate in P2P protocol over http.
    P2phttp(p2phttp::Args),
    /// Update records with proxy configuration.
    Updateproxy(cluster::UpdateArgs),
    /// Update records of cluster nodes.
    Updatecluster(cluster::UpdateArgs),
    /// Initialize a new cluster.
    Initcluster(cluster::NamedArgs),
    /// Add a gateway to a cluster.
    Extendcluster(cluster::NamedArgs),
    /// Run by git's post-receive hook.
    PostReceive(post_receive::Args),
    /// Run by git's pre-commit hook: fix the symlinks of files to be committed.
    PreCommit(pre_commit::Args),
    /// Run by git's pre-push hook: refuse pushes while a special remote is not verified.
    PrePush(special_remotes::PrePushArgs),
    /// Pull content from remotes.
    Pull(pull_push::PullArgs),
    /// Push content to remotes.
    Push(pull_push::PushArgs),
    /// Get or set a required content expression.
    Required(wanted::Args),
    /// Tell by the exit code whether the location log says a repository has a key.
    Readpresentkey(readpresentkey::Args),
    /// Register URLs for keys.
    Registerurl(registerurl::Args),
    /// Record that files are no longer available at URLs.
    Rmurl(rmurl::Args),
    /// Initialize git-annex again, reusing an earlier repository's UUID.
    Reinit(reinit::Args),
    /// Put content back into the annex from outside.
    Reinject(reinject::Args),
    /// Persistent communication with remotes.
    Remotedaemon(remotedaemon::Args),
    /// Change the keys used for files.
    Rekey(rekey::Args),
    /// Change the name of a special remote.
    Renameremote(special_remotes::Args),
    /// Stop using a remote.
    Disableremote(special_remotes::Args),
    /// Resolve merge conflicts.
    Resolvemerge(resolvemerge::Args),
    /// Return a repository to the default trust level.
    Semitrust(trust::Args),
    /// Verify that a special remote is safe to use.
    Verifyremote(special_remotes::VerifyArgs),
    /// Change the location log of a key.
    Setpresentkey(setpresentkey::Args),
    /// git smudge/clean filter for unlocked files.
    Smudge(smudge::Args),
    /// Show the work tree's changes (deprecated in git-annex).
    Status(status::Args),
    /// Synchronize local repository with remotes.
    Sync(sync::Args),
    /// Test transfers to/from a remote.
    Testremote(testremote::Args),
    /// Transfer one key's content from or to a remote.
    Transferkey(transferkey::Args),
    /// Trust a repository.
    Trust(trust::Args),
    /// Undo an accidental add: take files out of the annex.
    Unannex(unannex::Args),
    /// Undo the last change to a file or directory (deprecated).
    Undo(undo::Args),
    /// De-initialize git-annex and clean out the repository.
    Uninit(unannex::UninitArgs),
    /// Remove a repository from a group.
    Ungroup(group::UngroupArgs),
    /// Unlock files so they can be modified.
    Unlock(unlock::Args),
    /// Upgrade the repository to version 10.
    Upgrade(upgrade::Args),
    /// Unregister URLs of keys.
    Unregisterurl(registerurl::Args),
    /// Do not trust a repository.
    Untrust(trust::Args),
    /// Look for unused file content.
    Unused(unused::Args),
    /// Show the version of git-annex-rs and what it supports.
    Version(version::Args),
    /// Get or set a preferred content expression.
    Wanted(wanted::Args),
    /// List the repositories that have the content of files.
    Whereis(whereis::Args),
    /// List the files that use a key.
    Whereused(whereused::Args),
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Add(args) => add::run(args),
        Command::Addurl(args) => addurl::run(args),
        Command::Addunused(args) => dropunused::run_add(args),
        Command::Adjust(args) => adjust::run(args),
        Command::Calckey(args) => calckey::run(args),
        Command::Checkpresentkey(args) => checkpresentkey::run(args),
        Command::Contentlocation(args) => contentlocation::run(args),
        Command::Config(args) => config::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Dead(args) => trust::run_dead(args),
        Command::Describe(args) => describe::run(args),
        Command::Assist(args) => assist::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Assistant(args) => watch::run_assistant(args),
        Command::Configremote(args) => special_remotes::run_config(args),
        Command::Enableremote(args) => special_remotes::run_enable(args),
        Command::Renameremote(args) => special_remotes::run_rename(args),
        Command::Disableremote(args) => special_remotes::run_disable(args),
        Command::Verifyremote(args) => special_remotes::run_verify(args),
        Command::PrePush(args) => special_remotes::run_pre_push(args),
        Command::Initremote(args) => special_remotes::run_init(args),
        Command::Testremote(args) => testremote::run(args),
        Command::Drop(args) => drop::run(args),
        Command::Dropkey(args) => dropkey::run(args),
        Command::Dropunused(args) => dropunused::run(args),
        Command::Examinekey(args) => examinekey::run(args),
        Command::FilterProcess(args) => filter_process::run(args),
        Command::Find(args) => find::run(args),
        Command::Findkeys(args) => findkeys::run(args),
        Command::Findref(args) => findref::run(args),
        Command::Fix(args) => fix::run(args),
        Command::Forget(args) => forget::run(args),
        Command::Fromkey(args) => fromkey::run(args),
        Command::Fsck(args) => fsck::run(args),
        Command::Get(args) => get::run(args),
        Command::Group(args) => group::run(args),
        Command::Groupwanted(args) => wanted::run(wanted::Which::GroupWanted, args),
        Command::Help(args) => help::run(args),
        Command::Info(args) => info::run(args),
        Command::Init(args) => init::run(args),
        Command::Inprogress(args) => inprogress::run(args),
        Command::List(args) => list::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Log(args) => log::run(args),
        Command::Lookupkey(args) => lookupkey::run(args),
        Command::Matchexpression(args) => matchexpression::run(args),
        Command::Maxsize(args) => maxsize::run(args),
        Command::Sim(args) => sim::run(args),
        Command::Metadata(args) => metadata::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Mirror(args) => mirror::run(args),
        Command::Mincopies(args) => numcopies::run(numcopies::Setting::MinCopies, args),
        Command::Move(args) => move_::run(args),
        Command::Numcopies(args) => numcopies::run(numcopies::Setting::NumCopies, args),
        Command::P2phttp(args) => p2phttp::run(args),
        Command::Updateproxy(args) => cluster::run_updateproxy(args),
        Command::Updatecluster(args) => cluster::run_updatecluster(args),
        Command::Initcluster(args) => cluster::run_initcluster(args),
        Command::Extendcluster(args) => cluster::run_extendcluster(args),
        Command::PostReceive(args) => post_receive::run(args),
        Command::PreCommit(args) => pre_commit::run(args),
        Command::Pull(args) => pull_push::run_pull(args),
        Command::Push(args) => pull_push::run_push(args),
        Command::Required(args) => wanted::run(wanted::Which::Required, args),
        Command::Readpresentkey(args) => readpresentkey::run(args),
        Command::Registerurl(args) => registerurl::run(args, true),
        Command::Rmurl(args) => rmurl::run(args),
        Command::Reinit(args) => reinit::run(args),
        Command::Reinject(args) => reinject::run(args),
        Command::Remotedaemon(args) => remotedaemon::run(args),
        Command::Rekey(args) => rekey::run(args),
        Command::Resolvemerge(args) => resolvemerge::run(args),
        Command::Semitrust(args) => trust::run(TrustLevel::SemiTrusted, args),
        Command::Setpresentkey(args) => setpresentkey::run(args),
        Command::Smudge(args) => smudge::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Status(args) => status::run(args),
        Command::Sync(args) => sync::run(args),
        Command::Transferkey(args) => transferkey::run(args),
        Command::Trust(args) => trust::run(TrustLevel::Trusted, args),
        Command::Unannex(args) => unannex::run(args),
        Command::Undo(args) => undo::run(args),
        Command::Uninit(args) => unannex::run_uninit(args),
        Command::Ungroup(args) => group::run_ungroup(args),
        Command::Unlock(args) => unlock::run(args),
        Command::Upgrade(args) => upgrade::run(args),
        Command::Unregisterurl(args) => registerurl::run(args, false),
        Command::Untrust(args) => trust::run(TrustLevel::Untrusted, args),
        Command::Unused(args) => unused::run(args),
        Command::Version(args) => version::run(args),
        Command::Wanted(args) => wanted::run(wanted::Which::Wanted, args),
        Command::Whereis(args) => whereis::run(args),
        Command::Whereused(args) => whereused::run(args),
    }
}
