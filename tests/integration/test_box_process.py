"""husk box: the process (-e, -w, -u, --env-file, --entrypoint, -i, -t), its
privileges (capabilities, --privileged, --security-opt, seccomp, masked
paths), namespaces and resource limits, in Docker's syntax and defaults."""
import json
import os
import pty
import subprocess

import pytest

from helpers import PURE_V2, assert_box_failed, cgroup2_controllers, has_v1

pytestmark = pytest.mark.husk_only

DOCKER_CAPS = "00000000a80425fb"
DEFAULT_SECCOMP = "/usr/share/containers/seccomp.json"



def box(rt, *args, **kw):
    return rt("box", *args, **kw)



def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in {text!r}")


def proc_status(env, rootfs, *opts):
    r = box(env.rt, *opts, rootfs, "cat", "/proc/self/status")
    assert r.rc == 0, r
    return r.out


# --- the process ---------------------------------------------------------------

@pytest.mark.parametrize("script,rc", [
    ("true", 0), ("exit 42", 42), ("kill -9 $$", 137), ("kill -15 $$", 143)])
def test_exit_status(env, rootfs, script, rc):
    # --pid host: sh is not the namespace's init, which a signal it does
    # not handle could not kill.
    r = box(env.rt, "--pid", "host", rootfs, "sh", "-c", script)
    assert r.rc == rc, r
    assert env.rt.ids() == []


def test_exit_125_126_127(env, rootfs):
    assert_box_failed(env, box(env.rt, "--cpus", "x", rootfs, "true"))
    r = box(env.rt, rootfs, "/etc/passwd")
    assert r.rc == 126, r
    r = box(env.rt, rootfs, "nosuch")
    assert r.rc == 127, r


def test_user_name_uid_group(env, rootfs):
    r = box(env.rt, "-u", "user", rootfs, "sh", "-c", "id; echo $HOME")
    assert (r.rc, r.out) == (0, "uid=1000(user) gid=1000(user) groups=1001(extra)\n/home/user\n"), r
    # A numeric uid found in passwd takes its entry's group and home.
    r = box(env.rt, "-u", "1000", rootfs, "sh", "-c", "id -u; id -g; echo $HOME")
    assert (r.rc, r.out) == (0, "1000\n1000\n/home/user\n"), r
    # Not in passwd: allowed, group 0, HOME /.
    r = box(env.rt, "-u", "4242", rootfs, "sh", "-c", "id -u; id -g; echo $HOME")
    assert (r.rc, r.out) == (0, "4242\n0\n/\n"), r
    # An explicit group: no supplementary groups (Docker's reading).
    r = box(env.rt, "-u", "user:extra", rootfs, "id")
    assert (r.rc, r.out) == (0, "uid=1000(user) gid=1001(extra)\n"), r
    r = box(env.rt, "-u", "user:777", rootfs, "sh", "-c", "id -g")
    assert (r.rc, r.out) == (0, "777\n"), r


def test_user_from_an_added_passwd(env, rootfs):
    with open(os.path.join(rootfs, "etc/passwd"), "a") as f:
        f.write("app:x:2000:2001:app:/srv/app:/bin/sh\n")
    with open(os.path.join(rootfs, "etc/group"), "a") as f:
        f.write("app:x:2001:\nwheel:x:10:root,app\n")
    r = box(env.rt, "-u", "app", rootfs, "sh", "-c", "id; echo $HOME")
    assert (r.rc, r.out) == (0, "uid=2000(app) gid=2001(app) groups=10(wheel)\n/srv/app\n"), r


def test_user_lookup_stays_in_rootfs(env, rootfs):
    # /etc/passwd a symlink to the host's: resolved inside the rootfs, it is
    # the rootfs's own (absent), so a host-only user is unknown.
    os.rename(os.path.join(rootfs, "etc/passwd"), os.path.join(rootfs, "etc/passwd.real"))
    os.symlink("/etc/passwd.real", os.path.join(rootfs, "etc/passwd"))
    r = box(env.rt, "-u", "user", rootfs, "id", "-u")
    assert (r.rc, r.out) == (0, "1000\n"), r
    os.unlink(os.path.join(rootfs, "etc/passwd"))
    os.symlink("/../../../../../etc/passwd", os.path.join(rootfs, "etc/passwd"))
    assert_box_failed(env, box(env.rt, "-u", "daemon", rootfs, "true"))


