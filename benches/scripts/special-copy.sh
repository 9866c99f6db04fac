#!/bin/bash
# By hand (docs/performance.md, "copy --to special remotes, -J8"):
# `copy --to REMOTE -J8 .` of N small annexed files into a directory
# special remote and into S3 (moto's server on 127.0.0.1), each
# implementation into a remote of its own from its own copy of the
# repository, timed once (wall clock, /usr/bin/time's format).
# Run from the top of the checkout after
# `cargo build --release -p annex-cli`; needs `python3 -m moto.server`.
set -euo pipefail
N=${N:-10000}
W=${W:-$(mktemp -d)}
OURS=${OURS:-$PWD/target/release/git-annex-rs}
REF=${REF:-$PWD/.annex-ref/bin/git-annex}
export HOME=$W/home GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
# The python3 with moto, before the reference's directory (a venv of its
# own) comes first on PATH.
PY=${PY:-$(command -v python3)}
export PATH=$(dirname "$REF"):$PATH
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
rm -rf "$W"; mkdir -p "$W/home"
cd "$W"
git init -q -b main base
"$PY" - "$N" <<'EOF'
import os, random, sys
n = int(sys.argv[1]); rnd = random.Random(1)
for i in range(n):
    d = os.path.join("base", f"d{i % 50}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
        f.write(rnd.randbytes(100 + rnd.randrange(900)))
EOF
(cd base && "$OURS" init -q && "$OURS" add -q . && git commit -qm files)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO=$!
trap 'kill $MOTO' EXIT
sleep 3
for who in ours ref; do
  bin=$OURS; [ $who = ref ] && bin=$REF
  rm -rf "$W/$who"; cp -a base "$W/$who"; mkdir "$W/dir-$who"
  cd "$W/$who"
  git config annex.security.allowed-ip-addresses 127.0.0.1
  "$bin" initremote -q d type=directory directory="$W/dir-$who" encryption=none >/dev/null
  "$bin" initremote -q s type=S3 host=127.0.0.1 port=$PORT requeststyle=path bucket=b-$who encryption=none >/dev/null
  for r in d s; do
    /usr/bin/time -f "$who copy --to $r -J8: %e s, %M KiB max RSS" "$bin" copy -q --to $r -J8 . 2>&1 | tail -1
    echo "  objects stored: $( [ $r = d ] && find "$W/dir-$who" -type f | wc -l || echo "(S3)")"
  done
  cd "$W"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
