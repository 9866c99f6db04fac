#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (README: "Run the tests").
# Installs what the tests need, then: rustfmt, clippy, the fuzz targets'
# build, and every test (nextest, then the doctests).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# The reference git-annex, our oracle, into an ignored venv.
REF_VERSION=10.20261026
step "reference git-annex $REF_VERSION"
if ! .annex-ref/bin/git-annex version 2>/dev/null | grep -q "version: $REF_VERSION"; then
    rm -rf .annex-ref
    python3 -m venv .annex-ref
    .annex-ref/bin/pip install --quiet --disable-pip-version-check "git-annex==$REF_VERSION"
fi
.annex-ref/bin/git-annex version | head -1
export GIT_ANNEX_REF="$PWD/.annex-ref/bin/git-annex"

step "tools"
command -v git >/dev/null || { apt-get update -qq && apt-get install -y -qq git; }
git --version
# /usr/bin/time -v: the comparison runner's test checks its figures against it.
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
# A real sshd on 127.0.0.1 for the ssh remote tests (test-support's sshd).
[ -x /usr/sbin/sshd ] || { apt-get update -qq && apt-get install -y -qq openssh-server openssh-client; }
# rsync: git-annex-shell's recvkey/sendkey run `rsync --server` (their tests drive it).
command -v rsync >/dev/null || { apt-get update -qq && apt-get install -y -qq rsync; }
# libmagic (mimetype=, as git-annex's MagicMime build).
[ -f /usr/include/magic.h ] || { apt-get update -qq && apt-get install -y -qq libmagic-dev; }
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi

step "doctests"
cargo test --workspace --doc --locked

# The library's example program: get, copy --to and drop through the API
# only, on repositories the reference makes, checked by the reference.
step "annex-ops example (tour)"
bash annex-ops/examples/run-tour.sh

# The crash-consistency harness: each writing command killed with SIGKILL
# at seeded random points, judged by the reference's fsck, the work trees'
# status and a rerun (docs/reliability.md). A bounded run with the debug
# binaries the tests built; hundreds of rounds are run by hand.
step "crash consistency (benches: crashtest)"
"$CARGO_TARGET_DIR/debug/crashtest" --rounds "${CRASHTEST_ROUNDS:-8}" --seed 1 \
    --large-kib 1024 --ours "$CARGO_TARGET_DIR/debug/git-annex-rs" --reference "$GIT_ANNEX_REF"

# The side-by-side comparison with git-annex, once at the smallest size with
# the debug binaries the tests just built: it must work, not be fast. A
# command git-annex-rs lacks is a row saying so; the runner failing, or the
# reference failing an operation (exit 3), fails CI. The full run is by hand
# (docs/performance.md).
step "comparison smoke (benches: compare)"
"$CARGO_TARGET_DIR/debug/compare" --sizes 100 --rounds 1 --large-mib 4 --timeout 600 \
    --ours "$CARGO_TARGET_DIR/debug/git-annex-rs" --reference "$GIT_ANNEX_REF" \
    --json "$CARGO_TARGET_DIR/compare-smoke.json"
# The memory regression guard (issue 20): a synthetic repository of 10,000
# files (benches: synth, built directly in seconds), every synthetic row
# run once by git-annex-rs alone; it fails when any command's peak RSS
# goes over 95 MiB (99.6 MB: under 100 MB), or a command fails. Debug
# binaries: a few minutes.
step "memory guard at 10,000 files (benches: compare --synth-sizes)"
"$CARGO_TARGET_DIR/debug/compare" --synth-sizes 10000 --reference-up-to 0 --rounds 1 \
    --ops s-whereis,s-find,s-find-json,s-info,s-fsck-fast,s-fsck,s-pre-commit,s-smudge-update,s-status,s-get,s-drop,s-copy-to,s-move-to,s-move-from,s-unlock,s-lock,s-sync,s-sync-changes,s-sync-content,s-init-clone,s-add \
    --max-rss-mib 95 --timeout 600 \
    --ours "$CARGO_TARGET_DIR/debug/git-annex-rs" --reference "$GIT_ANNEX_REF" \
    --json "$CARGO_TARGET_DIR/memory-guard.json"
# DataLad as a client (issue 18): DataLad's own tests of create, save,
# status, get and drop, with the reference and then with git-annex-rs as
# the only git-annex on PATH; every test that passes with the reference
# passes with us, save those listed in .ci/datalad-known-failures.
step "DataLad's tests (.ci/datalad)"
bash .ci/datalad "$CARGO_TARGET_DIR/debug/git-annex-rs"
step "done"
