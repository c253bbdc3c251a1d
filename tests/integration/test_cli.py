"""spec, features, --version, usage errors and concurrent creates."""
import json
import os
import threading

import pytest

from helpers import wait_for


def test_spec_writes_config(env, rt):
    d = os.path.join(env.base, "specdir")
    os.makedirs(d)
    rt.ok("spec", cwd=d, root=False)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["ociVersion"], cfg
    assert cfg["root"]["path"] == "rootfs", cfg["root"]
    assert cfg["process"]["args"], cfg["process"]
    assert cfg["process"]["cwd"] == "/"
    types = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert {"pid", "mount", "network", "ipc", "uts"} <= set(types), types
    assert "user" not in types
    dests = [m["destination"] for m in cfg["mounts"]]
    assert {"/proc", "/dev", "/dev/pts", "/sys"} <= set(dests), dests


def test_spec_refuses_existing(env, rt):
    d = os.path.join(env.base, "specdir")
    os.makedirs(d)
    p = os.path.join(d, "config.json")
    with open(p, "w") as f:
        f.write("keep me")
    rt.fail("spec", cwd=d, root=False)
    with open(p) as f:
        assert f.read() == "keep me"


def test_spec_bundle_option(env, rt):
    d = os.path.join(env.base, "specbundle")
    os.makedirs(d)
    rt.ok("spec", "--bundle", d, root=False)
    with open(os.path.join(d, "config.json")) as f:
        json.load(f)


def test_spec_rootless(env, rt):
    d = os.path.join(env.base, "rootless")
    os.makedirs(d)
    rt.ok("spec", "--rootless", cwd=d, root=False)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    types = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert "user" in types, types
    assert "network" not in types, types
    assert cfg["linux"]["uidMappings"][0]["containerID"] == 0
    assert cfg["linux"]["uidMappings"][0]["hostID"] == os.getuid()
    assert cfg["linux"]["gidMappings"][0]["hostID"] == os.getgid()


def test_spec_output_runs(env, rt):
    """The default spec, with our rootfs and args, runs."""
    b = env.bundle()
    rt.ok("spec", cwd=b.path, root=False)
    with open(os.path.join(b.path, "config.json")) as f:
        cfg = json.load(f)
    os.unlink(os.path.join(b.path, "config.json"))
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["echo", "spec-ok"]
    cfg.setdefault("linux", {})["cgroupsPath"] = b.cgroups_path
    b.config = cfg
    r = env.run(b)
    assert r.out == "spec-ok\n", r


def test_features(rt):
    r = rt.ok("features", root=False)
    f = json.loads(r.out)
    assert f["ociVersionMin"].startswith("1."), f
    assert f["ociVersionMax"].startswith("1."), f
    assert set(f["hooks"]) >= {"prestart", "createRuntime", "createContainer", "startContainer",
                               "poststart", "poststop"}, f["hooks"]
    ns = f["linux"]["namespaces"]
    assert {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"} <= set(ns), ns
    assert "bind" in f["mountOptions"] and "ro" in f["mountOptions"], f


@pytest.mark.husk_only
def test_features_husk_content(rt):
    f = json.loads(rt.ok("features", root=False).out)
    assert f["ociVersionMin"] == "1.0.0", f
    assert f["ociVersionMax"] == "1.3.0", f
    lx = f["linux"]
    # runtime-spec 1.3's features-linux.md additions
    assert lx["netDevices"] == {"enabled": True}, lx
    assert lx["intelRdt"] == {"enabled": True, "schemata": True, "monitoring": True}, lx
    assert "MPOL_WEIGHTED_INTERLEAVE" in lx["memoryPolicy"]["modes"], lx
    assert sorted(lx["memoryPolicy"]["flags"]) == [
        "MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"], lx
    assert sorted(f["linux"]["namespaces"]) == sorted(
        ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]), f
    caps = f["linux"]["capabilities"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_CHOWN" in caps, caps
    assert "annotations" in f


@pytest.mark.husk_only
def test_version(rt):
    r = rt.ok("--version", root=False)
    lines = r.out.splitlines()
    assert lines[0].startswith("husk version "), r
    assert any(l.startswith("spec: ") for l in lines), r
    assert any(l.startswith("commit: ") for l in lines), r


def test_unknown_command_fails(rt):
    rt.fail("frobnicate")


def test_missing_id_fails(env, rt):
    for cmd in ("create", "start", "state", "delete", "kill", "run"):
        rt.fail(cmd)
    assert rt.ids() == []


def test_help(rt):
    r = rt("--help", root=False)
    assert r.rc == 0, r
    assert "create" in r.out and "delete" in r.out, r


def _parallel(fns):
    results = [None] * len(fns)

    def go(i):
        results[i] = fns[i]()
    ts = [threading.Thread(target=go, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return results


def test_parallel_create_distinct(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.write()
    ids = [env.new_id(f"p{i}") for i in range(5)]
    rs = _parallel([lambda cid=cid: rt("create", "--bundle", b.path, cid) for cid in ids])
    for r in rs:
        assert r.rc == 0, r
    assert rt.ids() == sorted(ids)
    pids = set()
    for cid in ids:
        st = rt.state(cid)
        assert st["status"] == "created", st
        pids.add(st["pid"])
    assert len(pids) == 5
    rs = _parallel([lambda cid=cid: rt("start", cid) for cid in ids])
    assert all(r.rc == 0 for r in rs), rs


def test_parallel_create_same_id(env, rt):
    bundles = [env.bundle().sh(f"touch /shared/b{i}; exec sleep 100") for i in range(5)]
    for bb in bundles:
        bb.write()
    cid = env.new_id()
    rs = _parallel([lambda bb=bb: rt("create", "--bundle", bb.path, cid) for bb in bundles])
    winners = [i for i, r in enumerate(rs) if r.rc == 0]
    assert len(winners) == 1, "\n".join(repr(r) for r in rs)
    st = rt.state(cid)
    assert st["status"] == "created" and st["bundle"] == bundles[winners[0]].path, st
    rt.ok("start", cid)
    w = bundles[winners[0]]
    assert wait_for(lambda: os.path.exists(w.shared_file(f"b{winners[0]}")))
    rt.ok("delete", "--force", cid)
    assert rt.ids() == []


def test_parallel_run_many(env, rt):
    b = env.bundle().sh("echo $$")
    b.write()
    ids = [env.new_id(f"r{i}") for i in range(8)]
    rs = _parallel([lambda cid=cid: rt("run", "--bundle", b.path, cid) for cid in ids])
    for r in rs:
        assert r.rc == 0 and r.out == "1\n", r
    assert rt.ids() == []
