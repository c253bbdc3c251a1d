"""husk exec: joining a running container's namespaces and cgroups, the
process spec from the container's config, flags or --process, exit codes,
detach + pid file, refusals."""
import json
import os
import signal
import subprocess
import time

import pytest

from helpers import HAS_CGROUP2, IS_HUSK, PURE_V2, add_userns, cgroup_dir, cgroup_dirs, pid_alive, \
    pid_cgroups, read_cgroup, wait_for


def _procs_files(b):
    """cgroup.procs of the container's cgroup in every hierarchy (the one
    v2 directory on a pure v2 host)."""
    return [os.path.join(d, "cgroup.procs") for d in cgroup_dirs(b)]



def _kill_reap(pid):
    """A detached exec's process is reparented to us (the subreaper): kill
    and reap it, or the container's dying init waits for it."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _running(env, script="sleep 1000", bundle=None, **cfg):
    b = bundle or env.bundle()
    b.sh(script)
    for k, v in cfg.items():
        b.config["process"][k] = v
    cid, _ = env.create(b)
    env.rt.ok("start", cid)
    return b, cid


def _ns(pid, name):
    return os.readlink(f"/proc/{pid}/ns/{name}")


def test_exec_joins_namespaces(env, rt):
    b, cid = _running(env)
    pid = rt.state(cid)["pid"]
    names = ["pid", "net", "mnt", "uts", "ipc", "cgroup"]
    r = rt.ok("exec", cid, "sh", "-c",
              " ; ".join(f"readlink /proc/self/ns/{n}" for n in names))
    assert r.out.split() == [_ns(pid, n) for n in names], r
    # the container's init is pid 1 in there, and the exec is not
    r = rt.ok("exec", cid, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$")
    first, me = r.out.splitlines()
    assert first.strip() == "sleep 1000", r
    assert int(me) != 1
    # the hostname is the container's, the root its rootfs
    with open(os.path.join(b.rootfs, "marker"), "w") as f:
        f.write("in-rootfs\n")
    assert rt.ok("exec", cid, "cat", "/marker").out == "in-rootfs\n"
    r = rt.ok("exec", cid, "hostname")
    assert r.out.strip() == b.config["hostname"], r


def test_exec_user_namespace(env, rt):
    b = add_userns(env.bundle())
    _, cid = _running(env, bundle=b)
    pid = rt.state(cid)["pid"]
    r = rt.ok("exec", "-d", "--pid-file", "exec.pid", cid, "sleep", "100")
    epid = int(open(os.path.join(rt.workdir, "exec.pid")).read())
    assert _ns(epid, "user") == _ns(pid, "user")
    assert _ns(epid, "pid") == _ns(pid, "pid")
    with open(f"/proc/{epid}/status") as f:
        uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
    assert uids == ["100000"] * 4
    assert pid_cgroups(epid) == pid_cgroups(pid)
    r = rt.ok("exec", cid, "id", "-u")
    assert r.out.strip() == "0", r
    _kill_reap(epid)


def test_exec_joins_cgroup(env, rt):
    b, cid = _running(env)
    rt.ok("exec", "-d", "--pid-file", "p", cid, "sleep", "100")
    epid = int(open(os.path.join(rt.workdir, "p")).read())
    try:
        procs = _procs_files(b)
        assert procs
        for p in procs:
            pids = open(p).read().split()
            assert str(epid) in pids, p
    finally:
        # an unreaped exec'd process holds the pid namespace's init in exit
        _kill_reap(epid)


def test_exec_cgroups_every_hierarchy(env, rt):
    """The process is in the container's cgroup in every hierarchy the
    container has (v1 ones and the unified one), as the kernel sees it,
    and nothing of husk's (the namespace joiner) stays behind there."""
    b, cid = _running(env)
    init = rt.state(cid)["pid"]
    want = pid_cgroups(init)
    assert all(p.endswith(f"/husk-test/{b.unique}") for c, p in want.items()
               if c != "name=systemd"), want
    for i in range(3):
        rt.ok("exec", "-d", "--pid-file", "p", cid, "sleep", "100")
        epid = int(open(os.path.join(rt.workdir, "p")).read())
        try:
            assert pid_cgroups(epid) == want
            for procs in _procs_files(b):
                for p in open(procs).read().split():
                    assert _ns(int(p), "pid") == _ns(init, "pid"), (procs, p)
        finally:
            _kill_reap(epid)


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 3", 3), ("exit 255", 255),
                                         ("kill -KILL $$", 137), ("kill -TERM $$", 143)])
