//! `git-annex`: the same program as `git-annex-rs`, installed under the
//! name git runs for `git annex` and the hooks and filters `init` writes
//! call (see [`annex_cli::main`]).

fn main() {
    annex_cli::main()
}
