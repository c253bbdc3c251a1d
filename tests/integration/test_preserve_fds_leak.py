"""--preserve-fds N where the caller leaves fds 3.. empty: husk's own fds
(the --log file, the state directory, ...) must not land there and leak
into the container; the empty slots are /dev/null."""
import os

import pytest

from helpers import IS_HUSK

pytestmark = pytest.mark.skipif(not IS_HUSK, reason="husk's fd placement")

# ls, a child of the shell, lists the shell's fds: no artifacts of the listing.
LIST = "ls -l /proc/$$/fd/"


def _fds(out):
    fds = {}
    for line in out.splitlines():
        left, arrow, target = line.partition(" -> ")
        n = left.split()[-1] if arrow else ""
        if n.isdigit() and int(n) >= 3:
            fds[int(n)] = target
    return fds


def test_run_log_not_preserved(env, rt):
    b = env.bundle()
    b.sh(LIST)
    log = os.path.join(rt.workdir, "husk.log")
    b.write()
    r = rt.ok("--log", log, "--debug", "run", "--preserve-fds", "2", "--bundle", b.path,
              env.new_id())
    assert _fds(r.out) == {3: "/dev/null", 4: "/dev/null"}, r
    # the log, moved above the preserved fds, still takes the final error
    rt.fail("--log", log, "exec", "--preserve-fds", "2", "nosuch", "true")
    with open(log) as f:
        assert "nosuch" in f.read()


def test_exec_log_not_preserved(env, rt):
    b = env.bundle()
    b.sh("sleep 1000")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    log = os.path.join(rt.workdir, "husk.log")
    r = rt.ok("--log", log, "--debug", "exec", "--preserve-fds", "3", cid, "sh", "-c", LIST)
    assert _fds(r.out) == {3: "/dev/null", 4: "/dev/null", 5: "/dev/null"}, r


def test_given_fds_kept_empty_filled(env, rt):
    """fd 3 given, fd 4 not: 3 is the caller's, 4 /dev/null."""
    b = env.bundle()
    b.sh(LIST)
    b.write()
    rfd, wfd = os.pipe()
    try:
        r = rt.ok("--log", os.path.join(rt.workdir, "husk.log"), "run", "--preserve-fds", "2",
                  "--bundle", b.path, env.new_id(), fd_map={3: rfd})
    finally:
        os.close(rfd)
        os.close(wfd)
    fds = _fds(r.out)
    assert fds.get(3, "").startswith("pipe:"), r
    assert fds.get(4) == "/dev/null" and set(fds) == {3, 4}, r
