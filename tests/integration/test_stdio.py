"""Stdio without a terminal: the caller's fds go straight to the process
(no copying proxy), so large data arrives intact and EOF propagates; for
run and for exec."""
import hashlib
import os
import subprocess

import pytest

from helpers import wait_for

SIZE = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def blob():
    return os.urandom(SIZE)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _running(env):
    b = env.bundle().set_args("sleep", "1000")
    cid, _ = env.create(b)
    env.rt.ok("start", cid)
    return b, cid


def _pipe_through(argv, data, timeout=60):
    """Feed data on a pipe to argv's stdin, collect its stdout from a pipe."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(data, timeout=timeout)
    return p.returncode, out, err


@pytest.mark.parametrize("how", ["run", "exec"])
def test_10mib_stdout(env, rt, blob, how):
    b = env.bundle()
    with open(b.shared_file("blob"), "wb") as f:
        f.write(blob)
    if how == "run":
        b.set_args("cat", "/shared/blob").write()
        argv = rt.cmd("run", "--bundle", b.path, env.new_id())
    else:
        b.set_args("sleep", "1000")
        cid, _ = env.create(b)
        rt.ok("start", cid)
        argv = rt.cmd("exec", cid, "cat", "/shared/blob")
    rc, out, err = _pipe_through(argv, b"")
    assert rc == 0, err
    assert len(out) == SIZE and _sha(out) == _sha(blob)


@pytest.mark.parametrize("how", ["run", "exec"])
def test_10mib_stdin_eof(env, rt, blob, how):
    """stdin through a pipe: all of it arrives, and its EOF ends cat."""
    if how == "run":
        b = env.bundle().sh("cat > /shared/got; sha256sum /shared/got").write()
        argv = rt.cmd("run", "--bundle", b.path, env.new_id())
    else:
        b, cid = _running(env)
        argv = rt.cmd("exec", cid, "sh", "-c", "cat > /shared/got; sha256sum /shared/got")
    rc, out, err = _pipe_through(argv, blob)
    assert rc == 0, err
    assert out.split()[0].decode() == _sha(blob)
    assert os.path.getsize(b.shared_file("got")) == SIZE


@pytest.mark.parametrize("how", ["run", "exec"])
def test_stdin_to_stdout_roundtrip(env, rt, blob, how):
    if how == "run":
        b = env.bundle().set_args("cat").write()
        argv = rt.cmd("run", "--bundle", b.path, env.new_id())
    else:
        _, cid = _running(env)
        argv = rt.cmd("exec", cid, "cat")
    rc, out, err = _pipe_through(argv, blob)
    assert rc == 0, err
    assert _sha(out) == _sha(blob)


@pytest.mark.husk_only  # runc copies foreground stdio through pipes of its own
@pytest.mark.parametrize("how", ["run", "exec"])
def test_stdio_passed_straight_through(env, rt, how):
    """The process's fds 0-2 are the very pipes we made: no proxy."""
    script = "touch /shared/ready; cat"
    rin, win = os.pipe()
    rout, wout = os.pipe()
    rerr, werr = os.pipe()
    cid = env.new_id()
    if how == "run":
        b = env.bundle().sh(script).write()
        argv = rt.cmd("run", "--bundle", b.path, cid)
    else:
        b, cid = _running(env)
        argv = rt.cmd("exec", "--pid-file", os.path.join(rt.workdir, "exec.pid"), cid,
                      "sh", "-c", script)
    want = [f"pipe:[{os.fstat(fd).st_ino}]" for fd in (rin, wout, werr)]
    p = subprocess.Popen(argv, stdin=rin, stdout=wout, stderr=werr)
    for fd in (rin, wout, werr):
        os.close(fd)
    try:
        assert wait_for(lambda: os.path.exists(b.shared_file("ready")), 10)
        if how == "run":
            pid = rt.state(cid)["pid"]
        else:
            pidfile = os.path.join(rt.workdir, "exec.pid")
            assert wait_for(lambda: os.path.exists(pidfile), 10)
            pid = int(open(pidfile).read())
        got = [os.readlink(f"/proc/{pid}/fd/{n}") for n in range(3)]
        assert got == want
        os.write(win, b"bye\n")
        os.close(win)
        win = -1
        assert p.wait(30) == 0
        assert os.read(rout, 100) == b"bye\n"
    finally:
        if win >= 0:
            os.close(win)
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(rout)
        os.close(rerr)


def test_exec_stdin_devnull_owner_unchanged(env, rt):
    _, cid = _running(env)
    before = os.stat("/dev/null")
    with open("/dev/null") as devnull:
        r = subprocess.run(rt.cmd("exec", "-u", "1000", cid, "cat"), stdin=devnull,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    after = os.stat("/dev/null")
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid,
                                                           before.st_mode)
