"""husk box --isolation chroot: buildah's chroot isolation.  Only mount and
UTS namespaces of its own, the host's /proc, /dev and /sys bound read-only,
no cgroup, every mount's flags verified; it runs inside an unprivileged
container where --isolation oci is refused."""
import json
import os
import shutil
import subprocess

import pytest

from helpers import (CAP_NAMES, HUSK, add_userns, mountinfo, mountinfo_map, mounts_under,
                     pid_alive, wait_for)

pytestmark = pytest.mark.husk_only

FLAGS = ("ro", "nosuid", "nodev", "noexec")


def chroot_box(rt, *args, **kw):
    return rt("box", "--isolation", "chroot", *args, **kw)


def sections(out):
    """The output of commands separated by `echo ---`, each as lines."""
    return [s.strip().splitlines() for s in out.split("---\n")]


def assert_nothing_left(env, r, *parts):
    assert r.rc == 125, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("husk: box: "), r
    for p in parts:
        assert p in lines[0], r
    assert env.rt.ids() == [], r
    assert not mounts_under(env.base), r


def test_host_proc_sys_dev_read_only(env, rootfs):
    r = chroot_box(env.rt, rootfs, "sh", "-c",
                   "ls /proc; echo ---; ls /sys/class/net; echo ---; cat /proc/self/mountinfo")
    assert r.rc == 0, r
    procs, nets, mi = sections(r.out)
    # The host's procfs (our own pid is in it) and sysfs (the host's interfaces).
    assert str(os.getpid()) in procs, r
    assert set(nets) == set(os.listdir("/sys/class/net")), r
    host = mountinfo_map()
    inside = mountinfo("\n".join(mi))
    top = {m.mountpoint: m for m in inside}
    for path, flags, fstype in (("/proc", FLAGS, "proc"), ("/sys", FLAGS, "sysfs"),
                                ("/dev", ("ro", "nosuid", "noexec"), host["/dev"].fstype)):
        m = next(m for m in inside if m.mountpoint == path)  # the bind itself, not a mask
        assert (m.fstype, m.dev) == (fstype, host[path].dev), m
        assert set(flags) <= set(m.options), m
    assert "nodev" not in next(m for m in inside if m.mountpoint == "/dev").options
    # every submount of /sys (the host's cgroup hierarchies among them) read-only too
    subs = [m for m in inside if m.mountpoint.startswith("/sys/")]
    assert subs and all(set(FLAGS) <= set(m.options) for m in subs), subs
    assert "/sys/fs/cgroup" in top, r


def test_namespaces_are_the_callers_but_mount_and_uts(env, rootfs):
    kinds = ("pid", "net", "ipc", "cgroup", "mnt", "uts")
    r = chroot_box(env.rt, "--hostname", "chrooty", rootfs, "sh", "-c",
                   "for n in %s; do readlink /proc/self/ns/$n; done; hostname" % " ".join(kinds))
    assert r.rc == 0, r
    got = dict(zip(kinds, r.out.split()))
    for k in kinds:
        same = got[k] == os.readlink(f"/proc/self/ns/{k}")
        assert same == (k not in ("mnt", "uts")), (k, r)
    assert r.out.split()[-1] == "chrooty", r


def test_masked_and_readonly_paths(env, rootfs):
    r = chroot_box(env.rt, rootfs, "sh", "-c",
                   "wc -c < /proc/keys; wc -c < /proc/timer_list; echo ---; ls -A /sys/firmware; "
                   "echo ---; echo 1 > /proc/sys/kernel/ns_last_pid && echo wrote")
    assert r.rc != 0, r
    files, firmware, written = sections(r.out)
    assert files == ["0", "0"] and firmware == [] and written == [], r
    assert "Read-only file system" in r.err, r
    with open("/proc/timer_list") as f:
        assert f.read(), "the host's /proc/timer_list is not empty"
    assert os.listdir("/sys/firmware"), "the host's /sys/firmware is not empty"


def test_bind_and_tmpfs_flags(env, rootfs):
    src = os.path.join(env.base, "vol")
    os.mkdir(src)
    r = chroot_box(env.rt, "-v", f"{src}:/ro:ro", "-v", f"{src}:/rw", "--tmpfs", "/scratch",
                   rootfs, "sh", "-c", "cat /proc/self/mountinfo; echo x > /rw/f")
    assert r.rc == 0, r
    mi = mountinfo_map(r.out)
    assert "ro" in mi["/ro"].options and "rw" in mi["/rw"].options, r
    assert {"nosuid", "nodev"} <= set(mi["/scratch"].options), r
    assert os.listdir(src) == ["f"]


ESCAPE = r"""
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    mkdir("/jail", 0755);
    if (chroot("/jail") != 0) { perror("chroot"); return 2; }
    for (int i = 0; i < 64; i++)
        chdir("..");
    chroot(".");
    printf("%s\n", access(argv[1], F_OK) == 0 ? "escaped" : "stayed");
    return 0;
}
"""


