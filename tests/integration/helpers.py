"""Helpers for the integration tests: the runtime under test and its
bundles, cgroup paths and files on every host layout, mountinfo and
/proc/PID/cgroup, user namespaces, error checks, processes.  Fixtures live in conftest.py; tests import what
they need from here (never a private name from another module)."""
import copy
import glob
import itertools
import json
import os
import shutil
import subprocess
import time
import uuid
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HUSK = os.path.abspath(os.environ.get("HUSK", os.path.join(REPO, "build", "husk")))
BUSYBOX = os.environ.get("HUSK_TEST_BUSYBOX", "/bin/busybox")
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


# --- files and processes --------------------------------------------------------

def read_file(path):
    """A file's text, stripped (cgroup and /proc files end in a newline)."""
    with open(path) as f:
        return f.read().strip()


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def wait_for(pred, timeout=15.0, interval=0.01):
    """pred's first true value, or its last false one after timeout (generous:
    a loaded host runs the suite too)."""
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


def our_children():
    """Live (non-zombie) processes whose parent is us: as a subreaper we
    inherit any orphaned init a failed create leaves."""
    me = str(os.getpid())
    kids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if rest[1] == me and rest[0] != "Z":
            kids.append(p)
    return kids


# A container script counting in /shared/count: running, paused or not.
COUNTER = "i=0; while true; do i=$((i+1)); echo $i > /shared/count; sleep 0.02; done"


def shared_count(b):
    """The last number COUNTER wrote in bundle b (0 before the first)."""
    try:
        return int(b.read_shared("count") or 0)
    except (FileNotFoundError, ValueError):
        return 0


# --- mountinfo ------------------------------------------------------------------

# One line of /proc/PID/mountinfo; options, optional and super_options are lists.
Mount = namedtuple("Mount", "mount_id parent_id dev root mountpoint options optional "
                   "fstype source super_options")


def _unescape(field):
    # the kernel writes space, tab, newline and backslash as \ooo
    for esc, ch in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(esc, ch)
    return field


def mountinfo(text=None, pid="self"):
    """[Mount] from mountinfo text (output of a container, or grep of it),
    or from /proc/<pid>/mountinfo when no text is given."""
    if text is None:
        with open(f"/proc/{pid}/mountinfo") as f:
            text = f.read()
    out = []
    for line in text.splitlines():
        pre, _, post = line.partition(" - ")
        f = pre.split()
        p = post.split()
        out.append(Mount(int(f[0]), int(f[1]), f[2], _unescape(f[3]), _unescape(f[4]),
                         f[5].split(","), f[6:], p[0], p[1] if len(p) > 1 else "",
                         p[2].split(",") if len(p) > 2 else []))
    return out


def mountinfo_map(text=None, pid="self"):
    """{mountpoint: Mount}, the top mount of each mountpoint."""
    return {m.mountpoint: m for m in mountinfo(text, pid)}


def mounts_under(path):
    """Mountpoints of this (the host's) mount namespace at or below path."""
    path = os.path.realpath(path).rstrip("/") + "/"
    return [m.mountpoint for m in mountinfo() if (m.mountpoint + "/").startswith(path)]


# --- cgroups --------------------------------------------------------------------

CGROUP_PARENT = "husk-test"
# A pure cgroup v2 host (tests/vm/cgroup-v2.sh boots one): the test cgroups
# are /sys/fs/cgroup/husk-test/<unique>, not /sys/fs/cgroup/<ctrl>/husk-test/...
PURE_V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
# The cgroup2 hierarchy of a hybrid host.
UNIFIED = "/sys/fs/cgroup/unified"
HAS_CGROUP2 = PURE_V2 or os.path.exists(f"{UNIFIED}/cgroup.controllers")


def has_v1(controller):
    """The host has a v1 hierarchy for controller."""
    return not PURE_V2 and os.path.isdir(f"/sys/fs/cgroup/{controller}")


def cgroup_root(controller):
    """Root of the hierarchy holding controller: its v1 one, the unified
    one for "unified", or the one v2 hierarchy on a pure v2 host."""
    if PURE_V2:
        return "/sys/fs/cgroup"
    if controller == "unified":
        return UNIFIED
    return f"/sys/fs/cgroup/{controller}"


def _unique(b):
    return getattr(b, "unique", b)


def cgroup_dir(controller, b):
    """The cgroup of bundle b (a Bundle or its unique name) in the
    hierarchy of controller (see cgroup_root)."""
    return f"{cgroup_root(controller)}/{CGROUP_PARENT}/{_unique(b)}"


def cgroup_file(controller, b, name=""):
    """Path of a file in bundle b's cgroup (see cgroup_dir)."""
    return f"{cgroup_dir(controller, b)}/{name}"


def read_cgroup(controller, b, name):
    return read_file(cgroup_file(controller, b, name))


def cgroup_dirs(b):
    """Every directory bundle b's cgroup has: one per v1 hierarchy and the
    unified one (the one v2 directory on a pure v2 host)."""
    if PURE_V2:
        return glob.glob(f"/sys/fs/cgroup/{CGROUP_PARENT}/{_unique(b)}")
    return glob.glob(f"/sys/fs/cgroup/*/{CGROUP_PARENT}/{_unique(b)}")


def cgroup2_controllers():
    """Controllers of the cgroup2 hierarchy (the unified one on a hybrid host)."""
    return read_file(f"{cgroup_root('unified')}/cgroup.controllers").split()


