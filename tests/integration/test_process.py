"""process.*: args, env, cwd, user, umask, rlimits, capabilities, ..."""
import os

import pytest

from helpers import CAP_NAMES as CAPS, IS_HUSK


def capmask(names):
    m = 0
    for n in names:
        m |= 1 << CAPS.index(n)
    return m


def proc_status(text):
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def test_args(env):
    b = env.bundle().set_args("/bin/echo", "a b", "", "c")
    r = env.run(b)
    assert r.out == "a b  c\n", r


def test_args_path_lookup(env):
    b = env.bundle().set_args("echo", "found-in-path")
    r = env.run(b)
    assert r.out == "found-in-path\n", r


def test_env_exact(env):
    b = env.bundle().set_args("/bin/env")
    b.config["process"]["env"] = ["PATH=/bin", "A=1", "B=two words", "EMPTY="]
    r = env.run(b)
    lines = sorted(r.out.splitlines())
    assert [l for l in lines if not l.startswith("HOME=")] == \
        sorted(["PATH=/bin", "A=1", "B=two words", "EMPTY="]), r


@pytest.mark.parametrize("uid,home", [(0, "/root"), (1000, "/home/user"), (4242, "/")])
def test_env_home_from_passwd(env, uid, home):
    """runc sets HOME from the container's /etc/passwd when the config does
    not (docker relies on it); "/" for a user without an entry."""
    b = env.bundle().sh('echo "$HOME"')
    b.config["process"]["user"] = {"uid": uid, "gid": uid}
    assert env.run(b).out == home + "\n"


def test_env_home_kept(env):
    b = env.bundle().sh('echo "$HOME"')
    b.config["process"]["env"] = ["PATH=/bin", "HOME=/custom"]
    assert env.run(b).out == "/custom\n"


def test_env_no_host_leak(env):
    b = env.bundle().set_args("/bin/env")
    r = env.run(b)
    assert "PYTEST" not in r.out and "PWD=" + os.getcwd() not in r.out, r


def test_cwd(env):
    b = env.bundle().sh("pwd")
    b.config["process"]["cwd"] = "/etc"
    assert env.run(b).out == "/etc\n"


def test_missing_cwd_created(env):
    b = env.bundle().sh("pwd")
    b.config["root"]["readonly"] = False
    b.config["process"]["cwd"] = "/new/dir"
    r = env.run(b)
    assert r.out == "/new/dir\n", r
    assert os.path.isdir(os.path.join(b.rootfs, "new/dir"))


def test_user_uid_gid_additional(env):
    b = env.bundle().sh("id -u; id -g; id -G")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [1001, 5]}
    r = env.run(b)
    lines = r.out.splitlines()
    assert lines[:2] == ["1000", "1000"], r
    assert sorted(map(int, lines[2].split())) == [5, 1000, 1001], r


def test_user_no_additional_gids_drops_groups(env):
    b = env.bundle().sh("id -G")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = env.run(b)
    # runc adds the passwd groups of uid 1000 from /etc/group ("extra")?  The
    # spec only promises uid/gid and additionalGids; root's host groups must
    # never leak in.
    assert "0" not in r.out.split(), r


def test_umask(env):
    b = env.bundle().sh("umask")
    b.config["process"]["user"]["umask"] = 0o027
    assert env.run(b).out.strip() == "0027"


def test_default_umask(env):
    b = env.bundle().sh("umask")
    assert env.run(b).out.strip() == "0022"


def test_rlimits(env):
    b = env.bundle().sh("ulimit -n; ulimit -Hn; grep 'Max open files' /proc/self/limits; "
                        "grep 'Max processes' /proc/self/limits")
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
                                      {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000}]
    r = env.run(b)
    lines = r.out.splitlines()
    assert lines[0] == "123" and lines[1] == "456", r
    assert lines[2].split()[3:5] == ["123", "456"], r
    assert lines[3].split()[2:4] == ["1000", "2000"], r


def test_rlimit_unknown_fails(env, rt):
    b = env.bundle().set_args("true")
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


def test_rlimit_above_host_hard_limit_fails(env, rt):
    # the host lacks CAP_SYS_RESOURCE: raising above the hard limit is EPERM
    b = env.bundle().set_args("true")
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10 ** 7, "hard": 10 ** 7}]
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


def test_capabilities_default_root(env):
    b = env.bundle().set_args("cat", "/proc/self/status")
    st = proc_status(env.run(b).out)
    caps = b.config["process"]["capabilities"]
    assert int(st["CapBnd"], 16) == capmask(caps["bounding"]), st["CapBnd"]
    assert int(st["CapEff"], 16) == capmask(caps["effective"]), st["CapEff"]
    assert int(st["CapPrm"], 16) == capmask(caps["permitted"]), st["CapPrm"]


