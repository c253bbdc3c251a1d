"""husk box run by an unprivileged user the test creates: root of a user
namespace mapping the user and its subordinate ids, an overlay mounted in
that namespace, state under $XDG_RUNTIME_DIR, limits skipped with a warning
or set in a delegated cgroup v2 subtree; and the overlay of any box mounted
only in the container's namespace."""
import json
import os
import shutil
import subprocess
import time
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

    def __call__(self, *args, timeout=30, cgroup=None):
        """husk ARGS as the user, with a clean environment; stdio to files
        (a detached container inherits them).  cgroup: a cgroup v2
        directory the command starts in."""
        self.n += 1
        base = os.path.join(self.env.base, f"{self.name}-cmd{self.n}")
        keep = [f"{k}={os.environ[k]}" for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS")
                if k in os.environ]
        argv = ["runuser", "-u", self.name, "--", "env", "-i", f"PATH={PATH}",
                f"XDG_RUNTIME_DIR={self.xdg}", f"HOME={self.home}"] + keep + \
            [self.husk] + [str(a) for a in args]
        if cgroup:
            argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup] + argv
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


# ---- a delegated cgroup v2 subtree ----

def cgroup2_root():
    for d in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.isfile(os.path.join(d, "cgroup.subtree_control")):
            return d
    return None


def read(path):
    with open(path) as f:
        return f.read()


class Delegated:
    """parent (root's) / deleg (the user's, chowned as systemd delegates a
    service's cgroup) / shell (the user's, where its commands start).  The
    parent's cgroup.subtree_control decides what deleg is offered."""

    FILES = ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")

    def __init__(self, root, user):
        self.parent = os.path.join(root, "husk-test-deleg-" + uuid.uuid4().hex[:8])
        self.deleg = os.path.join(self.parent, "user")
        self.shell = os.path.join(self.deleg, "shell")
        os.mkdir(self.parent)
        for d in (self.deleg, self.shell):
            os.mkdir(d)
            for n in [d] + [os.path.join(d, f) for f in self.FILES]:
                os.chown(n, user.uid, user.uid)

    def offer(self, *controllers):
        """Offer deleg those of controllers the parent has; the ones offered."""
        have = read(os.path.join(self.parent, "cgroup.controllers")).split()
        want = [c for c in controllers if c in have]
        if want:
            with open(os.path.join(self.parent, "cgroup.subtree_control"), "w") as f:
                f.write(" ".join("+" + c for c in want))
        return want

    def children(self):
        return sorted(n for n in os.listdir(self.deleg)
                      if os.path.isdir(os.path.join(self.deleg, n)))

    def remove(self):
        for d in [os.path.join(self.deleg, n) for n in self.children()] + \
                [self.deleg, self.parent]:
            for _ in range(50):  # emptied cgroups are busy for a moment
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


@pytest.fixture
def delegated(request, user):
    root = cgroup2_root()
    if not root:
        pytest.skip("no cgroup2 hierarchy is mounted")
    d = Delegated(root, user)

    def fin():
        user.delete_all()  # before the cgroups go, even when the test failed
        left = [n for n in d.children() if n != "shell"]
        d.remove()
        assert not os.path.exists(d.parent), f"could not remove {d.parent}"
        assert not left, f"cgroups left in the delegated subtree: {left}"
    request.addfinalizer(fin)
    return d


