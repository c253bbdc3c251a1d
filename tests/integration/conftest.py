"""Integration fixtures: real containers from a busybox-static bundle.

The runtime under test is $HUSK (default <repo>/build/husk).  The suite is
developed against runc too (HUSK=/usr/sbin/runc); tests marked `husk_only`
check husk-specific output or spec behaviour runc does not follow, and are
skipped when the binary is not husk.

Every test gets its own state root, bundle and absolute cgroupsPath
(/husk-test/<unique>); teardown force-deletes whatever is left, then asserts
that no mount, cgroup directory or zombie was leaked.
"""
import copy
import ctypes
import glob
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HUSK = os.path.abspath(os.environ.get("HUSK", os.path.join(REPO, "build", "husk")))
BUSYBOX = os.environ.get("HUSK_TEST_BUSYBOX", "/bin/busybox")
CGROUP_PARENT = "husk-test"
# A pure cgroup v2 host (tests/vm/cgroup-v2.sh boots one): the test cgroups
# are /sys/fs/cgroup/husk-test/<unique>, not /sys/fs/cgroup/<ctrl>/husk-test/...
PURE_V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
PR_SET_CHILD_SUBREAPER = 36
# Capability names by number (bit n of a /proc/PID/status mask).
CAP_NAMES = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
             "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
             "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
             "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
             "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
             "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
             "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
             "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
             "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]

with open(os.path.join(HERE, "runc_spec_default.json")) as f:
    RUNC_SPEC_DEFAULT = json.load(f)


