#!/usr/bin/env python3
"""Times the commands git's hooks run (`pre-commit .`, `smudge --update`)
with nothing to do, for git-annex-rs and the reference, alternately.

    hooks.py REPO RUNS NAME=PROGRAM...

e.g. `hooks.py synth-100000/repo 21 git-annex-rs=target/release/git-annex-rs
git-annex=$GIT_ANNEX_REF`. The tools run in turn, the order reversed every
other round. Per command and tool: the median and minimum wall time and
the median CPU time (user + system of the child and its children, from
wait4) over RUNS runs after one warm-up run, the peak RSS of one more run
(/usr/bin/time), and the load average before and after. Run from anywhere; each command runs
at the top of REPO's work tree with stdout and stderr to /dev/null.
"""

import os
import statistics
import sys
import time

COMMANDS = (["pre-commit", "."], ["smudge", "--update"])


def run_once(argv, cwd):
    # posix_spawn (vfork and exec): a forked copy of this interpreter would
    # add its own page faults and resident memory to the child's figures.
    os.chdir(cwd)
    null = [
        (os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=null)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} exited {os.waitstatus_to_exitcode(status)}")
    return wall, ru.ru_utime + ru.ru_stime


def peak_rss_kib(argv, cwd):
    """The peak RSS of one run, by /usr/bin/time (wait4's figure for a
    child spawned from here starts at this interpreter's size)."""
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"hooks-rss.{os.getpid()}")
    run_once(["/usr/bin/time", "-o", out, "-f", "%M"] + argv, cwd)
    with open(out) as f:
        kib = int(f.read().split()[-1])
    os.unlink(out)
    return kib


def main():
    repo, runs = os.path.abspath(sys.argv[1]), int(sys.argv[2])
    tools = [(n, os.path.abspath(p)) for n, p in (a.split("=", 1) for a in sys.argv[3:])]
    print(f"load before: {os.getloadavg()}")
    print("| command | tool | wall median | wall min | CPU median | peak RSS |")
    print("|---|---|---:|---:|---:|---:|")
    for args in COMMANDS:
        results = {name: [] for name, _ in tools}
        for _, tool in tools:
            run_once([tool] + args, repo)
        for i in range(runs):
            order = tools if i % 2 == 0 else tools[::-1]
            for name, tool in order:
                results[name].append(run_once([tool] + args, repo))
        for name, _ in tools:
            r = results[name]
            walls = [x[0] * 1000 for x in r]
            cpus = [x[1] * 1000 for x in r]
            rss = peak_rss_kib([dict(tools)[name]] + args, repo) / 1024
            print(
                f"| `{' '.join(args)}` | {name} | {statistics.median(walls):.1f} ms"
                f" | {min(walls):.1f} ms | {statistics.median(cpus):.1f} ms | {rss:.1f} MiB |"
            )
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