def remove_cgroup_parents():
    # Only at session end: removing the shared parent while another runtime
    # (another session) is between its mkdir of parent and child breaks it.
    pattern = "/sys/fs/cgroup" if PURE_V2 else "/sys/fs/cgroup/*"
    for d in glob.glob(f"{pattern}/{CGROUP_PARENT}"):
        try:
            os.rmdir(d)
        except OSError:
            pass  # not empty: someone else's containers


def proc_cgroup(text):
    """{controllers: path} from /proc/PID/cgroup text ("" for the unified
    hierarchy; co-mounted controllers as one key, "cpu,cpuacct")."""
    out = {}
    for line in text.splitlines():
        _, ctrl, path = line.split(":", 2)
        out[ctrl] = path
    return out


def pid_cgroups(pid):
    """proc_cgroup of a process."""
    with open(f"/proc/{pid}/cgroup") as f:
        return proc_cgroup(f.read())


# v1 file -> (v2 file, v1 value -> the v2 value runc's conversion writes)
V2_OF = {
    "memory.limit_in_bytes": ("memory.max", str),
    "memory.soft_limit_in_bytes": ("memory.low", str),
    "pids.max": ("pids.max", str),
    "cpu.shares": ("cpu.weight", lambda v: str(1 + ((int(v) - 2) * 9999) // 262142)),
    "cpu.cfs_quota_us": ("cpu.max", lambda v: v),
    "cpuset.cpus": ("cpuset.cpus", str),
    "cpuset.mems": ("cpuset.mems", str),
}


def assert_cgroup(b, controller, name, want):
    """Bundle b's cgroup holds v1 value `want` for v1 file `name` (on a
    pure v2 host: the v2 file and value it converts to)."""
    if not PURE_V2:
        got = read_cgroup(controller, b, name)
        assert (int(got) if isinstance(want, int) else got) == want, (name, got, want)
        return
    v2name, conv = V2_OF[name]
    got = read_cgroup(controller, b, v2name)
    if v2name == "cpu.max":
        got = got.split()[0]
    assert got == conv(str(want)), (v2name, got, want)


# --- bundles --------------------------------------------------------------------

USERNS_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def add_mount(b, dest, typ, src=None, options=(), **extra):
    m = {"destination": dest, "type": typ, "options": list(options)}
    if src is not None:
        m["source"] = src
    m.update(extra)
    b.config["mounts"].append(m)
    return m


def add_userns(b, host_id=100000, size=65536):
    """A user namespace mapping container ids 0..size-1 to host_id...; the
    rootfs is shifted to the ids it has in there, as an image for such a
    container is: the mapped root must own the rootfs to make mountpoints
    in it.  Files hard-linked from the shared template get copies of their
    own first, so the chown reaches no other bundle."""
    b.add_namespace("user")
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": size}]
    for top, dirs, files in os.walk(b.rootfs):
        for name in [""] + dirs + files:
            p = os.path.join(top, name) if name else top
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p) and st.st_nlink > 1:
                tmp = p + ".husk-copy"
                shutil.copy2(p, tmp)
                os.replace(tmp, p)
            if st.st_uid < size and st.st_gid < size:
                os.lchown(p, host_id + st.st_uid, host_id + st.st_gid)
    return b


def one_line_error(r, *parts):
    """r failed with one line of error naming every part; returns the line."""
    assert r.rc != 0, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    for p in parts:
        assert p in lines[0], r
    return lines[0]


def check_failed_cleanly(env, rt, r):
    """r (a create or run) exited 1 with husk's one error line, leaving no
    state and no process behind."""
    assert r.rc == 1, f"expected exit 1:\n{r!r}"
    assert rt.ids() == [], f"state left behind: {rt.ids()}\n{r!r}"
    time.sleep(0.05)
    kids = our_children()
    assert not kids, f"processes left behind: {kids}\n{r!r}"
    if IS_HUSK:
        lines = r.err.splitlines()
        assert len(lines) == 1, f"want a single stderr line:\n{r!r}"
        assert lines[0].startswith(f"husk: create {r.args[-1]}: "), r


def assert_box_failed(env, r):
    """A husk box that failed on its own (exit 125, one `husk: box:` line)
    and left nothing: no container, no mount."""
    assert r.rc == 125, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("husk: box: "), r
    assert env.rt.ids() == [], r
    assert not mounts_under(env.base), r


def tree_listing(root):
    """(path, mode, uid, size, mtime) of every entry below root, sorted."""
    out = []
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            out.append((os.path.relpath(p, root), st.st_mode, st.st_uid, st.st_size,
                        st.st_mtime_ns))
    return sorted(out)


# --- the runtime, bundles and the per-test environment ---------------------------

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
        mounts = mounts_under(self.base)
        if mounts:
            problems.append(f"mounts leaked into the host namespace: {mounts}")
        for b in self.bundles:
            dirs = cgroup_dirs(b)
            if dirs:
                # A just-killed init may take a moment to leave the cgroup.
                deadline = time.monotonic() + 2
                while dirs and time.monotonic() < deadline:
                    time.sleep(0.05)
                    reap_zombies()
                    dirs = cgroup_dirs(b)
                if dirs:
                    problems.append(f"cgroup dirs left after delete: {dirs}")
                    for d in dirs:
                        try:
                            os.rmdir(d)
                        except OSError:
                            pass
        return problems