@pytest.mark.parametrize("user", ["nosuch", "user:nosuchgroup", "", "user:", ":1"])
def test_user_unknown(env, rootfs, user):
    assert_box_failed(env, box(env.rt, "-u", user, rootfs, "true"))


def test_env_file_then_env(env, rootfs):
    ef = os.path.join(env.base, "env.list")
    with open(ef, "w") as f:
        f.write("# a comment\n\nA=one two \n  B=file\nFROM_HUSK\nUNSET_HERE\nC=x=y\n")
    e = dict(os.environ, FROM_HUSK="outer")
    e.pop("UNSET_HERE", None)
    r = box(env.rt, "--env-file", ef, "-e", "B=flag", "-w", "/tmp", rootfs, "sh", "-c",
            'echo "[$A][$B][$FROM_HUSK][${UNSET_HERE-unset}][$C]"; pwd', env=e)
    assert (r.rc, r.out) == (0, "[one two ][flag][outer][unset][x=y]\n/tmp\n"), r


@pytest.mark.parametrize("content", ["=novar\n", "A B=1\n"])
def test_env_file_bad(env, rootfs, content):
    ef = os.path.join(env.base, "env.list")
    with open(ef, "w") as f:
        f.write(content)
    assert_box_failed(env, box(env.rt, "--env-file", ef, rootfs, "true"))


def test_env_file_missing(env, rootfs):
    r = box(env.rt, "--env-file", os.path.join(env.base, "nope"), rootfs, "true")
    assert_box_failed(env, r)
    assert "No such file" in r.err


def test_entrypoint(env, rootfs):
    r = box(env.rt, "--entrypoint", "echo", rootfs, "a", "b")
    assert (r.rc, r.out) == (0, "a b\n"), r
    r = box(env.rt, "--entrypoint", "/bin/echo", rootfs)
    assert (r.rc, r.out) == (0, "\n"), r
    r = box(env.rt, "--entrypoint", "", rootfs, "echo", "c")
    assert (r.rc, r.out) == (0, "c\n"), r
    # The entrypoint is what is looked up: CMD need not exist.
    r = box(env.rt, "--entrypoint", "nosuch", rootfs, "echo")
    assert r.rc == 127 and "nosuch: not found" in r.err, r
    r = box(env.rt, "--entrypoint", "/etc/passwd", rootfs, "echo")
    assert r.rc == 126, r
    r = box(env.rt, "--entrypoint", "echo", rootfs, "nosuchcmd")
    assert (r.rc, r.out) == (0, "nosuchcmd\n"), r


def test_stdin_only_with_i(env, rootfs):
    data = os.path.join(env.base, "in")
    with open(data, "w") as f:
        f.write("fed\n")
    r = box(env.rt, rootfs, "cat", stdin=open(data), timeout=10)
    assert (r.rc, r.out) == (0, ""), r
    r = box(env.rt, "-i", rootfs, "cat", stdin=open(data), timeout=10)
    assert (r.rc, r.out) == (0, "fed\n"), r


