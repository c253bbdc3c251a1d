"""create / start / state / kill / delete / run, and the state they leave."""
import json
import os
import signal
import threading
import time

import pytest

from helpers import pid_alive, wait_for


def wait_status(rt, cid, status, timeout=5):
    last = {}

    def check():
        r = rt("state", cid)
        if r.rc == 0:
            last["s"] = json.loads(r.out)
            return last["s"]["status"] == status
        last["r"] = r
        return False

    assert wait_for(check, timeout), f"{cid} never reached {status!r}: {last}"
    return last["s"]


def test_create_start_kill_delete(env, rt):
    b = env.bundle()
    b.sh("touch /shared/started; exec sleep 100")
    cid, _ = env.create(b)

    st = rt.state(cid)
    assert st["status"] == "created", st
    assert st["id"] == cid
    assert isinstance(st["pid"], int) and st["pid"] > 0, st
    assert st["bundle"] == b.path, st
    assert os.path.isabs(st["bundle"])
    assert st.get("ociVersion"), st
    for key in ("rootfs", "created", "owner"):
        assert key in st, f"state lacks {key}: {st}"
    assert st["rootfs"] == b.rootfs, st
    pid = st["pid"]
    assert pid_alive(pid)
    # The user program has not run yet.
    time.sleep(0.1)
    assert not os.path.exists(b.shared_file("started")), "process ran before start"

    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b.shared_file("started"))), "start did not run process"
    st = rt.state(cid)
    assert st["status"] == "running", st

    rt.ok("kill", cid, "KILL")
    st = wait_status(rt, cid, "stopped")
    rt.ok("delete", cid)
    assert cid not in rt.ids(), rt.ids()
    rt.fail("state", cid)
    assert not pid_alive(pid)


def test_start_twice_fails(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    rt.fail("start", cid)
    assert rt.state(cid)["status"] == "running"


def test_run_exit_code(env):
    r = env.run_sh("exit 3", ok=False)
    assert r.rc == 3, r


def test_run_output(env):
    r = env.run_sh("echo out; echo err >&2")
    assert r.out == "out\n", r
    assert r.err == "err\n", r


def test_run_removes_container(env, rt):
    env.run_sh("true")
    assert rt.ids() == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_run_killed_by_signal(env, sig):
    b = env.bundle()
    # pid 1 of a pid namespace cannot be killed from inside; drop the pid ns.
    b.remove_namespace("pid")
    b.sh(f"kill -{int(sig)} $$; sleep 5")
    r = env.run(b, ok=False)
    assert r.rc == 128 + int(sig), r


def test_run_killed_from_outside(env, rt):
    b = env.bundle().sh("touch /shared/up; exec sleep 100")
    b.write()
    cid = env.new_id()
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("r", rt("run", "--bundle", b.path, cid)))
    t.start()
    assert wait_for(lambda: os.path.exists(b.shared_file("up")))
    rt.ok("kill", cid, "KILL")
    t.join(10)
    assert res["r"].rc == 137, res["r"]


def test_run_detach_pid_file(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.write()
    cid = env.new_id()
    rt.ok("run", "-d", "--pid-file", "rel.pid", "--bundle", b.path, cid)
    with open(os.path.join(rt.workdir, "rel.pid")) as f:
        pid = int(f.read().strip())
    st = rt.state(cid)
    assert st["status"] == "running", st
    assert st["pid"] == pid
    assert pid_alive(pid)
    rt.ok("delete", "--force", cid)
    assert wait_for(lambda: not pid_alive(pid))


def test_create_pid_file_absolute(env, rt):
    b = env.bundle().set_args("sleep", "100")
    pf = os.path.join(env.base, "abs.pid")
    cid, _ = env.create(b, None, "--pid-file", pf)
    with open(pf) as f:
        assert int(f.read()) == rt.state(cid)["pid"]


def test_run_keep(env, rt):
    b = env.bundle().sh("exit 0")
    b.write()
    cid = env.new_id()
    rt.ok("run", "--keep", "--bundle", b.path, cid)
    st = rt.state(cid)
    assert st["status"] == "stopped", st
    rt.ok("delete", cid)
    assert rt.ids() == []


def test_bundle_defaults_to_cwd(env, rt):
    b = env.bundle().sh("echo in-cwd")
    b.write()
    r = rt.ok("run", env.new_id(), cwd=b.path)
    assert r.out == "in-cwd\n", r


def test_bundle_relative(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.write()
    cid = env.new_id()
    rt.ok("create", "--bundle", os.path.basename(b.path), cid, cwd=env.base)
    assert rt.state(cid)["bundle"] == b.path


def test_absolute_root_path(env, rt):
    b = env.bundle().sh("test -x /bin/busybox && echo abs-ok")
    b.config["root"]["path"] = b.rootfs
    r = env.run(b)
    assert r.out == "abs-ok\n", r


def test_create_same_id_twice(env, rt):
    b1 = env.bundle().sh("touch /shared/first; exec sleep 100")
    b2 = env.bundle().sh("touch /shared/second; exec sleep 100")
    cid, _ = env.create(b1)
    st1 = rt.state(cid)
    b2.write()
    rt.fail("create", "--bundle", b2.path, cid)
    st = rt.state(cid)
    assert st["status"] == "created" and st["pid"] == st1["pid"] and st["bundle"] == b1.path, st
    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b1.shared_file("first")))
    assert not os.path.exists(b2.shared_file("second"))
    rt.ok("delete", "--force", cid)
    # run with a taken id fails too and leaves the first alone
    cid2, _ = env.create(b1)
    b2.write()
    rt.fail("run", "--bundle", b2.path, cid2)
    assert rt.state(cid2)["status"] == "created"