def test_capabilities_nonroot_sets(env):
    b = env.bundle().set_args("cat", "/proc/self/status")
    two = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bnd = two + ["CAP_AUDIT_WRITE", "CAP_CHOWN"]
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.config["process"]["capabilities"] = {"bounding": bnd, "effective": two,
                                           "permitted": two, "inheritable": two,
                                           "ambient": two}
    st = proc_status(env.run(b).out)
    assert int(st["CapBnd"], 16) == capmask(bnd), st
    assert int(st["CapEff"], 16) == capmask(two), st
    assert int(st["CapPrm"], 16) == capmask(two), st
    assert int(st["CapInh"], 16) == capmask(two), st
    assert int(st["CapAmb"], 16) == capmask(two), st


def test_capabilities_nonroot_without_ambient(env):
    b = env.bundle().set_args("cat", "/proc/self/status")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.config["process"]["capabilities"] = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                           "permitted": ["CAP_KILL"]}
    st = proc_status(env.run(b).out)
    assert int(st["CapEff"], 16) == 0, st
    assert int(st["CapBnd"], 16) == capmask(["CAP_KILL"]), st


def test_no_capabilities_object(env):
    b = env.bundle().set_args("cat", "/proc/self/status")
    del b.config["process"]["capabilities"]
    st = proc_status(env.run(b).out)
    assert int(st["CapBnd"], 16) == 0 and int(st["CapEff"], 16) == 0, st


def host_bounding():
    with open("/proc/self/status") as f:
        return int(proc_status(f.read())["CapBnd"], 16)


def test_unknown_capability_warns_and_runs(env, rt):
    """Spec 1.1: a capability that maps to nothing is logged as a warning,
    and the container runs with the others (runc 1.1 does too)."""
    b = env.bundle().set_args("cat", "/proc/self/status")
    for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        b.config["process"]["capabilities"][s] = ["CAP_KILL", "CAP_NOT_A_CAP"]
    r = env.run(b)
    st = proc_status(r.out)
    assert int(st["CapBnd"], 16) == capmask(["CAP_KILL"]), st
    assert int(st["CapEff"], 16) == capmask(["CAP_KILL"]), st
    assert "CAP_NOT_A_CAP" in r.err, r
    if IS_HUSK:
        assert r.err.splitlines() == [
            "husk: warning: config.json: process.capabilities: cannot grant CAP_NOT_A_CAP (unknown); "
            "going on without them"], r


@pytest.mark.husk_only  # runc 1.1.5 fails in capset (EPERM)
def test_ungrantable_capability_warns_and_runs(env, rt):
    """Spec 1.1: a known capability outside the runtime's bounding set
    cannot be granted: a warning names it, the rest apply."""
    missing = [c for i, c in enumerate(CAPS) if not host_bounding() & (1 << i)]
    if not missing:
        pytest.skip("the host's bounding set has every capability")
    b = env.bundle().set_args("cat", "/proc/self/status")
    want = ["CAP_KILL", "CAP_CHOWN"]
    for s in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        b.config["process"]["capabilities"][s] = want + [missing[0], "CAP_FOO"]
    r = env.run(b)
    st = proc_status(r.out)
    assert int(st["CapBnd"], 16) == capmask(want), st
    assert int(st["CapEff"], 16) == capmask(want), st
    assert int(st["CapAmb"], 16) == capmask(want), st
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("husk: warning: config.json: process.capabilities: "), r
    assert f"{missing[0]} (not in the runtime's bounding set)" in lines[0], r
    assert "CAP_FOO (unknown)" in lines[0], r


def test_no_new_privileges(env):
    b = env.bundle().set_args("cat", "/proc/self/status")
    assert proc_status(env.run(b).out)["NoNewPrivs"] == "1"
    b = env.bundle().set_args("cat", "/proc/self/status")
    b.config["process"]["noNewPrivileges"] = False
    assert proc_status(env.run(b).out)["NoNewPrivs"] == "0"


def test_oom_score_adj(env):
    b = env.bundle().set_args("cat", "/proc/self/oom_score_adj")
    b.config["process"]["oomScoreAdj"] = 500
    assert env.run(b).out.strip() == "500"


# runc 1.1 has no linux.personality (runc 1.2).
@pytest.mark.husk_only
def test_personality_linux32(env):
    b = env.bundle().set_args("uname", "-m")
    b.config["linux"]["personality"] = {"domain": "LINUX32"}
    assert env.run(b).out.strip() in ("i686", "i386")


