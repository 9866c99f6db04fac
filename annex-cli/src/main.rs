//! `git-annex-rs`: the command line (all of it is in the library,
//! [`annex_cli::main`]).

fn main() {
    annex_cli::main()
}
