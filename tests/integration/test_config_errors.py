"""Bad configs fail cleanly: exit 1, one error line, nothing left behind."""
import json
import os

import pytest

from helpers import IS_HUSK, check_failed_cleanly


def _set(cfg, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        cfg = cfg[k]
    if value is _DELETE:
        del cfg[keys[-1]]
    else:
        cfg[keys[-1]] = value


_DELETE = object()

BAD = {
    "args-type": ("process.args", "sh"),
    "args-item-type": ("process.args", ["sh", 3]),
    "args-empty": ("process.args", []),
    "root-path-missing": ("root.path", _DELETE),
    "root-missing": ("root", _DELETE),
    "rootfs-missing": ("root.path", "no-such-rootfs"),
    "cwd-relative": ("process.cwd", "relative/dir"),
    "mounts-type": ("mounts", {"destination": "/x"}),
    "uid-type": ("process.user.uid", "zero"),
    "namespaces-type": ("linux.namespaces", "pid"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config(env, rt, case):
    b = env.bundle().set_args("true")
    path, value = BAD[case]
    _set(b.config, path, value)
    cid, r = env.create(b, ok=False)
    check_failed_cleanly(env, rt, r)


def test_bind_mount_relative_source_missing(env, rt):
    b = env.bundle().set_args("true")
    b.config["mounts"].append({"destination": "/mnt", "type": "bind", "source": "no-such-dir",
                               "options": ["bind"]})
    cid, r = env.create(b, ok=False)
    check_failed_cleanly(env, rt, r)


def test_malformed_json(env, rt):
    b = env.bundle()
    with open(os.path.join(b.path, "config.json"), "w") as f:
        f.write('{\n  "ociVersion": "1.0.2",\n  "process": {,\n}\n')
    cid = env.new_id()
    r = rt("create", "--bundle", b.path, cid)
    check_failed_cleanly(env, rt, r)
    if IS_HUSK:
        assert "line" in r.err and "column" in r.err, r


def test_missing_config_json(env, rt):
    b = env.bundle()
    r = rt("create", "--bundle", b.path, env.new_id())
    check_failed_cleanly(env, rt, r)
    if IS_HUSK:
        assert "config.json" in r.err, r


def test_missing_bundle_dir(env, rt):
    r = rt("create", "--bundle", os.path.join(env.base, "nope"), env.new_id())
    check_failed_cleanly(env, rt, r)


def test_run_bad_config(env, rt):
    b = env.bundle()
    b.config["process"]["args"] = "sh"
    b.write()
    cid = env.new_id()
    r = rt("run", "--bundle", b.path, cid)
    assert r.rc == 1, r
    assert rt.ids() == []
    if IS_HUSK:
        assert r.err.startswith(f"husk: run {cid}: "), r
        assert len(r.err.splitlines()) == 1, r


def test_unknown_properties_ignored(env, rt):
    """config.md: a runtime MUST NOT fail on a property it does not know,
    at any level; the known ones around it still take effect."""
    b = env.bundle().set_args("/bin/sh", "-c", "echo hi; cat /proc/self/oom_score_adj")
    c = b.config
    c["someFutureField"] = {"a": 1}
    c["root"]["newRootOption"] = True
    c["process"]["oomScoreAdj"] = 123
    c["process"]["newProcessField"] = [1, 2]
    c["process"]["user"]["newUserField"] = "x"
    c["process"]["capabilities"]["newSet"] = ["CAP_CHOWN"]
    c["mounts"][0]["newMountField"] = 1
    c["linux"]["newLinuxField"] = {}
    c["linux"]["namespaces"][0]["newNsField"] = 0
    c["linux"]["resources"]["newController"] = {"x": 1}
    c["linux"]["resources"]["pids"] = {"limit": 50, "newPidsField": 1}
    c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "newSeccompField": 1,
                             "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO",
                                           "newRuleField": 2}]}
    c["hooks"] = {"newHookKind": [{"path": "/bin/false"}],
                  "poststart": [{"path": "/bin/true", "newHookField": 3}]}
    r = env.run(b)
    assert r.out.split() == ["hi", "123"], r
    if IS_HUSK:
        assert r.err == "", r


@pytest.mark.husk_only
def test_error_line_format_exec_not_found(env, rt):
    b = env.bundle().set_args("no-such-exe")
    cid, r = env.create(b, ok=False)
    check_failed_cleanly(env, rt, r)
    assert "no-such-exe" in r.err, r


@pytest.mark.husk_only
@pytest.mark.parametrize("cmd", ["state", "start", "kill", "delete"])
def test_error_line_format_missing_container(env, rt, cmd):
    r = rt(cmd, "nosuch")
    assert r.rc == 1, r
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"husk: {cmd} nosuch: "), r


def test_log_json_on_failure(env, rt):
    b = env.bundle().set_args("no-such-exe-for-log")
    b.write()
    log = os.path.join(env.base, "runtime.log")
    cid = env.new_id()
    r = rt("--log", log, "--log-format", "json", "create", "--bundle", b.path, cid)
    assert r.rc != 0, r
    with open(log) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    assert lines, f"empty log\n{r!r}"
    entries = []
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            raise AssertionError(f"log line not JSON: {line!r}")
        for k in ("level", "msg", "time"):
            assert k in e, e
        entries.append(e)
    errors = [e for e in entries if e["level"] == "error"]
    assert errors and any("no-such-exe-for-log" in e["msg"] for e in errors), entries
    assert rt.ids() == []


def test_log_text_on_failure(env, rt):
    b = env.bundle().set_args("no-such-exe-for-log")
    b.write()
    log = os.path.join(env.base, "runtime.log")
    r = rt("--log", log, "create", "--bundle", b.path, env.new_id())
    assert r.rc != 0, r
    with open(log) as f:
        assert "no-such-exe-for-log" in f.read()