def _detect_husk():
    try:
        r = subprocess.run([HUSK, "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
    except OSError:
        return False
    return r.stdout.decode(errors="replace").lower().startswith("husk")


IS_HUSK = _detect_husk()


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


def reap_zombies():
    """Reap every exited child (we are a subreaper, so orphaned container
    inits become our children)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


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
        if not _mounts_under(d):
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


def _mounts_under(path):
    path = os.path.realpath(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if (mp + "/").startswith(path):
                found.append(mp)
    return found


def _cgroup_dirs(unique):
    if PURE_V2:
        return glob.glob(f"/sys/fs/cgroup/{CGROUP_PARENT}/{unique}")
    return glob.glob(f"/sys/fs/cgroup/*/{CGROUP_PARENT}/{unique}")


def cgroup_file(controller, b, name=""):
    """Path of a file in bundle b's cgroup: the controller's v1 hierarchy,
    or the one v2 directory on a pure v2 host."""
    if PURE_V2:
        return f"/sys/fs/cgroup/{CGROUP_PARENT}/{b.unique}/{name}"
    return f"/sys/fs/cgroup/{controller}/{CGROUP_PARENT}/{b.unique}/{name}"


class Result:
    def __init__(self, args, rc, out, err, duration):
        self.args, self.rc, self.out, self.err, self.duration = args, rc, out, err, duration

    def __repr__(self):
        return (f"$ {' '.join(self.args)}\n-> exit {self.rc} in {self.duration:.3f}s\n"
                f"--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}")


class Runtime:
    """Runs the runtime binary with a private --root.

    Stdio goes to files, not pipes: a detached container inherits the
    runtime's stdout/stderr, and a pipe would keep communicate() waiting
    until the container exits.
    """

    def __init__(self, root, workdir):
        self.binary = HUSK
        self.root = root
        self.workdir = workdir
        self._n = itertools.count(1)  # thread-safe under the GIL

    def cmd(self, *args, root=True):
        return [self.binary] + (["--root", self.root] if root else []) + [str(a) for a in args]

    def __call__(self, *args, timeout=30, cwd=None, root=True, stdin=None, env=None,
                 fd_map=None, listen_pid=False):
        """fd_map {target: source}: the runtime gets source as fd target (set
        up in the child only: pytest itself uses low fds for capture).
        listen_pid: set LISTEN_PID to the runtime's own pid."""
        base = os.path.join(self.workdir, f"cmd{next(self._n)}")
        argv = self.cmd(*args, root=root)
        preexec = None
        if fd_map or listen_pid:
            def preexec():
                for t, s in (fd_map or {}).items():
                    os.dup2(s, t, inheritable=True)
                if listen_pid:
                    e = dict(os.environ if env is None else env)
                    e["LISTEN_PID"] = str(os.getpid())
                    os.execve(argv[0], argv, e)
        t0 = time.monotonic()
        with open(base + ".out", "w+b") as out, open(base + ".err", "w+b") as err:
            # close_fds=False is safe: Python's own fds are all O_CLOEXEC
            p = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                 stdout=out, stderr=err, cwd=cwd or self.workdir,
                                 env=env, preexec_fn=preexec, close_fds=preexec is None)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise AssertionError(f"timeout after {timeout}s: {' '.join(argv)}")
        dur = time.monotonic() - t0
        with open(base + ".out", errors="replace") as f:
            o = f.read()
        with open(base + ".err", errors="replace") as f:
            e = f.read()
        return Result(argv, rc, o, e, dur)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, f"expected success:\n{r!r}"
        return r

    def fail(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc != 0, f"expected failure:\n{r!r}"
        return r

    def state(self, cid):
        r = self.ok("state", cid)
        try:
            return json.loads(r.out)
        except ValueError:
            raise AssertionError(f"state is not JSON:\n{r!r}")

    def ids(self):
        """Every container directory under the state root."""
        try:
            return sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []


class Bundle:
    """A bundle dir with a private rootfs copy and a host dir bind-mounted
    at /shared for markers."""

    def __init__(self, path, rootfs_template, unique):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.shared = os.path.join(path, "shared")
        self.unique = unique
        self.cgroups_path = f"/{CGROUP_PARENT}/{unique}"
        os.makedirs(path)
        os.chmod(path, 0o755)
        # Hard links: fast, and the busybox binary is never written to.
        shutil.copytree(rootfs_template, self.rootfs, symlinks=True, copy_function=os.link)
        os.makedirs(self.shared)
        os.chmod(self.shared, 0o777)
        cfg = copy.deepcopy(RUNC_SPEC_DEFAULT)
        cfg["process"]["terminal"] = False
        cfg["linux"]["cgroupsPath"] = self.cgroups_path
        cfg["mounts"].append({"destination": "/shared", "type": "bind",
                              "source": self.shared, "options": ["rbind", "rw"]})
        self.config = cfg

    def set_args(self, *args):
        self.config["process"]["args"] = list(args)
        return self

    def sh(self, script):
        return self.set_args("/bin/sh", "-c", script)

    def write(self, config=None):
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config if config is None else config, f, indent=1)
        return self

    def shared_file(self, name):
        return os.path.join(self.shared, name)

    def read_shared(self, name):
        with open(self.shared_file(name)) as f:
            return f.read()

    def namespaces(self):
        return self.config["linux"]["namespaces"]

    def add_namespace(self, ns_type, path=None):
        ns = {"type": ns_type}
        if path:
            ns["path"] = path
        self.namespaces().append(ns)

    def remove_namespace(self, ns_type):
        self.config["linux"]["namespaces"] = [n for n in self.namespaces() if n["type"] != ns_type]


class Env:
    """Per-test environment: runtime with private root, bundle factory,
    unique container ids."""

    def __init__(self, base, rootfs_template):
        self.base = base
        self.rootfs_template = rootfs_template
        self.rt = Runtime(os.path.join(base, "state"), base)
        self.bundles = []
        self._ids = 0

    def bundle(self, name=None):
        n = len(self.bundles)
        path = os.path.join(self.base, name or f"bundle{n}")
        unique = f"{os.path.basename(self.base)}-{n}"
        b = Bundle(path, self.rootfs_template, unique)
        self.bundles.append(b)
        return b

    def new_id(self, prefix="c"):
        self._ids += 1
        return f"{prefix}{self._ids}-{uuid.uuid4().hex[:8]}"

    def run(self, bundle, cid=None, *extra, timeout=30, ok=True):
        """Foreground `run` of a written bundle; returns Result."""
        bundle.write()
        cid = cid or self.new_id()
        r = self.rt("run", "--bundle", bundle.path, *extra, cid, timeout=timeout)
        if ok:
            assert r.rc == 0, f"expected success:\n{r!r}"
        return r

    def run_sh(self, script, bundle=None, **kw):
        b = bundle or self.bundle()
        b.sh(script)
        return self.run(b, **kw)

    def create(self, bundle, cid=None, *extra, ok=True):
        bundle.write()
        cid = cid or self.new_id()
        r = self.rt("create", "--bundle", bundle.path, *extra, cid)
        if ok:
            assert r.rc == 0, f"expected success:\n{r!r}"
        return cid, r

    def cleanup(self):
        problems = []
        rt = self.rt
        for cid in rt.ids():
            r = rt("delete", "--force", cid)
            if r.rc != 0 and os.path.exists(os.path.join(rt.root, cid)):
                problems.append(f"delete --force {cid} failed:\n{r!r}")
        left = rt.ids()
        if left:
            problems.append(f"state root not empty after delete: {left}")
        time.sleep(0)  # let exiting children become zombies
        reap_zombies()
        mounts = _mounts_under(self.base)
        if mounts:
            problems.append(f"mounts leaked into the host namespace: {mounts}")
        for b in self.bundles:
            dirs = _cgroup_dirs(b.unique)
            if dirs:
                # A just-killed init may take a moment to leave the cgroup.
                deadline = time.monotonic() + 2
                while dirs and time.monotonic() < deadline:
                    time.sleep(0.05)
                    reap_zombies()
                    dirs = _cgroup_dirs(b.unique)
                if dirs:
                    problems.append(f"cgroup dirs left after delete: {dirs}")
                    for d in dirs:
                        try:
                            os.rmdir(d)
                        except OSError:
                            pass
        return problems


def remove_cgroup_parents():
    # Only at session end: removing the shared parent while another runtime
    # (another session) is between its mkdir of parent and child breaks it.
    pattern = "/sys/fs/cgroup" if PURE_V2 else "/sys/fs/cgroup/*"
    for d in glob.glob(f"{pattern}/{CGROUP_PARENT}"):
        try:
            os.rmdir(d)
        except OSError:
            pass  # not empty: someone else's containers


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


def wait_for(pred, timeout=5.0, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(interval)


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