def test_exec_exit_codes(env, rt, script, code):
    _, cid = _running(env)
    r = rt("exec", cid, "sh", "-c", script)
    assert r.rc == code, r


def test_exec_detach_pid_file(env, rt):
    b, cid = _running(env)
    r = rt.ok("exec", "-d", "--pid-file", "exec.pid", cid,
              "sh", "-c", "echo started > /shared/m; sleep 100")
    assert r.duration < 5
    pid = int(open(os.path.join(rt.workdir, "exec.pid")).read())
    assert pid_alive(pid)
    assert wait_for(lambda: os.path.exists(b.shared_file("m")))
    assert _ns(pid, "pid") == _ns(rt.state(cid)["pid"], "pid")
    _kill_reap(pid)


def test_exec_pid_file_relative_to_cwd(env, rt):
    _, cid = _running(env)
    d = os.path.join(env.base, "elsewhere")
    os.mkdir(d)
    rt.ok("exec", "--pid-file", "x.pid", cid, "true", cwd=d)
    assert int(open(os.path.join(d, "x.pid")).read()) > 0


def test_exec_env_user_cwd(env, rt):
    b = env.bundle()
    b.config["process"]["env"] = ["PATH=/bin", "FROM_CONFIG=1", "OVER=old"]
    _, cid = _running(env, bundle=b)
    r = rt.ok("exec", "-e", "NEW=v=1", "-e", "OVER=new", "-u", "1000:1001",
              "-g", "1000", "-g", "65534", "--cwd", "/home/user",
              cid, "sh", "-c", 'echo "$FROM_CONFIG $NEW $OVER"; env | grep -c ^OVER=; '
              'id -u; id -g; id -G; pwd')
    assert r.out.splitlines() == ["1 v=1 new", "1", "1000", "1001", "1001 1000 65534",
                                  "/home/user"], r


def test_exec_defaults_from_config(env, rt):
    b = env.bundle()
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.config["process"]["cwd"] = "/home/user"
    _, cid = _running(env, bundle=b)
    r = rt.ok("exec", cid, "sh", "-c", "id -u; pwd")
    assert r.out.split() == ["1000", "/home/user"], r


def _capeff(out):
    return int([l for l in out.splitlines() if l.startswith("CapEff:")][0].split()[1], 16)


