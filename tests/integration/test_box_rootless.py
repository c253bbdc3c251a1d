"""husk box run by an unprivileged user the test creates: root of a user
namespace mapping the user and its subordinate ids, an overlay mounted in
that namespace, state under $XDG_RUNTIME_DIR, limits skipped with a warning;
and the overlay of any box mounted only in the container's namespace."""
import os
import shutil
import subprocess
import uuid

import pytest

from helpers import HUSK, mounts_under, tree_listing

pytestmark = pytest.mark.husk_only

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def subid(user, file):
    with open(file) as f:
        for line in f:
            name, start, count = line.strip().split(":")
            if name == user:
                return int(start), int(count)
    return None


class User:
    """An unprivileged user with its own XDG_RUNTIME_DIR, husk binary copy
    and rootfs copy under the test's base (0755, so it can reach them)."""

    def __init__(self, env, name, subids):
        self.env, self.name = env, name
        cmd = ["useradd", "-m", name]
        if not subids:
            cmd[1:1] = ["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]
        subprocess.run(cmd, check=True)
        out = subprocess.run(["id", "-u", name], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
        self.uid = int(out)
        self.home = os.path.join(env.base, name)
        os.mkdir(self.home, 0o755)
        self.xdg = os.path.join(self.home, "xdg")
        os.mkdir(self.xdg, 0o700)
        self.husk = os.path.join(self.home, "husk")
        shutil.copy2(HUSK, self.husk)
        os.chmod(self.husk, 0o755)
        self.rootfs = os.path.join(self.home, "rootfs")
        shutil.copytree(env.rootfs_template, self.rootfs, symlinks=True)
        for dp, dns, fns in os.walk(self.rootfs):
            for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
                os.lchown(n, self.uid, self.uid)
        os.chown(self.xdg, self.uid, self.uid)
        self.n = 0

    def __call__(self, *args, timeout=30):
        """husk ARGS as the user, with a clean environment; stdio to files
        (a detached container inherits them)."""
        self.n += 1
        base = os.path.join(self.env.base, f"{self.name}-cmd{self.n}")
        keep = [f"{k}={os.environ[k]}" for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                if k in os.environ]
        argv = ["runuser", "-u", self.name, "--", "env", "-i", f"PATH={PATH}",
                f"XDG_RUNTIME_DIR={self.xdg}", f"HOME={self.home}"] + keep + \
            [self.husk] + [str(a) for a in args]
        with open(base + ".out", "w+") as out, open(base + ".err", "w+") as err:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                cwd=self.home, timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            return Result(argv, rc, out.read(), err.read())

    def ids(self):
        d = os.path.join(self.xdg, "husk")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def delete_all(self):
        """Force-delete what is left; the ids that would not go."""
        for cid in self.ids():
            self("delete", "--force", cid)
        return self.ids()


class Result:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __repr__(self):
        return (f"$ {' '.join(self.args)}\n-> exit {self.rc}\n--- stdout ---\n{self.out}"
                f"--- stderr ---\n{self.err}")


def probe_overlay_in_userns(u):
    """Skip unless the kernel lets the user mount an overlay in a user
    namespace of its own (Linux >= 5.11)."""
    d = os.path.join(u.home, "probe")
    os.mkdir(d)
    for x in ("l", "u", "w", "m"):
        os.mkdir(os.path.join(d, x))
    for dp, dns, _ in os.walk(d):
        for n in [dp] + [os.path.join(dp, x) for x in dns]:
            os.chown(n, u.uid, u.uid)
    r = subprocess.run(["runuser", "-u", u.name, "--", "unshare", "-Urm", "mount", "-t", "overlay",
                        "overlay", "-o", "lowerdir=l,upperdir=u,workdir=w,userxattr", "m"],
                       cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    subprocess.run(["rm", "-rf", d])
    if r.returncode != 0:
        pytest.skip(f"the kernel refuses overlayfs in a user namespace: {r.stdout.strip()}")


def make_user(request, env, subids):
    if os.geteuid() != 0:
        pytest.skip("creating a test user needs root")
    for tool in ("useradd", "userdel", "runuser", "unshare", "newuidmap", "newgidmap"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed (scripts/deps.sh test installs it)")
    name = "huskt" + uuid.uuid4().hex[:8]
    made = {}

    def fin():
        # Even when the test (or User's setup) failed half-way.
        left = made["u"].delete_all() if "u" in made else []
        subprocess.run(["userdel", "-r", name], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        assert subid(name, "/etc/subuid") is None, "userdel left the subuid range"
        assert not left, f"containers left: {left}"
    request.addfinalizer(fin)
    made["u"] = u = User(env, name, subids)
    probe_overlay_in_userns(u)
    return u


@pytest.fixture
def user(request, env):
    return make_user(request, env, True)


@pytest.fixture
def lone_user(request, env):
    """A user without subordinate ids."""
    return make_user(request, env, False)



def owned_by_subids(top, start, count):
    found = []
    for dp, dns, fns in os.walk(top):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            if start <= os.lstat(n).st_uid < start + count:
                found.append(n)
    return found


WRITE_AS_OTHERS = ("echo x > /new; chown 1000:1000 /new; mkdir -p /d/e; touch /d/e/f; "
                   "chown -R 1000:1000 /d; chmod -R 700 /d; rm /bin/ls; stat -c %u:%g /new")


def test_rootless_box_maps_user_and_subids(user):
    start, count = subid(user.name, "/etc/subuid")
    gstart, gcount = subid(user.name, "/etc/subgid")
    before = tree_listing(user.rootfs)
    r = user("box", user.rootfs, "sh", "-c",
             "id -u; cat /proc/self/uid_map /proc/self/gid_map; " + WRITE_AS_OTHERS)
    assert r.rc == 0, r
    lines = [x.split() for x in r.out.splitlines()]
    assert lines[0] == ["0"], r
    assert lines[1:5] == [["0", str(user.uid), "1"], ["1", str(start), str(count)],
                          ["0", str(user.uid), "1"], ["1", str(gstart), str(gcount)]], r
    assert lines[5] == ["1000:1000"], r
    assert tree_listing(user.rootfs) == before
    assert user.ids() == [] and not mounts_under(user.env.base)
    assert owned_by_subids(user.home, start, count) == []
    assert user.env.rt.ids() == []  # nothing under root's state


def test_rootless_detach_exec_delete(user):
    start, count = subid(user.name, "/etc/subuid")
    r = user("box", "-d", "--name", "rb1", user.rootfs, "sleep", "100")
    assert (r.rc, r.out) == (0, "rb1\n"), r
    state = os.path.join(user.xdg, "husk", "rb1")
    assert os.path.isdir(os.path.join(state, "upper")), os.listdir(user.xdg)
    assert not mounts_under(user.env.base), "the overlay is the container's, not the host's"
    r = user("exec", "rb1", "sh", "-c", WRITE_AS_OTHERS)
    assert (r.rc, r.out) == (0, "1000:1000\n"), r
    assert owned_by_subids(state, start, count), "the upper layer holds subordinate-id files"
    r = user("list")
    assert r.rc == 0 and "rb1" in r.out and "running" in r.out, r
    r = user("delete", "--force", "rb1")
    assert r.rc == 0, r
    assert user.ids() == [] and not os.path.exists(state)
    assert owned_by_subids(user.home, start, count) == []
    assert not os.path.exists(os.path.join(user.rootfs, "new"))


def test_rootless_without_subids_maps_only_the_user(lone_user):
    u = lone_user
    assert subid(u.name, "/etc/subuid") is None
    r = u("box", u.rootfs, "sh", "-c", "cat /proc/self/uid_map; echo x > /new; chown 1000 /new")
    assert r.rc != 0, r  # uid 1000 does not exist in the namespace
    assert [x.split() for x in r.out.splitlines()] == [["0", str(u.uid), "1"]], r
    assert u.ids() == []


def test_rootless_memory_warns_and_runs(user):
    r = user("box", "--memory", "64m", user.rootfs, "echo", "ran")
    if "not supported yet" in r.err:
        pytest.skip("--memory is not built on this branch")
    assert (r.rc, r.out) == (0, "ran\n"), r
    lines = r.err.splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "--memory" in lines[0], r
    assert user.ids() == []


def test_rootless_bad_rootfs_leaves_nothing(user):
    r = user("box", os.path.join(user.home, "nope"), "true")
    assert r.rc == 125 and r.err.startswith("husk: box: "), r
    assert user.ids() == []


def test_root_box_overlay_not_on_host(env):
    """As root too the overlay lives in the container's mount namespace:
    nothing is mounted on the host while it runs."""
    rootfs = os.path.join(env.base, "rootfs")
    shutil.copytree(env.rootfs_template, rootfs, symlinks=True)
    r = env.rt("box", "-d", "--name", "bx2", rootfs, "sleep", "100")
    assert r.rc == 0, r
    assert not mounts_under(env.base)
    r = env.rt("exec", "bx2", "sh", "-c", "echo hi > /f; cat /f; grep -c ' / overlay ' /proc/mounts")
    assert (r.rc, r.out) == (0, "hi\n1\n"), r
    env.rt.ok("delete", "--force", "bx2")
    assert env.rt.ids() == [] and not os.path.exists(os.path.join(rootfs, "f"))