@pytest.mark.parametrize("bad", ["", "a/b", "..", ".", "x" * 1100, "../escape", "a\nb"],
                         ids=["empty", "slash", "dotdot", "dot", "long", "dotdot-slash", "newline"])
def test_invalid_ids(env, rt, bad):
    b = env.bundle().set_args("true")
    b.write()
    r = rt.fail("create", "--bundle", b.path, bad)
    assert rt.ids() == [], f"{rt.ids()}\n{r!r}"
    r = rt.fail("run", "--bundle", b.path, bad)
    assert rt.ids() == [], f"{rt.ids()}\n{r!r}"
    assert not os.path.exists(os.path.join(env.base, "escape"))


def test_delete_running_needs_force(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    pid = rt.state(cid)["pid"]
    rt.fail("delete", cid)
    assert rt.state(cid)["status"] == "running"
    assert pid_alive(pid)
    rt.ok("delete", "--force", cid)
    assert cid not in rt.ids()
    assert wait_for(lambda: not pid_alive(pid)), "init survived delete --force"


def test_delete_force_created(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    pid = rt.state(cid)["pid"]
    rt.ok("delete", "--force", cid)
    assert cid not in rt.ids()
    assert wait_for(lambda: not pid_alive(pid))


# runc deletes a created container without --force (killing its init); the
# spec says delete of a container that is not stopped MUST error and have no
# effect.
@pytest.mark.husk_only
def test_delete_created_without_force_errors(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    pid = rt.state(cid)["pid"]
    rt.fail("delete", cid)
    assert rt.state(cid)["status"] == "created"
    assert pid_alive(pid)


def test_delete_missing_fails(env, rt):
    r = rt.fail("delete", "nosuch")
    assert len(r.err.strip().splitlines()) == 1 and r.out == "", r
    assert rt.ids() == []


def test_delete_force_missing_is_quiet(env, rt):
    """--force of a container that is not there succeeds with no output, as
    runc's does (cleanup needs no check first); a bad id still fails."""
    for args in (("delete", "--force", "nosuch"), ("delete", "-f", "nosuch")):
        r = rt(*args)
        assert r.rc == 0 and r.out == "" and r.err == "", r
    # the container existed once: deleted twice
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("delete", "--force", cid)
    r = rt("delete", "--force", cid)
    assert r.rc == 0 and r.out == "" and r.err == "", r
    r = rt.fail("delete", cid)
    assert len(r.err.strip().splitlines()) == 1, r
    # no state root at all yet
    fresh = os.path.join(env.base, "fresh-root")
    r = rt("--root", fresh, "delete", "--force", "nosuch", root=False)
    assert r.rc == 0 and r.out == "" and r.err == "", r
    rt.fail("delete", "--force", "../escape")
    assert rt.ids() == []


def test_state_missing_fails(env, rt):
    r = rt.fail("state", "nosuch")
    assert r.out.strip() == "", r


def test_stopped_state_and_list(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    st = wait_status(rt, cid, "stopped")
    assert st["id"] == cid
    r = rt.ok("list", "--format", "json")
    entries = {e["id"]: e for e in json.loads(r.out)}
    assert entries[cid]["status"] == "stopped", r
    rt.ok("delete", cid)


def test_start_stopped_fails(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    wait_status(rt, cid, "stopped")
    rt.fail("start", cid)


@pytest.mark.parametrize("sigarg", [None, "KILL", "SIGKILL", "9", "TERM", "15", "SIGTERM"])
def test_kill_signals(env, rt, sigarg):
    b = env.bundle()
    # pid 1 ignores default-action signals: trap TERM so it ends the shell.
    b.sh("trap 'exit 0' TERM; touch /shared/up; while :; do sleep 0.05; done")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b.shared_file("up")))
    args = ["kill", cid] + ([sigarg] if sigarg else [])
    rt.ok(*args)
    wait_status(rt, cid, "stopped")


@pytest.mark.parametrize("sigarg", ["NOSUCHSIG", "SIGFOO", "-1", "999", "9x"])
def test_kill_bad_signal(env, rt, sigarg):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    rt.fail("kill", cid, sigarg)
    assert rt.state(cid)["status"] == "running"


def test_kill_created_container(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("kill", cid, "KILL")
    wait_status(rt, cid, "stopped")


def test_kill_stopped_fails(env, rt):
    b = env.bundle().set_args("true")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    wait_status(rt, cid, "stopped")
    rt.fail("kill", cid, "KILL")


def test_kill_all(env, rt):
    b = env.bundle()
    b.sh("sleep 100 & sleep 100 & touch /shared/up; wait")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    assert wait_for(lambda: os.path.exists(b.shared_file("up")))
    rt.ok("kill", "--all", cid, "KILL")
    wait_status(rt, cid, "stopped")


def test_list_quiet_and_json(env, rt):
    b = env.bundle().set_args("sleep", "100")
    ids = sorted([env.new_id("a"), env.new_id("b")])
    for cid in ids:
        env.create(b, cid)
    rt.ok("start", ids[1])
    r = rt.ok("list", "-q")
    assert sorted(r.out.split()) == ids, r
    r = rt.ok("list", "--format", "json")
    entries = json.loads(r.out)
    assert sorted(e["id"] for e in entries) == ids, r
    by_id = {e["id"]: e for e in entries}
    assert by_id[ids[0]]["status"] == "created"
    assert by_id[ids[1]]["status"] == "running"
    for e in entries:
        assert e["bundle"] == b.path, e
        assert e["pid"] > 0, e
        assert "created" in e, e
        # as the state document says them (runc lists the same fields)
        st = rt.state(e["id"])
        for k in ("ociVersion", "rootfs", "created", "owner", "pid", "status"):
            assert e[k] == st[k] or (k == "owner" and st[k] == ""), (k, e, st)
        assert e["rootfs"] == b.rootfs, e
    r = rt.ok("list")
    lines = r.out.strip().splitlines()
    assert lines[0].split()[:3] == ["ID", "PID", "STATUS"], r
    assert len(lines) == 3, r


def test_list_empty(env, rt):
    r = rt.ok("list", "-q")
    assert r.out.strip() == "", r
    r = rt.ok("list", "--format", "json")
    assert json.loads(r.out) in ([], None), r


def test_process_killed_from_host_reports_stopped(env, rt):
    b = env.bundle().set_args("sleep", "100")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    pid = rt.state(cid)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_status(rt, cid, "stopped")
    r = rt.ok("list", "--format", "json")
    assert {e["id"]: e["status"] for e in json.loads(r.out)}[cid] == "stopped", r
    rt.ok("delete", cid)


def test_state_annotations(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["annotations"] = {"org.example.key": "value", "other": ""}
    cid, _ = env.create(b)
    st = rt.state(cid)
    assert st.get("annotations") == b.config["annotations"], st


def test_run_stdin(env, rt):
    b = env.bundle().set_args("cat")
    b.write()
    src = os.path.join(env.base, "input")
    with open(src, "w") as f:
        f.write("from-stdin\n")
    with open(src) as f:
        r = rt("run", "--bundle", b.path, env.new_id(), stdin=f)
    assert r.rc == 0 and r.out == "from-stdin\n", r


def test_run_forwards_signals(env, rt):
    """A foreground `run` passes signals it receives on to the container."""
    import subprocess
    b = env.bundle().sh("trap 'exit 42' TERM; touch /shared/up; while :; do sleep 0.05; done")
    b.write()
    with open(os.path.join(env.base, "fwd.out"), "w") as out:
        p = subprocess.Popen(rt.cmd("run", "--bundle", b.path, env.new_id()),
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            assert wait_for(lambda: os.path.exists(b.shared_file("up")))
            p.send_signal(signal.SIGTERM)
            rc = p.wait(10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == 42, open(os.path.join(env.base, "fwd.out")).read()


def test_run_reaps_background_children(env, rt):
    """The container's init exits while a child still runs: run returns the
    init's status promptly (the pid namespace takes the child down)."""
    r = env.run_sh("sleep 100 & exit 5", ok=False)
    assert r.rc == 5, r
    assert r.duration < 5, r
