"""OCI hooks: order, stdin state, args/env, failures, timeouts."""
import json
import os
import time

import pytest

from helpers import pid_alive, wait_for

HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def logging_hook(log_path, name, extra_env=None):
    """A hook that appends '<name> <state-json-on-one-line>' to log_path."""
    script = 'printf "%s %s\\n" "$0" "$(cat | tr -d "\\n")" >> "$1"'
    h = {"path": "/bin/sh", "args": ["sh", "-c", script, name, log_path]}
    if extra_env:
        h["env"] = extra_env
    return h


def read_log(path):
    entries = []
    if not os.path.exists(path):
        return entries
    with open(path) as f:
        for line in f:
            name, _, rest = line.rstrip("\n").partition(" ")
            entries.append((name, rest))
    return entries


def add_all_hooks(b):
    host_log = b.shared_file("hooks.log")
    hooks = {}
    for h in HOOKS:
        # startContainer runs in the container: its path and log path are
        # resolved there (/shared is the bind mount of b.shared).
        log = "/shared/hooks.log" if h == "startContainer" else host_log
        hooks[h] = [logging_hook(log, h)]
    b.config["hooks"] = hooks
    return host_log


def test_hook_order_and_state(env, rt):
    b = env.bundle()
    log = add_all_hooks(b)
    b.sh("echo proc >> /shared/hooks.log; exec sleep 100")
    cid, _ = env.create(b)
    names = [n for n, _ in read_log(log)]
    # runc 1.1 also runs poststart here (during create), hence only a prefix.
    assert names[:3] == ["prestart", "createRuntime", "createContainer"], names
    assert "startContainer" not in names and "proc" not in names, names
    pid = rt.state(cid)["pid"]

    rt.ok("start", cid)
    assert wait_for(lambda: "proc" in [n for n, _ in read_log(log)]), read_log(log)
    names = [n for n, _ in read_log(log)]
    assert names.index("startContainer") < names.index("proc"), names
    assert sorted(names) == sorted(HOOKS[:-1] + ["proc"]), names

    rt.ok("kill", cid, "KILL")
    wait_for(lambda: rt.state(cid)["status"] == "stopped")
    assert "poststop" not in [n for n, _ in read_log(log)]
    rt.ok("delete", cid)
    entries = read_log(log)
    assert entries[-1][0] == "poststop", entries
    assert [n for n, _ in entries].count("poststop") == 1, entries

    for name, raw in entries:
        if name == "proc":
            continue
        try:
            st = json.loads(raw)
        except ValueError:
            raise AssertionError(f"hook {name} got non-JSON stdin: {raw!r}")
        assert st["id"] == cid, (name, st)
        assert st["bundle"] == b.path, (name, st)
        assert st.get("ociVersion"), (name, st)
        assert "status" in st, (name, st)
        if name in ("createContainer", "startContainer"):
            # runc reports the pid as seen inside the container's pid ns (1);
            # the spec wants the host's view (checked in test_hook_order_exact)
            assert st["pid"] in (pid, 1), (name, st, pid)
        elif name != "poststop":
            assert st["pid"] == pid, (name, st, pid)


# runc 1.1 runs poststart hooks at the end of `create`; the spec says after
# the user process is started, before `start` returns.
@pytest.mark.husk_only
def test_hook_order_exact(env, rt):
    b = env.bundle()
    log = add_all_hooks(b)
    b.sh("echo proc >> /shared/hooks.log; exec sleep 100")
    cid, _ = env.create(b)
    names = [n for n, _ in read_log(log)]
    assert names == ["prestart", "createRuntime", "createContainer"], names
    rt.ok("start", cid)
    names = [n for n, _ in read_log(log) if n != "proc"]
    assert names == HOOKS[:-1], names
    states = {n: json.loads(raw) for n, raw in read_log(log) if n != "proc"}
    pid = rt.state(cid)["pid"]
    for n, st in states.items():
        assert st["pid"] == pid, f"{n}: pid must be the host's view: {st} vs {pid}"
    statuses = {n: st["status"] for n, st in states.items()}
    assert statuses["createRuntime"] == "creating", statuses
    assert statuses["createContainer"] == "creating", statuses
    assert statuses["startContainer"] == "created", statuses
    assert statuses["poststart"] == "running", statuses
    rt.ok("delete", "--force", cid)
    entries = read_log(log)
    assert entries[-1][0] == "poststop"
    assert json.loads(entries[-1][1])["status"] == "stopped", entries[-1]