def test_chroot_cannot_be_escaped(env, rootfs):
    # The classic escape with CAP_SYS_CHROOT (Docker's set has it): chroot
    # into a subdirectory, climb above it, chroot there.  The rootfs was
    # moved onto the namespace's "/", so ".." from it leads back to it.
    if not shutil.which("cc"):
        pytest.skip("no C compiler for the escape program")
    src = os.path.join(env.base, "escape.c")
    with open(src, "w") as f:
        f.write(ESCAPE)
    r = subprocess.run(["cc", "-static", "-o", os.path.join(rootfs, "escape"), src],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode:
        pytest.skip(f"cannot build a static program: {r.stdout}")
    marker = os.path.join(env.base, "host-only")
    open(marker, "w").close()
    r = chroot_box(env.rt, rootfs, "/escape", marker)
    assert (r.rc, r.out) == (0, "stayed\n"), r


def test_caps_rlimits_no_new_privs(env, rootfs):
    r = chroot_box(env.rt, rootfs, "sh", "-c",
                   "grep -E '^(CapEff|CapBnd|CapInh|NoNewPrivs)' /proc/self/status; ulimit -n")
    assert r.rc == 0, r
    st = dict(line.split(":\t") for line in r.out.splitlines()[:-1])
    assert st["CapEff"] == st["CapBnd"] == "00000000a80425fb", r
    # Docker's default: no-new-privileges off
    assert st["CapInh"] == "0000000000000000" and st["NoNewPrivs"] == "0", r
    assert r.out.splitlines()[-1] == "1024", r


def test_terminal(env, rootfs):
    import pty
    argv = env.rt.cmd("box", "--isolation", "chroot", "-t", rootfs, "sh", "-c",
                      "tty; grep ' /dev/console ' /proc/self/mountinfo | cut -d' ' -f9")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = b""
    while True:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    lines = out.decode().split()
    assert status == 0 and lines[0].startswith("/dev/pts/") and lines[1] == "devpts", out
    # the pty is bound over the host's console node in the box's namespace only
    assert os.major(os.stat("/dev/console").st_rdev) == 5, "host /dev/console changed"


def test_no_cgroup_of_its_own(env, rootfs):
    r = chroot_box(env.rt, rootfs, "cat", "/proc/self/cgroup")
    assert r.rc == 0, r
    with open("/proc/self/cgroup") as f:
        assert r.out == f.read(), r  # the caller's, in every hierarchy


def test_detach_exec_delete(env, rootfs):
    r = chroot_box(env.rt, "-d", "--name", "cb1", rootfs, "sleep", "100")
    assert (r.rc, r.out) == (0, "cb1\n"), r
    r = env.rt("exec", "cb1", "sh", "-c", "readlink /proc/self/ns/pid; hostname")
    assert r.rc == 0 and r.out.split() == [os.readlink("/proc/self/ns/pid"), "cb1"], r
    env.rt.ok("delete", "--force", "cb1")
    assert env.rt.ids() == [] and not mounts_under(env.base)


def has_mntns_id():
    """NS_GET_MNTNS_ID (Linux 6.10), by which husk knows the namespace."""
    import fcntl
    fd = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    try:
        fcntl.ioctl(fd, (2 << 30) | (8 << 16) | (0xb7 << 8) | 5, bytes(8))
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_processes_end_with_the_box(env, rootfs):
    """No pid namespace or cgroup holds them: the processes in the box's
    mount namespace are its own (ps, kill --all) and are killed when its
    command exits; a host process is not."""
    if not has_mntns_id():
        pytest.skip("no NS_GET_MNTNS_ID (Linux 6.10): background processes outlive the box")
    host = subprocess.Popen(["sleep", "100"])
    try:
        r = chroot_box(env.rt, rootfs, "sh", "-c", "sleep 100 & echo $!")
        assert r.rc == 0, r
        bg = int(r.out)
        assert wait_for(lambda: not pid_alive(bg)), f"{bg} outlived the box"
        r = chroot_box(env.rt, "-d", "--name", "cb2", rootfs, "sh", "-c",
                       "sleep 100 & echo $! > /tmp/bg; exec sleep 200")
        assert r.rc == 0, r
        bg = int(wait_for(lambda: env.rt("exec", "cb2", "cat", "/tmp/bg").out.strip()))
        init = json.loads(env.rt.ok("state", "cb2").out)["pid"]
        pids = json.loads(env.rt.ok("ps", "--format", "json", "cb2").out)
        assert sorted(pids) == sorted([init, bg]), (pids, init, bg)  # by mount namespace
        # the namespace's id counts within its boot only: a state from
        # another boot names none of this one's processes
        path = os.path.join(env.rt.root, "cb2", "state.json")
        with open(path) as f:
            saved = f.read()
        doc = json.loads(saved)
        doc["mntNamespace"]["boot"] = "00000000-0000-0000-0000-000000000000"
        with open(path, "w") as f:
            json.dump(doc, f)
        assert json.loads(env.rt.ok("ps", "--format", "json", "cb2").out) is None  # as runc: null
        with open(path, "w") as f:
            f.write(saved)
        env.rt.ok("kill", "--all", "cb2", "TERM")
        assert wait_for(lambda: not pid_alive(bg) and not pid_alive(init)), (bg, init)
        env.rt.ok("delete", "cb2")
        assert host.poll() is None, "a host process was killed"
    finally:
        host.kill()
        host.wait()
    assert env.rt.ids() == [] and not mounts_under(env.base)


@pytest.mark.parametrize("args,why", [
    (["--isolation", "vm"], "--isolation vm: expected oci or chroot"),
    (["--isolation", "chroot", "--net", "none"], "--net none: --isolation chroot"),
    (["--isolation", "chroot", "--memory", "1g"], "--memory: --isolation chroot runs in the caller's cgroup"),
    (["--isolation", "chroot", "--pids-limit", "10"], "--pids-limit"),
    (["--isolation", "chroot", "-v", "/nonexistent:/x"], "/nonexistent"),
])
def test_bad_input_leaves_nothing(env, rootfs, args, why):
    r = env.rt("box", *args, rootfs, "true")
    assert_nothing_left(env, r, why)


def test_print_config(env, rootfs):
    import json
    r = env.rt.ok("box", "--isolation", "chroot", "--print-config", rootfs)
    cfg = json.loads(r.out)
    assert [n["type"] for n in cfg["linux"]["namespaces"]] == ["uts", "mount"], cfg
    assert "resources" not in cfg["linux"] and "cgroupsPath" not in cfg["linux"], cfg
    mounts = {m["destination"]: m for m in cfg["mounts"]}
    for dest in ("/proc", "/dev", "/sys"):
        assert (mounts[dest]["type"], mounts[dest]["source"]) == ("bind", dest), mounts
        assert {"rbind", "ro", "rro", "nosuid", "noexec"} <= set(mounts[dest]["options"])
    assert not {"/dev/pts", "/dev/mqueue", "/sys/fs/cgroup"} & set(mounts), mounts
    assert mounts["/dev/shm"]["type"] == "tmpfs", mounts  # the box's own
    assert env.rt.ids() == []


def test_help_lists_isolation(env):
    r = env.rt.ok("box", "--help")
    assert "--isolation" in r.out and "chroot" in r.out, r


# --- inside an unprivileged container ------------------------------------------

def husk_files():
    """HUSK and the shared libraries it loads (none for a static build)."""
    r = subprocess.run(["ldd", HUSK], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       universal_newlines=True)
    libs = []
    for line in r.stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            libs.append(path)
    return libs


def outer_bundle(env, script, seccomp=None, cgroups=False):
    """A husk container with a user namespace, all capabilities inside it,
    no cgroup hierarchy (masked; cgroups: the host's, read-only), the
    default masked paths, the husk binary bound in at /husk (with its
    libraries) and a busybox rootfs at /inner."""
    b = env.bundle("outer")
    shutil.copytree(env.rootfs_template, os.path.join(b.rootfs, "inner"), symlinks=True)
    for lib in husk_files():
        dst = os.path.join(b.rootfs, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(lib, dst)
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    b.config["mounts"].append({"destination": "/husk", "type": "bind", "source": HUSK,
                               "options": ["bind", "ro"]})
    if os.path.isdir("/usr/share/containers"):  # the default seccomp profile
        b.config["mounts"].append({"destination": "/usr/share/containers", "type": "bind",
                                   "source": "/usr/share/containers", "options": ["rbind", "ro"]})
    if cgroups:
        b.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "bind",
                                   "source": "/sys/fs/cgroup", "options": ["rbind", "rro"]})
    else:
        b.config["linux"]["maskedPaths"].append("/sys/fs/cgroup")
    b.config["root"]["readonly"] = False  # the inner husk's state root is /tmp/state
    caps = b.config["process"]["capabilities"]
    with open("/proc/self/status") as f:
        bnd = int(next(ln for ln in f if ln.startswith("CapBnd:")).split()[1], 16)
    for k in ("bounding", "effective", "permitted"):
        caps[k] = [c for i, c in enumerate(CAP_NAMES) if bnd >> i & 1]
    if seccomp:
        b.config["linux"]["seccomp"] = seccomp
    add_userns(b)
    b.sh(script)
    return b


