"""A signal to `husk create` (or a foreground `run`) while it creates, e.g.
a ^C while a hook hangs: the init, its cgroup and the state go, and husk
dies of the signal."""
import os
import signal
import subprocess

import pytest

from helpers import IS_HUSK, cgroup_dirs, pid_alive, wait_for

pytestmark = pytest.mark.skipif(not IS_HUSK, reason="husk's own cleanup")


def _hang_hook(marker):
    # writes its pid, then hangs where the user would press ^C
    return {"path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {marker}; exec sleep 1000"]}


def _default_signals():
    # The runner may have been started with these ignored (a background job
    # of a non-interactive shell ignores SIGINT): husk keeps ignored signals
    # ignored on purpose, so give it the dispositions a terminal user has.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def _interrupt(env, rt, kind, sig, command="create"):
    b = env.bundle()
    b.sh("sleep 1000")
    marker = b.shared_file("hook.pid")
    b.config["hooks"] = {kind: [_hang_hook(marker)]}
    b.write()
    cid = env.new_id()
    pidfile = os.path.join(rt.workdir, "init.pid")
    with open(os.path.join(rt.workdir, "create.err"), "w+") as err:
        p = subprocess.Popen(rt.cmd(command, "--bundle", b.path, "--pid-file", pidfile, cid),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                             cwd=rt.workdir, preexec_fn=_default_signals)
        try:
            assert wait_for(lambda: os.path.exists(b.shared_file("hook.pid")) and
                            os.path.getsize(b.shared_file("hook.pid")) > 0, timeout=10)
            hook = int(open(b.shared_file("hook.pid")).read())
            assert os.path.isdir(os.path.join(rt.root, cid))
            assert cgroup_dirs(b)
            p.send_signal(sig)
            rc = p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == -sig, (rc, open(os.path.join(rt.workdir, "create.err")).read())
    # nothing left: state, cgroup, pid file, the hook (host hooks: ours to kill)
    assert rt.ids() == []
    assert wait_for(lambda: not cgroup_dirs(b), timeout=5), cgroup_dirs(b)
    assert not os.path.exists(pidfile)
    # (a createContainer hook wrote its pid in the container's pid namespace;
    # it was in the container's cgroup, which is gone)
    if kind != "createContainer":
        assert wait_for(lambda: not pid_alive(hook), timeout=5)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_during_create_runtime_hook(env, rt, sig):
    _interrupt(env, rt, "createRuntime", sig)


def test_signal_during_prestart_hook_of_run(env, rt):
    # a foreground run blocks these signals to forward them later
    _interrupt(env, rt, "prestart", signal.SIGINT, command="run")


def test_signal_during_create_container_hook(env, rt):
    # the hook runs in the container's init: killing the init ends it
    _interrupt(env, rt, "createContainer", signal.SIGTERM)


def test_ignored_sighup_stays_ignored(env, rt):
    """nohup husk create: SIGHUP does not interrupt it."""
    b = env.bundle()
    b.sh("sleep 1000")
    b.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"echo $$ > {b.shared_file('hook.pid')}; sleep 1"]}]}
    b.write()
    cid = env.new_id()
    p = subprocess.Popen(rt.cmd("create", "--bundle", b.path, cid), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=rt.workdir,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    assert wait_for(lambda: os.path.exists(b.shared_file("hook.pid")), timeout=10)
    p.send_signal(signal.SIGHUP)
    assert p.wait(timeout=10) == 0
    assert rt.state(cid)["status"] == "created"
