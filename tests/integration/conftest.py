"""Integration fixtures: real containers from a busybox-static bundle.

The runtime under test is $HUSK (default <repo>/build/husk).  The suite is
developed against runc too (HUSK=/usr/sbin/runc); tests marked `husk_only`
check husk-specific output or spec behaviour runc does not follow, and are
skipped when the binary is not husk.

Every test gets its own state root, bundle and absolute cgroupsPath
(/husk-test/<unique>); teardown force-deletes whatever is left, then asserts
that no mount, cgroup directory or zombie was leaked.  What tests share
besides fixtures (cgroup paths, mountinfo, user namespaces...) is in
helpers.py.
"""
import ctypes
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from helpers import BUSYBOX, HUSK, IS_HUSK, PURE_V2, Env, mounts_under, reap_zombies, \
    remove_cgroup_parents

PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "husk_only: checks husk-specific output or spec behaviour "
        "runc deviates from; skipped unless $HUSK is husk")


def pytest_collection_modifyitems(config, items):
    if not os.path.exists(HUSK):
        skip = pytest.mark.skip(reason=f"runtime binary {HUSK} not found (set $HUSK)")
        for item in items:
            item.add_marker(skip)
        return
    if IS_HUSK:
        return
    skip = pytest.mark.skip(reason=f"husk-only ({HUSK} is not husk)")
    for item in items:
        if "husk_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    return f"runtime under test: {HUSK} ({'husk' if IS_HUSK else 'not husk'})"


@pytest.fixture(scope="session", autouse=True)
def subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    yield
    reap_zombies()


@pytest.fixture(scope="session")
def session_dir():
    # Our own 0755 base (pytest's is 0700): containers with a user namespace
    # run as an unprivileged host uid that must still traverse to the rootfs.
    d = tempfile.mkdtemp(prefix="husk-it-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    remove_cgroup_parents()
    if not os.environ.get("HUSK_TEST_KEEP"):
        if not mounts_under(d):
            shutil.rmtree(d, ignore_errors=True)


PASSWD = """root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """root:x:0:
user:x:1000:
extra:x:1001:user
nogroup:x:65534:
"""


@pytest.fixture(scope="session")
def rootfs_template(session_dir):
    """A busybox rootfs: /bin/busybox plus one symlink per applet."""
    root = os.path.join(session_dir, "rootfs-template")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/user", "shared"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(root, "bin", a))
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        with open(os.path.join(root, "etc", name), "w") as f:
            f.write(text)
    os.chown(os.path.join(root, "home/user"), 1000, 1000)
    return root


@pytest.fixture
def env(request, session_dir, rootfs_template):
    name = request.node.name.replace("/", "_").replace("[", "_").replace("]", "")[:60]
    base = tempfile.mkdtemp(prefix=name + "-", dir=session_dir)
    os.chmod(base, 0o755)
    e = Env(base, rootfs_template)
    yield e
    problems = e.cleanup()
    if not problems and not os.environ.get("HUSK_TEST_KEEP"):
        shutil.rmtree(base, ignore_errors=True)
    assert not problems, "teardown:\n" + "\n".join(problems)


@pytest.fixture
def rt(env):
    return env.rt


@pytest.fixture
def rootfs(env):
    """A copy of the busybox rootfs, for husk box."""
    d = os.path.join(env.base, "rootfs")
    shutil.copytree(env.rootfs_template, d, symlinks=True)
    return d


WRAPPER = """#!/bin/sh
exec unshare -m --propagation private sh -c 'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$0" "$@"' {husk} "$@"
"""


@pytest.fixture
def v2(env):
    """env whose runtime sees a pure cgroup v2 host: on a hybrid one, each
    runtime command runs in a private mount namespace with the cgroup2
    hierarchy (/sys/fs/cgroup/unified) mounted on /sys/fs/cgroup."""
    if not PURE_V2:
        w = os.path.join(env.base, "husk-v2")
        with open(w, "w") as f:
            f.write(WRAPPER.format(husk=env.rt.binary))
        os.chmod(w, stat.S_IRWXU)
        env.rt.binary = w
    return env