INNER = "/husk --root /tmp/state box {opts} /inner "


def test_nested_in_unprivileged_container(env):
    script = ("readlink /proc/self/ns/pid; echo ---; "
              + INNER.format(opts="--isolation chroot")
              + "sh -c 'readlink /proc/self/ns/pid; cat /proc/1/cmdline; echo; echo ---; "
              "cat /proc/self/mountinfo; echo ---; wc -c < /proc/keys; hostname'")
    r = env.run(outer_bundle(env, script), ok=False)
    assert r.rc == 0, r
    outer_pidns, inner, mi, rest = sections(r.out)
    # the outer container's pid namespace: its pid 1 is the inner husk (sh exec'd it)
    assert inner[0] == outer_pidns[0] and inner[1].startswith("/husk\0"), r
    mi = mountinfo("\n".join(mi))
    for path in ("/proc", "/sys"):
        m = next(m for m in mi if m.mountpoint == path)
        assert set(FLAGS) <= set(m.options), m
    assert rest[0] == "0" and rest[1].startswith("box-"), r


@pytest.mark.parametrize("cgroups,refused", [
    (False, "cgroup: no cgroup hierarchy is mounted: No such file or directory (no cgroup"),
    (True, "cgroup: mkdir /sys/fs/cgroup/cpu/husk/"),  # the host's, read-only
])
def test_nested_oci_suggests_chroot(env, cgroups, refused):
    inner = INNER.format(opts="") + "true"
    r = env.run(outer_bundle(env, inner, cgroups=cgroups), ok=False)
    assert r.rc == 125, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("husk: box: " + refused), r
    assert lines[0].endswith("as often inside a container: try --isolation chroot)"), r