def run_on_pty(env, args, feed):
    m, s = pty.openpty()
    p = subprocess.Popen(env.rt.cmd("box", *args), stdin=s, stdout=s, stderr=s)
    os.close(s)
    os.write(m, feed)
    out = b""
    while True:
        try:
            d = os.read(m, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    os.close(m)
    return p.wait(timeout=10), out.decode(errors="replace")


def test_tty_without_i_forwards_nothing(env, rootfs):
    script = ["sh", "-c", "test -t 0 && echo tty; read -t 1 x; echo got=$x"]
    rc, out = run_on_pty(env, ["-t", rootfs] + script, b"typed\n")
    assert rc == 0 and "tty" in out and "got=\r" in out, out
    rc, out = run_on_pty(env, ["-it", rootfs] + script, b"typed\n")
    assert rc == 0 and "got=typed" in out, out


# --- privileges ------------------------------------------------------------------

def test_default_caps_seccomp_nnp(env, rootfs):
    st = proc_status(env, rootfs)
    assert status_field(st, "CapEff") == DOCKER_CAPS
    assert status_field(st, "CapBnd") == DOCKER_CAPS
    assert status_field(st, "CapAmb") == "0000000000000000"
    assert status_field(st, "NoNewPrivs") == "0"
    if os.path.exists(DEFAULT_SECCOMP):
        assert status_field(st, "Seccomp") == "2"


def test_non_root_user_gets_no_effective_caps(env, rootfs):
    st = proc_status(env, rootfs, "-u", "user")
    assert status_field(st, "CapEff") == "0000000000000000"
    assert status_field(st, "CapBnd") == DOCKER_CAPS


def caps_of(names):
    from_name = {n: i for i, n in enumerate(
        "chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap "
        "linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner "
        "sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice "
        "sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap "
        "mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf "
        "checkpoint_restore".split())}
    v = 0
    for n in names:
        v |= 1 << from_name[n]
    return v


def own_bounding():
    with open("/proc/self/status") as f:
        return int(status_field(f.read(), "CapBnd"), 16)


@pytest.mark.parametrize("opts,want", [
    (["--cap-drop", "chown", "--cap-add", "CAP_NET_ADMIN"],
     (int(DOCKER_CAPS, 16) & ~caps_of(["chown"])) | caps_of(["net_admin"])),
    (["--cap-drop", "ALL", "--cap-add", "kill", "--cap-add", "Sys_Time"],
     caps_of(["kill", "sys_time"])),
    (["--cap-drop", "all"], 0),
    (["--cap-add", "all", "--cap-drop", "SYS_ADMIN"], None),
    (["--cap-add", "chown", "--cap-drop", "chown"], int(DOCKER_CAPS, 16)),
])
def test_cap_add_drop(env, rootfs, opts, want):
    if want is None:
        want = own_bounding() & ~caps_of(["sys_admin"])
    st = proc_status(env, rootfs, *opts)
    assert int(status_field(st, "CapEff"), 16) == want, st


@pytest.mark.parametrize("opts", [["--cap-add", "nosuch"], ["--cap-drop", "CAP_"],
                                  ["--cap-add", "cap_chown_x"]])
def test_cap_unknown(env, rootfs, opts):
    r = box(env.rt, *opts, rootfs, "true")
    assert_box_failed(env, r)
    assert "unknown capability" in r.err, r


def test_privileged(env, rootfs):
    r = box(env.rt, "--privileged", rootfs, "sh", "-c",
            "cat /proc/self/status; echo ===; wc -c < /proc/interrupts; "
            "grep ' /sys ' /proc/mounts; ls /dev")
    assert r.rc == 0 and r.err == "", r
    st, rest = r.out.split("===\n")
    assert int(status_field(st, "CapEff"), 16) == own_bounding()
    assert status_field(st, "Seccomp") == "0"
    size, sysline, *devs = rest.splitlines()
    assert int(size) > 0  # not masked
    assert " rw," in sysline, sysline
    host = {n for n in os.listdir("/dev") if n not in ("pts", "shm", "mqueue", "console", "ptmx")
            and os.path.exists(os.path.join("/dev", n))
            and (os.stat(os.path.join("/dev", n), follow_symlinks=False).st_mode & 0o170000)
            in (0o020000, 0o060000)}
    assert host <= set(devs), host - set(devs)


def test_no_new_privileges(env, rootfs):
    for opt, want in (("no-new-privileges", "1"), ("no-new-privileges=true", "1"),
                      ("no-new-privileges:true", "1"), ("no-new-privileges=false", "0")):
        st = proc_status(env, rootfs, "--security-opt", opt)
        assert status_field(st, "NoNewPrivs") == want, opt


def test_seccomp_unconfined(env, rootfs):
    st = proc_status(env, rootfs, "--security-opt", "seccomp=unconfined")
    assert status_field(st, "Seccomp") == "0"


@pytest.mark.skipif(not os.path.exists(DEFAULT_SECCOMP), reason=f"{DEFAULT_SECCOMP} missing")
def test_default_profile_blocks_what_docker_blocks(env, rootfs):
    # unshare is only allowed with CAP_SYS_ADMIN in Docker's profile.
    r = box(env.rt, rootfs, "unshare", "-u", "true")
    assert r.rc != 0 and "Operation not permitted" in r.err, r
    r = box(env.rt, "--cap-add", "SYS_ADMIN", rootfs, "unshare", "-u", "true")
    assert r.rc == 0, r


def test_seccomp_profile_file(env, rootfs):
    prof = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "includes": {"arches": ["s390x"]}},
        ],
    }
    f = os.path.join(env.base, "prof.json")
    with open(f, "w") as fh:
        json.dump(prof, fh)
    script = "mkdir /tmp/d && rmdir /tmp/d && echo ok"
    r = box(env.rt, "--security-opt", f"seccomp={f}", rootfs, "sh", "-c", script)
    assert r.rc != 0 and "Operation not permitted" in r.err, r
    r = box(env.rt, "--security-opt", f"seccomp={f}", "--cap-add", "sys_admin", rootfs,
            "sh", "-c", script)
    assert (r.rc, r.out) == (0, "ok\n"), r


