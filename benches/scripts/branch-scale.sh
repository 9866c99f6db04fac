#!/bin/bash
# By hand (docs/performance.md, "Committing the git-annex branch at scale"):
# what one write of the git-annex branch costs when the branch holds N
# location logs. The repository is synthetic and built fast: N location
# logs (one key each, present in a remote `bench-remote`) are written
# straight into the branch with `git fast-import` (one pack), on top of
# the branch `git annex init` made; a sample of keys is checked by the
# reference's `fsck --fast`. Then, each under `/usr/bin/time -v` (wall
# time, CPU time, peak RSS):
#   1. the commit of a one-key change (`setpresentkey`, then `merge`,
#      which commits the journal), the first write after the import (the
#      branch moved under git-annex's index: the index is written anew);
#   2. the same again (index current: the common case);
#   3. `drop --force` of one annexed file (content removed, log updated,
#      branch committed);
#   4. the reference's commit of a one-key change, for comparison.
# Usage, from the top of the checkout after
# `cargo build --release -p annex-cli`:
#   N=100000 benches/scripts/branch-scale.sh
# OURS, REF and W (the work directory, kept for reruns: the repository
# is built once in $W/base, and each run works on a copy) can be set.
set -euo pipefail
N=${N:-100000}
W=${W:-$(mktemp -d)}
OURS=${OURS:-$PWD/target/release/git-annex-rs}
REF=${REF:-$PWD/.annex-ref/bin/git-annex}
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export PATH=$(dirname "$REF"):$PATH
REMOTE=00000000-0000-4000-8000-0000000000aa
mkdir -p "$W/home"

# The key of log number I (deterministic).
key() {
  python3 -c 'import hashlib,sys; i=int(sys.argv[1]); print(f"SHA256E-s{i}--{hashlib.sha256(str(i).encode()).hexdigest()}.bin")' "$1"
}

if [ ! -e "$W/built-$N" ]; then
  rm -rf "$W/base"
  git init -q -b main "$W/base"
  cd "$W/base"
  git commit -q --allow-empty -m first
  "$REF" init -q bench
  tip=$(git rev-parse refs/heads/git-annex)
  start=$(date +%s)
  python3 - "$N" "$tip" "$REMOTE" <<'EOF' | git fast-import --quiet
import hashlib, sys
n, tip, remote = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = sys.stdout.buffer
msg = b"synthetic location logs\n"
out.write(b"commit refs/heads/git-annex\n")
out.write(b"committer bench <bench@example.com> 1700000000 +0000\n")
out.write(b"data %d\n%s" % (len(msg), msg))
out.write(b"from %s\n" % tip.encode())
log = b"1700000000s 1 %s\n" % remote.encode()
for i in range(n):
    key = f"SHA256E-s{i}--{hashlib.sha256(str(i).encode()).hexdigest()}.bin".encode()
    h = hashlib.md5(key).hexdigest().encode()
    out.write(b"M 100644 inline %s/%s/%s.log\ndata %d\n%s\n" % (h[:3], h[3:6], key, len(log), log))
EOF
  echo "branch of $N logs built in $(( $(date +%s) - start )) s"
  # A sample checked by the reference (its index brought up to date by it
  # first, then set stale again so that our first write finds it so).
  for i in 0 $((N / 3)) $((N - 1)); do
    "$REF" fsck --fast --key "$(key "$i")" -q
    "$REF" whereis --key "$(key "$i")" | grep -q "$REMOTE"
  done
  echo "reference fsck --fast and whereis of a sample: ok"
  touch "$W/built-$N"
fi

# Every run starts from a copy of the same repository.
rm -rf "$W/repo"
cp -a "$W/base" "$W/repo"
cd "$W/repo"
measure() {
  local label=$1; shift
  /usr/bin/time -v "$@" >/dev/null 2>"$W/time.out" || { cat "$W/time.out"; return 1; }
  local wall rss user sys
  wall=$(grep 'Elapsed (wall clock)' "$W/time.out" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$W/time.out" | awk '{print $NF}')
  user=$(grep 'User time' "$W/time.out" | awk '{print $NF}')
  sys=$(grep 'System time' "$W/time.out" | awk '{print $NF}')
  printf '| %s | %s | %s | %s s | %d MB |\n' "$N" "$label" "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024))
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| files | command | wall | CPU | peak RSS |"
echo "|---|---|---|---|---|"
# Make git-annex's index stale, as after the import (the branch moved).
echo 0000000000000000000000000000000000000000 >.git/annex/index.lck
# setpresentkey journals the change (as git-annex's does); the next
# command commits the journal first: here `merge`, which has nothing else
# to do.
"$OURS" setpresentkey -q "$(key 1)" "$REMOTE" 0
measure "setpresentkey, then merge: first commit (stale index written anew)" \
  "$OURS" merge -q
"$OURS" setpresentkey -q "$(key 2)" "$REMOTE" 0
measure "setpresentkey, then merge: commit (index current)" "$OURS" merge -q
f=one-$(date +%s%N).bin
echo "$f" >"$f"
"$OURS" add -q "$f"
git commit -q -m one "$f"
measure "drop --force of one file" "$OURS" drop --force "$f"
"$REF" setpresentkey -q "$(key 3)" "$REMOTE" 0
measure "reference: setpresentkey, then merge: commit" "$REF" merge -q
# The reference is content with what we wrote.
for i in 1 2; do
  "$REF" whereis --key "$(key "$i")" >/dev/null 2>&1 && { echo "reference still sees key $i present"; exit 1; }
done
"$REF" fsck --fast --key "$(key 0)" -q
echo "reference whereis/fsck after our writes: ok"