def test_rootless_delegated_limits_set(user, delegated):
    """memory and pids offered: the limits land in <deleg>/husk-<id>, without
    a warning, and delete removes it."""
    got = delegated.offer("memory", "pids")
    if got != ["memory", "pids"]:
        pytest.skip(f"the cgroup2 hierarchy offers {got} of memory and pids "
                    f"(v1 controllers on this host)")
    r = user("box", "--memory", "64m", "--pids-limit", "50", user.rootfs, "sh", "-c",
             "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max", cgroup=delegated.shell)
    assert (r.rc, r.out, r.err) == (0, "67108864\n50\n", ""), r
    assert delegated.children() == ["shell"]
    r = user("box", "-d", "--name", "dl1", "--memory", "64m", "--pids-limit", "50",
             user.rootfs, "sleep", "100", cgroup=delegated.shell)
    assert (r.rc, r.err) == (0, ""), r
    cg = os.path.join(delegated.deleg, "husk-dl1")
    assert read(os.path.join(cg, "memory.max")) == "67108864\n"
    assert read(os.path.join(cg, "pids.max")) == "50\n"
    assert read(os.path.join(cg, "cgroup.procs")).split(), "the init is in the cgroup"
    assert "memory" in read(os.path.join(delegated.deleg, "cgroup.subtree_control")).split()
    r = user("ps", "dl1", cgroup=delegated.shell)
    assert r.rc == 0 and "sleep" in r.out, r
    r = user("delete", "--force", "dl1", cgroup=delegated.shell)
    assert r.rc == 0, r
    assert delegated.children() == ["shell"]


def test_rootless_delegated_lacking_controller_warns(user, delegated):
    """A controller the subtree is not offered: its limit goes with one
    warning naming the subtree, the box runs in <deleg>/husk-<id> anyway."""
    delegated.offer("pids")
    if "memory" in read(os.path.join(delegated.deleg, "cgroup.controllers")).split():
        pytest.skip("memory is offered to the delegated cgroup")
    r = user("box", "-d", "--name", "dl2", "--memory", "64m", user.rootfs, "sleep", "100",
             cgroup=delegated.shell)
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "--memory" in lines[0] and \
        "not delegated to " + delegated.deleg in lines[0], r
    cg = os.path.join(delegated.deleg, "husk-dl2")
    assert read(os.path.join(cg, "cgroup.procs")).split(), "the init is in the cgroup"
    assert not os.path.exists(os.path.join(cg, "memory.max"))
    r = user("exec", "dl2", "echo", "ran", cgroup=delegated.shell)
    assert (r.rc, r.out) == (0, "ran\n"), r
    r = user("delete", "--force", "dl2", cgroup=delegated.shell)
    assert r.rc == 0, r
    assert delegated.children() == ["shell"]


def test_rootless_caller_in_delegated_cgroup_itself(user, delegated):
    """The caller in the delegated cgroup itself may enable no controllers
    below it (no internal processes): no cgroup there, the limit is
    dropped as without delegation."""
    delegated.offer("memory", "pids")
    r = user("box", "--memory", "64m", user.rootfs, "echo", "ran", cgroup=delegated.deleg)
    assert (r.rc, r.out) == (0, "ran\n"), r
    lines = r.err.splitlines()
    assert len(lines) == 1 and "--memory" in lines[0] and "no cgroup may be made" in lines[0], r
    assert delegated.children() == ["shell"]


def test_rootless_run_undelegated_limit_names_the_subtree(user, delegated):
    """husk run (no box to drop the limit): a controller the delegated
    subtree is not offered fails with one line saying so, not that the
    host lacks it, and leaves no container and no cgroup."""
    delegated.offer("pids")
    if "memory" in read(os.path.join(delegated.deleg, "cgroup.controllers")).split():
        pytest.skip("memory is offered to the delegated cgroup")
    bundle = os.path.join(user.home, "bundle")
    os.mkdir(bundle)
    os.chown(bundle, user.uid, user.uid)
    r = user("spec", "--rootless", "--bundle", bundle)
    assert r.rc == 0, r
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": user.rootfs}
    cfg["process"]["args"] = ["true"]
    cfg["process"]["terminal"] = False
    cfg["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = user("run", "--bundle", bundle, "ul1", cgroup=delegated.shell)
    lines = r.err.splitlines()
    assert r.rc != 0 and len(lines) == 1, r
    assert "linux.resources.memory" in lines[0] and \
        "memory controller is not delegated to this user (" + delegated.deleg in lines[0], r
    assert user.ids() == [] and delegated.children() == ["shell"]
