//! `git-annex-shell`: the same program as `git-annex-rs`; invoked by this
//! name it serves the commands a remote asks of it over ssh (see
//! [`annex_cli::main`]).

fn main() {
    annex_cli::main()
}