@pytest.mark.parametrize("content", ["not json", '{"syscalls": [{"name": "a", "names": ["b"]}]}',
                                     '{"defaultAction": "SCMP_ACT_NOPE"}'])
def test_seccomp_profile_bad(env, rootfs, content):
    f = os.path.join(env.base, "prof.json")
    with open(f, "w") as fh:
        fh.write(content)
    r = box(env.rt, "--security-opt", f"seccomp={f}", rootfs, "true")
    assert_box_failed(env, r)
    assert f in r.err, r


def test_masked_and_readonly_paths(env, rootfs):
    r = box(env.rt, rootfs, "sh", "-c",
            "for f in /proc/interrupts /proc/keys /proc/timer_list /proc/sched_debug; do "
            "[ -e $f ] && wc -c < $f; done; ls /sys/firmware | wc -l; "
            "grep -E ' /proc/(sys|bus|fs|irq|sysrq-trigger) ' /proc/mounts | grep -vc ' ro,'")
    lines = r.out.split()
    assert all(x == "0" for x in lines), r


def test_systempaths_unconfined(env, rootfs):
    r = box(env.rt, "--security-opt", "systempaths=unconfined", rootfs, "sh", "-c",
            "wc -c < /proc/interrupts")
    assert r.rc == 0 and int(r.out) > 0, r


def test_apparmor_and_label(env, rootfs):
    r = box(env.rt, "--security-opt", "apparmor=unconfined", rootfs, "true")
    assert r.rc == 0, r
    if not os.path.exists("/sys/kernel/security/apparmor"):
        r = box(env.rt, "--security-opt", "apparmor=myprofile", rootfs, "true")
        assert_box_failed(env, r)
        assert "AppArmor is not enabled" in r.err, r
    r = box(env.rt, "--security-opt", "label=disable", rootfs, "true")
    assert_box_failed(env, r)


# --- namespaces ------------------------------------------------------------------

def test_host_namespaces(env, rootfs):
    script = "for n in pid ipc uts; do readlink /proc/self/ns/$n; done; hostname"
    r = box(env.rt, "--pid", "host", "--ipc", "host", "--uts", "host", rootfs, "sh", "-c", script)
    host = [os.readlink(f"/proc/self/ns/{n}") for n in ("pid", "ipc", "uts")]
    assert (r.rc, r.out.splitlines()) == (0, host + [os.uname().nodename]), r
    r = box(env.rt, "--pid", "private", "--ipc", "private", "--uts", "private", rootfs,
            "sh", "-c", script)
    assert r.rc == 0 and not set(r.out.splitlines()) & set(host), r
    # A process of the host is visible with --pid host only.
    r = box(env.rt, "--pid", "host", rootfs, "test", "-d", f"/proc/{os.getpid()}")
    assert r.rc == 0, r


# --- resources -------------------------------------------------------------------

def cg_read(env, rootfs, opts, v1, v2):
    path = f"/sys/fs/cgroup/{v2}" if PURE_V2 else f"/sys/fs/cgroup/{v1}"
    r = box(env.rt, *opts, rootfs, "cat", path)
    assert r.rc == 0, r
    return r.out.strip()


def need(controller):
    if PURE_V2:
        if controller not in cgroup2_controllers():
            pytest.skip(f"cgroup2 lacks {controller}")
    elif not has_v1(controller):
        pytest.skip(f"no v1 {controller} hierarchy")


def test_memory(env, rootfs):
    need("memory")
    assert cg_read(env, rootfs, ["-m", "64m"], "memory/memory.limit_in_bytes",
                   "memory.max") == str(64 << 20)
    if not PURE_V2 and os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        # Docker's default swap limit: twice the memory (memory+swap).
        assert cg_read(env, rootfs, ["-m", "64m"], "memory/memory.memsw.limit_in_bytes",
                       "") == str(128 << 20)
        assert cg_read(env, rootfs, ["-m", "64m", "--memory-swap", "100m"],
                       "memory/memory.memsw.limit_in_bytes", "") == str(100 << 20)
        assert cg_read(env, rootfs, ["-m", "64m", "--memory-swap", "-1"],
                       "memory/memory.memsw.limit_in_bytes", "") == "9223372036854771712"


