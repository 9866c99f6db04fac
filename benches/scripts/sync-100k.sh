#!/bin/bash
# By hand (docs/performance.md, "100,000 annexed files, two remotes"):
# no-op sync and sync --content at 100,000 annexed files with two remotes
# (a clone `peer` and a bare `mirror.git`, both holding every object),
# each implementation on its own copy, each command repeated: the first
# run untimed, then 3 timed runs.
set -euo pipefail
# The workload is built with git-annex-rs (git-annex takes over an hour
# for it here); both implementations then work on identical copies.
# Run from the top of the checkout after `cargo build --release -p annex-cli`.
N=${N:-100000}
W=${W:-$(mktemp -d)}
OURS=${OURS:-$PWD/target/release/git-annex-rs}
REF=${REF:-$PWD/.annex-ref/bin/git-annex}
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export PATH=$(dirname "$REF"):$PATH
if [ ! -e "$W/built" ]; then
  rm -rf "$W"; mkdir -p "$W/home" "$W/base"
  cd "$W/base"
  git init -q -b main repo
  python3 - "$N" <<'EOF'
import os, random, sys
n = int(sys.argv[1]); rnd = random.Random(1)
for i in range(n):
    d = os.path.join("repo", *[f"d{rnd.randrange(8)}" for _ in range(4)])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:07d}.bin"), "wb") as f:
        f.write(rnd.randbytes(64 + rnd.randrange(4032)))
EOF
  cd repo
  "$OURS" init -q repo
  "$OURS" add -q .
  git commit -q -m add
  cd ..
  git clone -q repo peer
  (cd peer && "$OURS" init -q peer)
  git clone -q --bare repo mirror.git
  (cd mirror.git && "$OURS" init -q mirror)
  cd repo
  git remote add peer ../peer
  git remote add mirror ../mirror.git
  git fetch -q --all
  "$OURS" copy -q --to peer .
  "$OURS" copy -q --to mirror .
  git annex sync -q --no-content >/dev/null 2>&1 || true
  (cd ../peer && git annex sync -q --no-content >/dev/null 2>&1 || true)
  git annex sync -q --no-content >/dev/null 2>&1 || true
  cd "$W"
  cp -a base ours; cp -a base ref
  touch "$W/built"
fi
t() { # label dir cmd...
  local label=$1 dir=$2; shift 2
  ( cd "$dir" && /usr/bin/time -o "$W/time.out" -f "$label %e s wall %U user %S sys %M KiB" "$@" >/dev/null 2>>"$W/err.log" ) || echo "$label failed"
  cat "$W/time.out"
}
for cmd in "sync" "sync --content"; do
  for side in ours ref; do
    prog=$OURS; [ $side = ref ] && prog="git annex"
    # untimed first run
    (cd "$W/$side/repo" && $prog $cmd >/dev/null 2>>"$W/err.log") || echo "$side $cmd first run failed"
    for i in 1 2 3; do
      t "$side $cmd #$i" "$W/$side/repo" $prog $cmd
    done
  done
done
