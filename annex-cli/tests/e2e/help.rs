//! End-to-end tests: `help`, compared with the reference.

use crate::pair::Pair;

#[test]
fn help_matches_the_reference() {
    let p = Pair::new(|_| {});
    p.same(&["help"]);
    // No manual pages here: where the manual is online (man's complaint on
    // stderr is man's).
    let (o, t) = p.both_in("", &["help", "get"], None);
    assert_eq!((o.stdout, o.code), (t.stdout, t.code));
}