def test_cpus_and_shares(env, rootfs):
    need("cpu")
    if PURE_V2:
        assert cg_read(env, rootfs, ["--cpus", "0.5"], "", "cpu.max") == "50000 100000"
    else:
        assert cg_read(env, rootfs, ["--cpus", "0.5"], "cpu/cpu.cfs_quota_us", "") == "50000"
        assert cg_read(env, rootfs, ["--cpus", "1.25"], "cpu/cpu.cfs_period_us", "") == "100000"
        assert cg_read(env, rootfs, ["-c", "512"], "cpu/cpu.shares", "") == "512"


def test_pids_limit(env, rootfs):
    need("pids")
    assert cg_read(env, rootfs, ["--pids-limit", "42"], "pids/pids.max", "pids.max") == "42"
    assert cg_read(env, rootfs, ["--pids-limit", "-1"], "pids/pids.max", "pids.max") == "max"


def test_ulimit(env, rootfs):
    r = box(env.rt, "--ulimit", "nofile=100:200", "--ulimit", "core=-1", "--ulimit", "nproc=50",
            "--ulimit", "nproc=60", rootfs, "cat", "/proc/self/limits")
    assert r.rc == 0, r
    lim = {line[:26].strip(): line[26:].split()[:2] for line in r.out.splitlines()[1:]}
    assert lim["Max open files"] == ["100", "200"]
    assert lim["Max core file size"] == ["unlimited", "unlimited"]
    assert lim["Max processes"] == ["60", "60"]


@pytest.mark.parametrize("args", [
    ["-m", "1m"], ["-m", "12x"], ["-m", "-5"], ["--memory-swap", "1g"],
    ["-m", "1g", "--memory-swap", "512m"], ["--cpus", "0.001"], ["--cpus", "100000"],
    ["--cpus", "1e3"], ["-c", "-1"], ["-c", "abc"], ["--pids-limit", "x"],
    ["--ulimit", "foo=1"], ["--ulimit", "nofile=2:1"], ["--ulimit", "nofile"],
    ["--ulimit", "nofile=a"], ["--ipc", "bogus"], ["--pid", "container:x"], ["--uts", "x"],
    ["--uts", "host", "--hostname", "h"], ["-w", "relative"],
    ["--security-opt", "bogus"], ["--security-opt", "no-new-privileges=maybe"],
    ["--security-opt", "seccomp=/nonexistent.json"],
])
def test_bad_values_leave_nothing(env, rootfs, args):
    assert_box_failed(env, box(env.rt, *args, rootfs, "true"))


def test_help_lists_options(env):
    r = env.rt.ok("box", "--help")
    for opt in ("--user", "--env-file", "--entrypoint", "--interactive", "--cap-add",
                "--cap-drop", "--privileged", "--security-opt", "--ipc", "--pid", "--uts",
                "--memory", "--memory-swap", "--cpus", "--cpu-shares", "--pids-limit", "--ulimit"):
        assert opt in r.out, opt


def test_default_profile_missing_warns(env, rootfs):
    # containers-common's profile hidden, in a mount namespace of our own.
    cmd = " ".join(env.rt.cmd("box", rootfs, "grep", "Seccomp:", "/proc/self/status"))
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        f"mount -t tmpfs none /usr/share && exec {cmd}"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    assert (p.returncode, p.stdout.split()) == (0, ["Seccomp:", "0"]), p
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and DEFAULT_SECCOMP in lines[0] and "no seccomp filter" in lines[0], p


@pytest.mark.skipif(PURE_V2 or not has_v1("devices"), reason="no v1 devices hierarchy")
def test_privileged_allows_every_device(env, rootfs):
    path = "/sys/fs/cgroup/devices/devices.list"
    r = box(env.rt, "--privileged", rootfs, "cat", path)
    assert (r.rc, r.out) == (0, "a *:* rwm\n"), r
    r = box(env.rt, rootfs, "cat", path)
    assert r.rc == 0 and "a *:* rwm" not in r.out, r
