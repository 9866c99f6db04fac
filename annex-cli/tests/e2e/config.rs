//! End-to-end tests: `config`, compared with the reference (what it prints,
//! exit codes, and the logs it leaves in the `git-annex` branch).

use crate::pair::{Pair, annexed};

const FILES: &[(&str, &str)] = &[("a", "a\n")];

fn logs(p: &str) -> bool {
    matches!(p, "config.log" | "numcopies.log" | "mincopies.log")
}

#[test]
fn config_set_get_unset_match_the_reference() {
    let p = Pair::new(annexed(FILES));
    for args in [
        &["config", "--get", "annex.largefiles"][..],
        &["config", "--set", "annex.largefiles", "largerthan=1kb"],
        &["config", "--get", "annex.largefiles"],
        &["config", "--set", "annex.largefiles", "largerthan=1kb"],
        &["config", "--set", "foo.bar", "x"],
        &["config", "--set", "annex.numcopies", "2"],
        &["config", "--get", "annex.numcopies"],
        &["config", "--get", "annex.mincopies"],
        &["config", "--set", "annex.mincopies", "1"],
        &["config", "--set", "annex.autocommit", "false"],
        &["config", "--unset", "annex.largefiles"],
        &["config", "--get", "annex.largefiles"],
        &["config", "--unset", "annex.dotfiles"],
        &["config", "--unset", "annex.nothere"],
        &["config", "-q", "--set", "annex.dotfiles", "true"],
        &["config", "--set", "annex.securehashesonly", "true"],
        &["config", "--get", "annex.securehashesonly"],
        &["config", "--show-origin", "annex.autocommit"],
        &["config", "--show-origin", "annex.numcopies"],
        &["config", "--show-origin", "annex.securehashesonly"],
        &["config", "--show-origin", "annex.largefiles"],
        &["config", "--show-origin", "annex.synccontent"],
        &["config", "--show-origin", "core.bare"],
        &["config", "--show-origin", "foo.bar"],
        &[
            "config",
            "--show-origin",
            "annex.largefiles",
            "--for-file",
            "a",
        ],
    ] {
        p.same(args);
    }
    p.same_branch(logs);
    // The local git config follows annex.securehashesonly.
    let local = crate::support::git(&p.ours, &["config", "annex.securehashesonly"]);
    assert_eq!(local.trim(), "true");
}

#[test]
fn config_refusals_match_the_reference() {
    let p = Pair::new(annexed(FILES));
    std::fs::write(
        p.theirs.join(".gitattributes"),
        "a annex.largefiles=nothing\n",
    )
    .expect("write");
    std::fs::write(
        p.ours.join(".gitattributes"),
        "a annex.largefiles=nothing\n",
    )
    .expect("write");
    p.same(&[
        "config",
        "--show-origin",
        "annex.largefiles",
        "--for-file",
        "a",
    ]);
    // numcopies needs a number and cannot be unset (the reference adds a
    // Haskell call stack on stderr).
    for args in [
        &["config", "--set", "annex.numcopies", "x"][..],
        &["config", "--unset", "annex.numcopies"],
        &["config"],
        &["config", "--get"],
        &["config", "--set", "annex.largefiles"],
        &["config", "--set", "annex.dotfiles", "yes", "please"],
    ] {
        p.same_code(args);
    }
    p.same_branch(logs);
}