# runc 1.1 has no process.ioPriority (runc 1.2).
@pytest.mark.husk_only
def test_io_priority(env):
    b = env.bundle().set_args("ionice")
    b.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    assert env.run(b).out.strip() == "best-effort: prio 6"


# runc 1.1 has no process.scheduler (runc 1.2).
@pytest.mark.husk_only
def test_scheduler_batch(env):
    b = env.bundle().set_args("cat", "/proc/self/stat")
    b.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    fields = env.run(b).out.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): nice is field 19, policy field 41
    assert fields[41 - 3] == "3", fields
    assert fields[19 - 3] == "5", fields


def test_no_fd_leak(env):
    b = env.bundle().set_args("ls", "/proc/self/fd")
    r = env.run(b)
    assert sorted(r.out.split(), key=int) == ["0", "1", "2", "3"], r


def _pipe_with(data):
    rfd, wfd = os.pipe()
    os.write(wfd, data)
    os.close(wfd)
    return rfd


def test_preserve_fds(env, rt):
    b = env.bundle().sh("ls /proc/self/fd; cat <&3")
    b.write()
    rfd = _pipe_with(b"through-fd-3\n")
    try:
        r = rt("run", "--preserve-fds", "1", "--bundle", b.path, env.new_id(), fd_map={3: rfd})
    finally:
        os.close(rfd)
    assert r.rc == 0, r
    lines = r.out.split()
    assert lines[-1] == "through-fd-3", r
    # 0-2, the preserved 3, and ls' own directory fd
    assert sorted(lines[:-1], key=int) == ["0", "1", "2", "3", "4"], r


# husk's own convention (runc does not do this): --preserve-fds N exports
# LISTEN_FDS=N and LISTEN_PID=<container pid> so the program can find them.
@pytest.mark.husk_only
def test_preserve_fds_sets_listen_fds(env, rt):
    b = env.bundle().sh('echo "$LISTEN_FDS $LISTEN_PID $$"')
    b.write()
    rfd = _pipe_with(b"x")
    try:
        r = rt("run", "--preserve-fds", "1", "--bundle", b.path, env.new_id(), fd_map={3: rfd})
    finally:
        os.close(rfd)
    assert r.rc == 0, r
    assert r.out.split() == ["1", "1", "1"], r


def test_extra_fds_not_passed_without_preserve(env, rt):
    b = env.bundle().set_args("ls", "/proc/self/fd")
    b.write()
    rfd = _pipe_with(b"x")
    try:
        r = rt("run", "--bundle", b.path, env.new_id(), fd_map={3: rfd, 4: rfd})
    finally:
        os.close(rfd)
    assert r.rc == 0, r
    assert sorted(r.out.split(), key=int) == ["0", "1", "2", "3"], r


def test_listen_fds_socket_activation(env, rt):
    """systemd socket activation (runc-compatible): LISTEN_FDS/LISTEN_PID
    addressed to the runtime make it pass those fds on, and the container
    gets LISTEN_FDS."""
    b = env.bundle().sh('echo "LISTEN_FDS=$LISTEN_FDS"; ls /proc/self/fd | wc -l; cat <&3')
    b.write()
    rfd = _pipe_with(b"socket-fd\n")
    try:
        r = rt("run", "--bundle", b.path, env.new_id(), fd_map={3: rfd}, listen_pid=True,
               env=dict(os.environ, LISTEN_FDS="1"))
    finally:
        os.close(rfd)
    assert r.rc == 0, r
    assert r.out.split() == ["LISTEN_FDS=1", "5", "socket-fd"], r


def test_exec_not_found_fails_create(env, rt):
    b = env.bundle().set_args("no-such-binary-xyz")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert "no-such-binary-xyz" in r.err, r
    assert rt.ids() == []


def test_exec_not_found_fails_run(env, rt):
    b = env.bundle().set_args("/bin/no-such-binary-abs")
    r = env.run(b, ok=False)
    assert r.rc != 0, r
    assert "no-such-binary-abs" in r.err, r
    assert rt.ids() == []


def test_exec_not_executable_fails(env, rt):
    b = env.bundle().set_args("/etc/passwd")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert "/etc/passwd" in r.err, r
    assert rt.ids() == []


def test_nonroot_cannot_write_root_owned(env):
    b = env.bundle().sh("touch /shared/x 2>/dev/null && echo yes; touch /root/y 2>/dev/null || echo no")
    b.config["root"]["readonly"] = False
    os.chmod(os.path.join(b.rootfs, "root"), 0o700)
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.config["process"]["capabilities"] = {}
    assert env.run(b).out.split() == ["yes", "no"]
