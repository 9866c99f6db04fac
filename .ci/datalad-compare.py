"""Judges a DataLad test run with git-annex-rs against one with the reference.

Arguments: the reference's JUnit XML, ours, and the known-failures file (a
test id a line; `#` starts a comment). Exit 0 when every test that passed
with the reference passed with us or is listed. A listed test that passes
now is printed (to be taken off the list), as is a listed test that does
not pass with the reference; neither fails the run, so that a test flaky
in either run does not fail CI.
"""

import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    """Test id -> 'passed' | 'failed' | 'skipped', from pytest's JUnit XML."""
    result = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        # The class name starts with the path of DataLad's installation;
        # the id keeps the module path from `datalad.` on.
        classname = case.get("classname", "").split("site-packages.", 1)[-1]
        test_id = f"{classname}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            result[test_id] = "failed"
        elif "skipped" in kinds:
            result[test_id] = "skipped"
        else:
            result[test_id] = "passed"
    return result


def known(path):
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                ids.add(line)
    return ids


def main():
    ref, ours, listed = outcomes(sys.argv[1]), outcomes(sys.argv[2]), known(sys.argv[3])
    ref_passed = {t for t, o in ref.items() if o == "passed"}
    ours_passed = {t for t, o in ours.items() if o == "passed"}
    regressions = sorted(ref_passed - ours_passed - listed)
    fixed = sorted(listed & ours_passed)
    stale = sorted(listed - ref_passed)
    print(f"reference: {len(ref_passed)} of {len(ref)} passed; "
          f"git-annex-rs: {len(ours_passed & ref_passed)} of those {len(ref_passed)} pass "
          f"({len(listed & ref_passed)} listed as known failures)")
    for t in regressions:
        print(f"FAILS WITH US, passes with the reference, not listed: {t}")
    for t in fixed:
        print(f"PASSES NOW, remove it from the known failures: {t}")
    for t in stale:
        print(f"listed but does not pass with the reference: {t} (remove it)")
    sys.exit(1 if regressions else 0)


if __name__ == "__main__":
    main()