def test_exec_capabilities(env, rt):
    _, cid = _running(env)
    default = _capeff(rt.ok("exec", cid, "cat", "/proc/self/status").out)
    # runc spec: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
    assert default == (1 << 29) | (1 << 5) | (1 << 10)
    r = rt.ok("exec", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_NET_RAW", cid, "cat", "/proc/self/status")
    assert _capeff(r.out) == default | (1 << 21) | (1 << 13), r
    # not inheritable (CVE-2022-29162), so a non-root user keeps only the bound
    r = rt.ok("exec", "-u", "1000", "--cap", "CAP_SYS_ADMIN", cid, "cat", "/proc/self/status")
    bnd = int([l for l in r.out.splitlines() if l.startswith("CapBnd:")][0].split()[1], 16)
    assert bnd & (1 << 21) and _capeff(r.out) == 0, r


def test_exec_unknown_cap_warns(env, rt):
    """exec --cap with a name that maps to nothing: a warning, and the
    process runs with the container's capabilities and the other --cap."""
    _, cid = _running(env)
    default = _capeff(rt.ok("exec", cid, "cat", "/proc/self/status").out)
    r = rt.ok("exec", "--cap", "CAP_NOPE", "--cap", "CAP_NET_RAW", cid, "cat", "/proc/self/status")
    assert _capeff(r.out) == default | (1 << 13), r
    assert "CAP_NOPE" in r.err, r
    if IS_HUSK:
        assert r.err.splitlines() == ["husk: warning: exec: capabilities: cannot grant CAP_NOPE (unknown); "
                                      "going on without them"], r


@pytest.mark.husk_only  # runc 1.1.5 fails in capset (EPERM)
def test_exec_ungrantable_cap_warns(env, rt):
    with open("/proc/self/status") as f:
        bnd = int([l for l in f if l.startswith("CapBnd:")][0].split()[1], 16)
    if bnd & (1 << 24):
        pytest.skip("CAP_SYS_RESOURCE is in the host's bounding set")
    _, cid = _running(env)
    default = _capeff(rt.ok("exec", cid, "cat", "/proc/self/status").out)
    r = rt.ok("exec", "--cap", "CAP_SYS_RESOURCE", "--cap", "CAP_NET_RAW", cid, "cat", "/proc/self/status")
    assert _capeff(r.out) == default | (1 << 13), r
    assert r.err.splitlines() == ["husk: warning: exec: capabilities: cannot grant CAP_SYS_RESOURCE "
                                  "(not in the runtime's bounding set); going on without them"], r


def test_exec_no_new_privs(env, rt):
    _, cid = _running(env, noNewPrivileges=False)
    r = rt.ok("exec", cid, "grep", "NoNewPrivs", "/proc/self/status")
    assert r.out.split()[1] == "0", r
    r = rt.ok("exec", "--no-new-privs", cid, "grep", "NoNewPrivs", "/proc/self/status")
    assert r.out.split()[1] == "1", r


def test_exec_args_with_dashes(env, rt):
    _, cid = _running(env)
    r = rt.ok("exec", cid, "sh", "-c", 'printf "%s %s\\n" "$0" "$1"', "-e", "--tty")
    assert r.out.strip() == "-e --tty", r


def test_exec_process_file(env, rt):
    b, cid = _running(env)
    proc = {"args": ["sh", "-c", "echo $A; id -u; pwd; grep CapEff /proc/self/status"],
            "env": ["PATH=/bin", "A=from-process-json"], "cwd": "/tmp",
            "user": {"uid": 1000, "gid": 1000},
            "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"],
                             "permitted": ["CAP_CHOWN"], "inheritable": ["CAP_CHOWN"],
                             "ambient": ["CAP_CHOWN"]}}
    path = os.path.join(env.base, "process.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    r = rt.ok("exec", "--process", path, cid)
    lines = r.out.splitlines()
    assert lines[:3] == ["from-process-json", "1000", "/tmp"], r
    assert _capeff(lines[3]) == 1, r


def test_exec_process_file_errors(env, rt):
    _, cid = _running(env)
    r = rt.fail("exec", "--process", os.path.join(env.base, "nope.json"), cid)
    assert "nope.json" in r.err and len(r.err.strip().splitlines()) == 1, r
    path = os.path.join(env.base, "bad.json")
    with open(path, "w") as f:
        json.dump({"args": [], "cwd": "/"}, f)
    r = rt.fail("exec", "--process", path, cid)
    assert "args" in r.err, r


def test_exec_forwards_signals(env, rt):
    b, cid = _running(env)
    p = subprocess.Popen(rt.cmd("exec", cid, "sh", "-c",
                                "trap 'exit 42' TERM; touch /shared/ready; "
                                "while :; do sleep 0.05; done"),
                         stdin=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: os.path.exists(b.shared_file("ready")))
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 42
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_exec_no_fd_leak(env, rt):
    _, cid = _running(env)
    r = rt.ok("exec", cid, "sh", "-c", "ls /proc/$$/fd; true")
    assert sorted(r.out.split(), key=int) == ["0", "1", "2"], r


@pytest.mark.husk_only  # LISTEN_FDS with --preserve-fds is husk's convention
def test_exec_preserve_fds(env, rt):
    _, cid = _running(env)
    rfd, wfd = os.pipe()
    os.write(wfd, b"via-fd-3\n")
    os.close(wfd)
    try:
        r = rt("exec", "--preserve-fds", "1", cid, "sh", "-c",
               'ls /proc/$$/fd; echo "L=$LISTEN_FDS"; cat <&3; true', fd_map={3: rfd, 4: rfd})
    finally:
        os.close(rfd)
    assert r.rc == 0, r
    lines = r.out.split()
    assert lines[-1] == "via-fd-3", r
    assert lines[-2] == "L=1", r
    assert sorted(lines[:-2], key=int) == ["0", "1", "2", "3"], r


def test_exec_not_dumpable_runtime_hidden(env, rt):
    """The process sees its own program at /proc/self/exe, never husk."""
    _, cid = _running(env)
    r = rt.ok("exec", cid, "readlink", "/proc/self/exe")
    assert r.out.strip() == "/bin/busybox", r


def test_exec_created_container(env, rt):
    """exec into a created container (its init waits for start) joins the
    init's namespaces and cgroups, as runc's does; start works after."""
    b = env.bundle().sh("touch /shared/started; exec sleep 1000")
    cid, _ = env.create(b)
    init = rt.state(cid)["pid"]
    names = ["pid", "net", "mnt", "uts", "ipc"]
    r = rt("exec", cid, "sh", "-c",
           " ; ".join(f"readlink /proc/self/ns/{n}" for n in names) + "; exit 7")
    assert r.rc == 7, r
    assert r.out.split() == [_ns(init, n) for n in names], r
    rt.ok("exec", "-d", "--pid-file", "p", cid, "sleep", "100")
    epid = int(open(os.path.join(rt.workdir, "p")).read())
    try:
        assert pid_cgroups(epid) == pid_cgroups(init)
        assert _ns(epid, "pid") == _ns(init, "pid")
        assert rt.state(cid)["status"] == "created"
        assert not os.path.exists(b.shared_file("started"))
        rt.ok("start", cid)
        assert wait_for(lambda: os.path.exists(b.shared_file("started")))
        assert rt.state(cid)["status"] == "running"
        assert pid_alive(epid)
    finally:
        _kill_reap(epid)


def test_exec_stopped_container_refused(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    r = rt("exec", cid, "true")
    assert r.rc == 255 and "stopped" in r.err, r


def test_exec_own_failures_exit_255(env, rt):
    """exec's own failures exit 255, as runc's, so that callers tell them
    from the process's status; usage errors (unknown flag, bad flag value)
    exit 1 as every command's do."""
    _, cid = _running(env)
    for args in (("nosuch", "true"), (cid, "/no/such/binary"), (cid,),
                 ("--cwd", "relative", cid, "true"), ("-u", "abc", cid, "true"),
                 ("-e", "NOEQUALS", cid, "true"), ("-p", "/no/such.json", cid)):
        r = rt("exec", *args)
        assert r.rc == 255 and r.out == "", r
    for args in (("--bogus-flag", cid, "true"), ("--preserve-fds", "abc", cid, "true")):
        r = rt("exec", *args)
        assert r.rc == 1, r
    r = rt("exec", cid, "sh", "-c", "exit 254")
    assert r.rc == 254, r


def _in_pid_ns(ns):
    """(pid, state) of every process in pid namespace ns."""
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{p}/ns/pid") == ns:
                with open(f"/proc/{p}/stat") as f:
                    found.append((int(p), f.read().rsplit(")", 1)[1].split()[0]))
        except OSError:
            pass
    return found


def test_exec_failed_leaves_no_zombie(env, rt):
    """A process that fails before its exec (here: quickly, a missing
    binary) is reaped by the runtime, even when its error overtakes the
    message with its pid; an unreaped zombie in the pid namespace would
    keep the dying init from exiting (delete waits for it)."""
    _, cid = _running(env)
    init = rt.state(cid)["pid"]
    ns = _ns(init, "pid")
    for _ in range(5):
        r = rt("exec", cid, "/no/such/binary")
        assert r.rc == 255, r
    assert _in_pid_ns(ns) == [(init, "S")]


@pytest.mark.husk_only  # error texts
def test_exec_errors(env, rt):
    rt.fail("exec", "nosuch", "true")
    _, cid = _running(env)
    r = rt.fail("exec", cid)
    assert "command" in r.err or "ARGS" in r.err, r
    r = rt.fail("exec", cid, "/no/such/binary")
    assert "/no/such/binary" in r.err and len(r.err.strip().splitlines()) == 1, r
    r = rt.fail("exec", "-u", "abc", cid, "true")
    assert "abc" in r.err, r
    r = rt.fail("exec", "--cwd", "relative", cid, "true")
    r = rt.fail("exec", "-e", "NOEQUALS", cid, "true")
    r = rt.fail("exec", "--bogus-flag", cid, "true")
    # a failed exec leaves no process behind
    time.sleep(0.1)
    r = rt.ok("exec", cid, "sh", "-c", "ls /proc | grep -c '^[0-9]'")
    # pid 1 (sleep's sh... ) and this exec's sh, ls and grep at most
    assert int(r.out) <= 5, r


def test_exec_cgroup_sub_path(env, rt):
    b, cid = _running(env)
    sub = os.path.join(cgroup_dir("memory", b), "sub")
    os.mkdir(sub)
    pid = None
    try:
        # v2 has one hierarchy: a bare path (runc's form there)
        rt.ok("exec", "-d", "--pid-file", "p", "--cgroup", "sub" if PURE_V2 else "memory:sub",
              cid, "sleep", "100")
        pid = open(os.path.join(rt.workdir, "p")).read().strip()
        assert pid in open(os.path.join(sub, "cgroup.procs")).read().split()
        cgs = pid_cgroups(int(pid))
        if PURE_V2:
            assert cgs == {"": f"/husk-test/{b.unique}/sub"}, cgs
            rt.fail("exec", "--cgroup", "nosuch", cid, "true")
            rt.fail("exec", "--cgroup", "../escape", cid, "true")
            return
        assert cgs["memory"] == f"/husk-test/{b.unique}/sub", cgs
        assert all(p == f"/husk-test/{b.unique}" for c, p in cgs.items()
                   if c not in ("memory", "name=systemd")), cgs
        # other hierarchies: the container's own cgroup
        assert pid in read_cgroup("pids", b, "cgroup.procs").split()
        rt.fail("exec", "--cgroup", "memory:nosuch", cid, "true")
        rt.fail("exec", "--cgroup", "../escape", cid, "true")
    finally:
        if pid:
            _kill_reap(int(pid))
        wait_for(lambda: not open(os.path.join(sub, "cgroup.procs")).read().strip())
        os.rmdir(sub)


def test_exec_paused_container(env, rt):
    b, cid = _running(env)
    rt.ok("pause", cid)
    try:
        r = rt.fail("exec", cid, "true")
        assert "paused" in r.err, r
        # --ignore-paused: the process joins the frozen cgroup and runs once
        # the container is resumed (exec holds no lock meanwhile)
        p = subprocess.Popen(rt.cmd("exec", "--ignore-paused", cid, "sh", "-c",
                                    "echo ran > /shared/ran"), stdin=subprocess.DEVNULL)
        time.sleep(0.5)
        assert not os.path.exists(b.shared_file("ran"))
        rt.ok("resume", cid)
        assert p.wait(10) == 0
        assert b.read_shared("ran") == "ran\n"
    finally:
        rt("resume", cid)


@pytest.mark.husk_only
@pytest.mark.skipif(not HAS_CGROUP2, reason="no cgroup2 hierarchy")
def test_exec_cgroup_v2(v2):
    """On a pure v2 host (test_cgroup_v2's private-namespace wrapper) the
    process is born in the container's cgroup, or the --cgroup one below."""
    rt = v2.rt
    b, cid = _running(v2)
    sub = os.path.join(cgroup_dir("unified", b), "sub")
    os.mkdir(sub)
    pids = []
    try:
        for args, path in (([], f"/husk-test/{b.unique}"), (["--cgroup", "sub"], f"/husk-test/{b.unique}/sub")):
            rt.ok("exec", "-d", "--pid-file", "p", *args, cid, "sleep", "100")
            pids.append(int(open(os.path.join(rt.workdir, "p")).read()))
            assert pid_cgroups(pids[-1])[""] == path
        rt.fail("exec", "--cgroup", "nosuch", cid, "true")
    finally:
        for p in pids:
            _kill_reap(p)
        wait_for(lambda: not open(os.path.join(sub, "cgroup.procs")).read().strip())
        os.rmdir(sub)
