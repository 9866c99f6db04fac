# A fake git-annex-shell p2pstdio for the gateway tests (e2e gateway.rs),
# run by the gateway as its ssh (core.sshCommand): argv is
#   LOGDIR STOREDIR HOST REMOTECOMMAND
# It speaks protocol version 0, as git-annex before 6.20180312 did: it
# knows no VERSION (answered with ERROR, as an old server answers a
# message it cannot parse), VALID/INVALID, GETTIMESTAMP, REMOVE-BEFORE,
# DATA-PRESENT or BYPASS. Every line received is logged to LOGDIR/HOST;
# a message a version 0 server does not know is logged as "UNKNOWN ...".
# A HOST starting with "hang" stops answering once it has been sent DATA
# (a node that hangs mid-upload); one starting with "slow" takes a second
# to store what it received, and logs "SPAN BEGIN END" (the time it was
# sent DATA and the time it answers, in seconds) to show which uploads
# ran at once (from the data's arrival to the answer); a slow one also
# takes a second over each REMOVE (logging "RSPAN BEGIN END") and each
# GETTIMESTAMP ("TSPAN BEGIN END").
# A HOST containing "v3" speaks protocol version 3 instead: VERSION,
# BYPASS (no answer), VALID/INVALID after DATA, GETTIMESTAMP and
# REMOVE-BEFORE.
import os
import sys
import time

logdir, storedir, host, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
words = cmd.split()
uuid = words[words.index("--uuid") + 1]
store = os.path.join(storedir, host)
os.makedirs(store, exist_ok=True)
inp = sys.stdin.buffer
out = sys.stdout.buffer
log = open(os.path.join(logdir, host), "a")
v3 = "v3" in host
slow = host.startswith("slow")


def span(kind, begin):
    log.write("%s %f %f\n" % (kind, begin, time.time()))
    log.flush()


def say(line):
    out.write(line.encode() + b"\n")
    out.flush()


def read_line():
    line = inp.readline()
    if not line:
        sys.exit(0)
    line = line.decode().rstrip("\n")
    log.write(line + "\n")
    log.flush()
    return line


def path_of(key):
    return os.path.join(store, key.replace("/", "%"))


def receive_data():
    line = read_line()
    if not line.startswith("DATA "):
        log.write("UNKNOWN " + line + "\n")
        sys.exit(1)
    n = int(line.split()[1])
    if host.startswith("hang"):
        time.sleep(3600)
    data = inp.read(n)
    if v3:
        read_line()  # VALID or INVALID
    return data


say("AUTH-SUCCESS " + uuid)
first = True
while True:
    line = read_line()
    w = line.split(" ")
    if w[0] == "VERSION" and first:
        say("VERSION 3" if v3 else "ERROR protocol parse error")
    elif w[0] == "BYPASS" and v3:
        pass
    elif w[0] == "GETTIMESTAMP" and v3:
        begin = time.time()
        if slow:
            time.sleep(1)
            span("TSPAN", begin)
        say("TIMESTAMP %d" % int(time.monotonic()))
    elif w[0] == "CHECKPRESENT":
        say("SUCCESS" if os.path.exists(path_of(w[1])) else "FAILURE")
    elif w[0] == "GET":
        p = path_of(w[-1])
        if os.path.exists(p):
            data = open(p, "rb").read()[int(w[1]):]
            say("DATA %d" % len(data))
            out.write(data)
            out.flush()
            if v3:
                say("VALID")
            read_line()  # SUCCESS or FAILURE
        else:
            say("ERROR content not present")
    elif w[0] == "PUT":
        p = path_of(w[-1])
        if os.path.exists(p):
            say("ALREADY-HAVE")
        else:
            say("PUT-FROM 0")
            data = receive_data()
            begin = time.time()
            if host.startswith("slow"):
                time.sleep(1)
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.rename(p + ".tmp", p)
            if host.startswith("slow"):
                log.write("SPAN %f %f\n" % (begin, time.time()))
                log.flush()
            say("SUCCESS")
    elif w[0] == "REMOVE" or (w[0] == "REMOVE-BEFORE" and v3):
        begin = time.time()
        p = path_of(w[-1])
        if slow:
            time.sleep(1)
        if os.path.exists(p):
            os.remove(p)
        if slow:
            span("RSPAN", begin)
        say("SUCCESS")
    else:
        log.write("UNKNOWN " + line + "\n")
        log.flush()
        say("ERROR protocol parse error")
    first = False
