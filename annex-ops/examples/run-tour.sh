#!/usr/bin/env bash
# Builds the example `tour` (examples/tour.rs) and runs it on a repository
# pair the reference git-annex makes: an origin with an annexed file, a
# clone, and a second clone `backup` as the clone's remote. The tour gets
# the file, copies it to backup and drops it here; the reference then checks
# the result (whereis, fsck, content on disk). Exits non-zero on any failure.
#
# The reference is $GIT_ANNEX_REF, else <workspace>/.annex-ref/bin/git-annex
# (what .ci/run installs). Git runs hermetically: a temp HOME, no global or
# system config.
set -euo pipefail
cd "$(dirname "$0")/../.."
WS="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WS/target}"

REF="${GIT_ANNEX_REF:-$WS/.annex-ref/bin/git-annex}"
[ -x "$REF" ] || { echo "run-tour: the reference git-annex is missing ($REF): run .ci/run once or set GIT_ANNEX_REF" >&2; exit 1; }

cargo build --quiet -p annex-ops --example tour
TOUR="$CARGO_TARGET_DIR/debug/examples/tour"

TMP="$(mktemp -d)"
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
export HOME="$TMP/home" GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Tour GIT_AUTHOR_EMAIL=tour@example.invalid
export GIT_COMMITTER_NAME=Tour GIT_COMMITTER_EMAIL=tour@example.invalid
export PATH="$(dirname "$REF"):$PATH"
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE
mkdir -p "$HOME"

fail() { echo "run-tour: $*" >&2; exit 1; }
ref() { (cd "$1" && shift && "$REF" "$@"); }

# The pair, made by the reference.
git init -q -b main "$TMP/origin"
ref "$TMP/origin" init -q origin
printf 'the tour content\n' >"$TMP/origin/file"
ref "$TMP/origin" add -q file
git -C "$TMP/origin" commit -q -m add
for r in clone backup; do
    git clone -q "$TMP/origin" "$TMP/$r"
    ref "$TMP/$r" init -q "$r"
done
git -C "$TMP/clone" remote add backup "$TMP/backup"
git -C "$TMP/clone" fetch -q backup

# The tour, through the API only.
out="$("$TOUR" "$TMP/clone" file backup)" || fail "the tour failed: $out"
printf '%s\n' "$out"
for line in "get file: got from origin" "copy file --to backup: copied" "drop file: dropped" \
    "sync --content: nothing to do"; do
    grep -qxF "$line" <<<"$out" || fail "missing outcome: $line"
done

# What the reference sees.
key="$(ref "$TMP/clone" lookupkey file)"
ref "$TMP/clone" contentlocation "$key" >/dev/null && fail "the content is still in the clone"
ref "$TMP/backup" contentlocation "$key" >/dev/null || fail "the content is not in backup"
ref "$TMP/origin" contentlocation "$key" >/dev/null || fail "the content is not in origin"
where="$(ref "$TMP/clone" whereis --json file)"
for r in origin backup; do
    uuid="$(git -C "$TMP/$r" config annex.uuid)"
    grep -qF "\"uuid\":\"$uuid\"" <<<"$where" || fail "whereis does not list $r: $where"
done
here="$(git -C "$TMP/clone" config annex.uuid)"
grep -qF "\"uuid\":\"$here\"" <<<"$where" && fail "whereis still lists the clone: $where"
ref "$TMP/clone" fsck -q || fail "fsck in the clone"
ref "$TMP/backup" fsck -q || fail "fsck in backup"
echo "run-tour: ok"