# mount_setattr "succeeds" without doing anything (errno 0), and with
# remount_too a bind remount does the same: flags asked for then do not
# stick unless husk checks them.
MS_REMOUNT = 32


def silent_mount_calls(remount_too):
    calls = [{"names": ["mount_setattr"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0}]
    if remount_too:
        calls.append({"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0,
                      "args": [{"index": 3, "value": MS_REMOUNT, "valueTwo": MS_REMOUNT,
                                "op": "SCMP_CMP_MASKED_EQ"}]})
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": calls}


def test_flags_that_did_not_stick_are_remounted(env):
    script = INNER.format(opts="--isolation chroot -v /inner/etc:/etc2:ro") + \
        "cat /proc/self/mountinfo"
    r = env.run(outer_bundle(env, script, seccomp=silent_mount_calls(False)), ok=False)
    assert r.rc == 0, r
    mi = mountinfo(r.out)
    want = {"/proc": FLAGS, "/sys": FLAGS, "/dev": ("ro", "nosuid", "noexec"), "/etc2": ("ro",)}
    for path, flags in want.items():
        m = next(m for m in mi if m.mountpoint == path)
        assert set(flags) <= set(m.options), m
    subs = [m for m in mi if m.mountpoint.startswith(("/sys/", "/dev/")) and
            m.mountpoint != "/dev/shm"]
    assert subs and all({"ro", "nosuid", "noexec"} <= set(m.options) for m in subs), subs


def test_flag_that_cannot_stick_fails(env):
    script = (INNER.format(opts="--isolation chroot") + "true; echo rc=$?; "
              "ls -A /tmp/state; grep -c /tmp/state /proc/self/mountinfo")
    r = env.run(outer_bundle(env, script, seccomp=silent_mount_calls(True)), ok=False)
    assert r.out.split() == ["rc=125", "0"], r
    lines = r.err.strip().splitlines()
    assert lines == ["husk: box: mounts[0] bind on /proc: mount /proc: ro did not stick"], r


@pytest.mark.parametrize("storage", ["overlay", "vfs"])
def test_image(env, storage):
    """An image of the store runs under chroot isolation with either driver."""
    from images import Image, Layer, busybox_layer
    img = Image([busybox_layer(applets=("sh", "cat", "grep", "readlink")),
                 Layer().file("etc/motd", b"from the image\n")],
                config={"Cmd": ["cat", "/etc/motd"]})
    store = os.path.join(env.base, "store")
    src = img.write_oci_dir(os.path.join(env.base, "src"))
    env.rt.ok("image", "import", "--storage-root", store, src, "--name", "chr:1")
    r = chroot_box(env.rt, "--storage-root", store, "--storage", storage, "chr:1")
    assert (r.rc, r.out) == (0, "from the image\n"), r
    r = chroot_box(env.rt, "--storage-root", store, "--storage", storage, "chr:1", "sh", "-c",
                   "readlink /proc/self/ns/pid; grep ' /proc ' /proc/self/mounts | cut -d' ' -f4")
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == os.readlink("/proc/self/ns/pid"), r
    assert "ro" in r.out.splitlines()[1].split(","), r
    assert env.rt.ids() == [] and not mounts_under(env.base)