def test_hook_args_and_env(env, rt):
    b = env.bundle().set_args("true")
    out = b.shared_file("out")
    b.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", 'echo "$0|$1" > "$2"; env >> "$2"', "arg0", "arg1", out],
        "env": ["HOOKVAR=hv", "OTHER=o t"],
    }]}
    env.run(b)
    lines = open(out).read().splitlines()
    assert lines[0] == "arg0|arg1", lines
    # exactly the hook's env (the shell adds PWD, and nothing may leak in)
    assert sorted(l for l in lines[1:] if not l.startswith("PWD=")) == ["HOOKVAR=hv", "OTHER=o t"], lines


def env_hooks(b, with_env=None):
    """Every kind of hook writes its environment to /shared/<kind>.env."""
    hooks = {}
    for h in HOOKS:
        # startContainer and createContainer run in the container's mount
        # namespace; the other kinds on the host (where /shared is b.shared).
        out = ("/shared/" if h == "startContainer" else b.shared + "/") + h + ".env"
        hook = {"path": "/bin/sh", "args": ["sh", "-c", 'env > "$0"', out]}
        if with_env is not None:
            hook["env"] = with_env
        hooks[h] = [hook]
    b.config["hooks"] = hooks


def run_with_runtime_env(env, rt, b, **extra):
    b.write()
    e = dict(os.environ, **extra)
    return rt.ok("run", "--bundle", b.path, env.new_id(), env=e)


def hook_env(b, kind):
    # sh itself adds PWD and SHLVL
    lines = open(b.shared_file(kind + ".env")).read().splitlines()
    return sorted(l for l in lines if not l.startswith(("PWD=", "SHLVL=")))


def test_hook_without_env_gets_the_runtime_environment(env, rt):
    # As runc and crun: the hooks the runtime runs get its environment;
    # those run in the container get the container process's.
    b = env.bundle().set_args("true")
    b.config["process"]["env"] = ["PATH=/bin", "PROCVAR=p"]
    env_hooks(b)
    run_with_runtime_env(env, rt, b, HUSK_TEST_RUNTIME_VAR="from-runtime")
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        assert "HUSK_TEST_RUNTIME_VAR=from-runtime" in hook_env(b, kind), (kind, hook_env(b, kind))
    assert hook_env(b, "createContainer") == ["PATH=/bin", "PROCVAR=p"]
    # HOME as the process gets it (from the container's /etc/passwd)
    assert hook_env(b, "startContainer") == ["HOME=/root", "PATH=/bin", "PROCVAR=p"]


def test_hook_with_env_gets_exactly_it(env, rt):
    b = env.bundle().set_args("true")
    env_hooks(b, with_env=["HOOKVAR=hv", "PATH=/bin"])
    run_with_runtime_env(env, rt, b, HUSK_TEST_RUNTIME_VAR="from-runtime")
    for kind in HOOKS:
        assert hook_env(b, kind) == ["HOOKVAR=hv", "PATH=/bin"], (kind, hook_env(b, kind))


def test_hook_path_not_in_path(env, rt):
    """path is an absolute path, not searched; args[0] is just argv[0]."""
    b = env.bundle().set_args("true")
    out = b.shared_file("out")
    b.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh", "args": ["whatever", "-c", 'echo "$0" > "$1"', "zero", out]}]}
    env.run(b)
    assert open(out).read() == "zero\n"


@pytest.mark.parametrize("hook", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_fails_create(env, rt, hook):
    b = env.bundle().sh("touch /shared/ran; sleep 100")
    b.config["hooks"] = {hook: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}]}
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == [], f"container left after failing {hook} hook: {rt.ids()}\n{r!r}"
    rt.fail("state", cid)
    assert not os.path.exists(b.shared_file("ran"))


