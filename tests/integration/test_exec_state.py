"""exec takes the container's process defaults, seccomp and personality
from the state written at create: a bundle changed or deleted afterwards
does not affect it."""
import json
import os

import pytest

from helpers import IS_HUSK

CAP_KILL = 5
CAP_CHOWN = 0


def _capbnd(out):
    line = [l for l in out.splitlines() if l.startswith("CapBnd:")][0]
    return int(line.split()[1], 16)


def _bundle(env):
    b = env.bundle()
    b.sh("sleep 1000")
    p = b.config["process"]
    p["user"] = {"uid": 1234, "gid": 4321}
    p["env"] = ["PATH=/bin:/sbin", "MARK=original"]
    p["cwd"] = "/tmp"
    caps = ["CAP_KILL", "CAP_CHOWN"]
    p["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    b.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 38}]}
    b.config["linux"]["personality"] = {"domain": "LINUX32"}
    return b


SCRIPT = ("id -u; id -g; echo $MARK; pwd; uname -m; grep CapBnd /proc/self/status; "
          "mkdir /tmp/d 2>&1; true")


def _check(out, personality=True):
    lines = out.splitlines()
    assert lines[0:4] == ["1234", "4321", "original", "/tmp"], out
    if personality:
        assert lines[4] in ("i686", "i386", "armv7l", "armv8l"), out
    assert _capbnd(out) == (1 << CAP_KILL) | (1 << CAP_CHOWN), out
    assert "Function not implemented" in lines[-1], out


# runc 1.1.5 takes exec's defaults from the bundle's config.json as it is
# at exec time, and has no linux.personality.
@pytest.mark.husk_only
def test_exec_after_config_changed(env, rt):
    b = _bundle(env)
    cid, _ = env.create(b)
    rt.ok("start", cid)
    # The bundle is rewritten with other defaults and no seccomp.
    p = b.config["process"]
    p["user"] = {"uid": 0, "gid": 0}
    p["env"] = ["PATH=/bin", "MARK=changed"]
    p["cwd"] = "/"
    del p["capabilities"]
    del b.config["linux"]["seccomp"]
    del b.config["linux"]["personality"]
    b.write()
    r = rt.ok("exec", cid, "sh", "-c", SCRIPT)
    _check(r.out)


# runc 1.1.5 takes exec's defaults from the bundle's config.json as it is
# at exec time, and has no linux.personality.
@pytest.mark.husk_only
def test_exec_after_config_deleted(env, rt):
    b = _bundle(env)
    cid, _ = env.create(b)
    rt.ok("start", cid)
    os.unlink(os.path.join(b.path, "config.json"))
    r = rt.ok("exec", cid, "sh", "-c", SCRIPT)
    _check(r.out)
    # --process: what it leaves out (capabilities) is still the container's.
    proc = {"args": ["sh", "-c", "grep CapBnd /proc/self/status"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}}
    pf = os.path.join(rt.workdir, "proc.json")
    with open(pf, "w") as f:
        json.dump(proc, f)
    r = rt.ok("exec", "--process", pf, cid)
    assert _capbnd(r.out) == (1 << CAP_KILL) | (1 << CAP_CHOWN), r
    # delete needs nothing from the bundle either
    rt.ok("kill", cid, "KILL")



def test_exec_created_container_takes_state(env, rt):
    """exec before start gets the container's user, env, cwd, caps,
    seccomp (and personality) as exec into a running one does."""
    b = _bundle(env)
    cid, _ = env.create(b)
    r = rt.ok("exec", cid, "sh", "-c", SCRIPT)
    _check(r.out, personality=IS_HUSK)  # runc 1.1.5 has no linux.personality
    assert rt.state(cid)["status"] == "created"
    rt.ok("start", cid)
    assert rt.state(cid)["status"] == "running"