def test_failing_hook_no_process_left(env, rt):
    b = env.bundle().sh("sleep 100")
    b.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", 'cat > "$0"; exit 1', b.shared_file("st")]}]}
    cid, r = env.create(b, ok=False)
    assert r.rc != 0
    st = json.load(open(b.shared_file("st")))
    assert st["pid"] > 0
    assert wait_for(lambda: not pid_alive(st["pid"])), "init survived failing hook"


def test_failing_startcontainer_hook_stops_process(env, rt):
    b = env.bundle().sh("touch /shared/ran; sleep 100")
    b.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]}
    cid, _ = env.create(b)
    rt("start", cid)
    time.sleep(0.2)
    assert not os.path.exists(b.shared_file("ran")), "process ran although startContainer failed"


# runc runs startContainer hooks in its init after `start` returned 0; the
# spec says a failing startContainer hook MUST generate an error.
@pytest.mark.husk_only
def test_failing_startcontainer_hook_fails_start(env, rt):
    b = env.bundle().sh("touch /shared/ran; sleep 100")
    b.config["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]}
    cid, _ = env.create(b)
    rt.fail("start", cid)
    time.sleep(0.1)
    assert not os.path.exists(b.shared_file("ran")), "process ran although startContainer failed"


def test_hook_missing_path_fails(env, rt):
    b = env.bundle().set_args("true")
    b.config["hooks"] = {"createRuntime": [{"path": "/nonexistent/hook"}]}
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


def test_hook_timeout(env, rt):
    b = env.bundle().set_args("true")
    b.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 3"], "timeout": 1}]}
    cid, r = env.create(b, ok=False)
    assert r.rc != 0, r
    assert rt.ids() == []


# runc reports the timeout but only after the hook's child (sleep) ends.
@pytest.mark.husk_only
def test_hook_timeout_is_prompt(env, rt):
    b = env.bundle().set_args("true")
    b.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 10; true"], "timeout": 1}]}
    t0 = time.monotonic()
    cid, r = env.create(b, ok=False)
    elapsed = time.monotonic() - t0
    assert r.rc != 0, r
    assert elapsed < 4, f"timeout not enforced: {elapsed:.1f}s\n{r!r}"
    assert rt.ids() == []


def test_hook_within_timeout_ok(env, rt):
    b = env.bundle().set_args("true")
    b.config["hooks"] = {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", "sleep 0.1"], "timeout": 5}]}
    env.run(b)


def test_poststop_failure_does_not_fail_delete(env, rt):
    b = env.bundle().set_args("true")
    b.config["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    wait_for(lambda: rt.state(cid)["status"] == "stopped")
    rt("delete", cid)
    assert rt.ids() == []


# runc stops at the first failing poststop hook; the spec says a failing
# poststop hook is logged and the remaining hooks still run.
@pytest.mark.husk_only
def test_poststop_failure_runs_remaining(env, rt):
    b = env.bundle().set_args("true")
    b.config["hooks"] = {"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]},
                                      logging_hook(b.shared_file("log"), "second")]}
    cid, _ = env.create(b)
    rt.ok("start", cid)
    wait_for(lambda: rt.state(cid)["status"] == "stopped")
    rt.ok("delete", cid)
    assert rt.ids() == []
    assert [n for n, _ in read_log(b.shared_file("log"))] == ["second"]


def test_poststop_on_run(env, rt):
    b = env.bundle().set_args("true")
    log = b.shared_file("log")
    b.config["hooks"] = {"poststop": [logging_hook(log, "poststop")]}
    env.run(b)
    assert [n for n, _ in read_log(log)] == ["poststop"]


def test_multiple_hooks_in_order(env, rt):
    b = env.bundle().set_args("true")
    log = b.shared_file("log")
    b.config["hooks"] = {"createRuntime": [logging_hook(log, f"h{i}") for i in range(4)]}
    env.run(b)
    assert [n for n, _ in read_log(log)] == ["h0", "h1", "h2", "h3"]
