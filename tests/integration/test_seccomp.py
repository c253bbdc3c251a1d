"""linux.seccomp and the label fields, with real containers."""
import errno
import fcntl
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import threading

import pytest

from helpers import IS_HUSK, check_failed_cleanly

SIGSYS = 31

# A profile shaped like docker's default (moby profiles/seccomp/default.json
# as the engine hands it to the runtime): errno by default, a long
# allowlist that names syscalls this libseccomp or kernel may not know, and
# argument-conditioned entries.
DOCKER_ALLOW = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter
io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap
mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync
munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat
openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx
symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
arch_prctl modify_ldt
""".split()


def docker_like_profile():
    sc = [{"names": DOCKER_ALLOW, "action": "SCMP_ACT_ALLOW"}]
    for pers in (0, 8, 131072, 131080, 4294967295):
        sc.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": pers, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]})
    sc.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]})
    sc.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                         "op": "SCMP_CMP_MASKED_EQ"}]})
    sc.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    sc.append({"names": ["some_future_syscall", "another_unknown_one"],
               "action": "SCMP_ACT_ALLOW"})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": sc}


def block(names, action="SCMP_ACT_ERRNO", **extra):
    rule = {"names": names, "action": action}
    rule.update(extra)
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]}


MKDIR = ["mkdir", "mkdirat"]


def run_with(env, profile, script, nnp=True, ok=True, user=None, bundle=None):
    b = bundle or env.bundle()
    b.config["linux"]["seccomp"] = profile
    b.config["process"]["noNewPrivileges"] = nnp
    if user is not None:
        b.config["process"]["user"] = {"uid": user, "gid": user}
    b.sh(script)
    return env.run(b, ok=ok)


@pytest.mark.parametrize("nnp", [True, False])
def test_errno_blocks_mkdir(env, nnp):
    r = run_with(env, block(MKDIR), "mkdir /tmp/x; echo rc=$?; touch /shared/y && echo touched",
                 nnp=nnp)
    assert "Operation not permitted" in r.err, r
    assert "rc=1" in r.out and "touched" in r.out, r


@pytest.mark.parametrize("nnp", [True, False])
def test_non_root_user_without_cap_sys_admin(env, nnp):
    # Without NNP the filter must be loaded before the user switch drops
    # the capabilities; with NNP it is loaded right before execve.
    r = run_with(env, block(MKDIR), "mkdir /tmp/x; id -u; grep Seccomp: /proc/self/status",
                 nnp=nnp, user=1000)
    assert "Operation not permitted" in r.err, r
    assert "1000" in r.out and "Seccomp:\t2" in r.out, r


def test_no_seccomp_means_no_filter(env):
    r = env.run_sh("grep Seccomp: /proc/self/status", bundle=env.bundle())
    assert "Seccomp:\t0" in r.out, r


def test_errno_ret(env):
    r = run_with(env, block(MKDIR, errnoRet=28), "mkdir /tmp/x; echo rc=$?")
    assert "No space left on device" in r.err, r


def test_kill_gives_sigsys(env):
    b = env.bundle().set_args("/bin/mkdir", "/tmp/x")
    b.config["linux"]["seccomp"] = block(MKDIR, "SCMP_ACT_KILL")
    r = env.run(b, ok=False)
    assert r.rc == 128 + SIGSYS, r


def test_kill_process_gives_sigsys(env):
    b = env.bundle().set_args("/bin/mkdir", "/tmp/x")
    b.config["linux"]["seccomp"] = block(MKDIR, "SCMP_ACT_KILL_PROCESS")
    r = env.run(b, ok=False)
    assert r.rc == 128 + SIGSYS, r


def test_trace_without_tracer_is_enosys(env):
    r = run_with(env, block(MKDIR, "SCMP_ACT_TRACE"), "mkdir /tmp/x; echo rc=$?")
    assert "Function not implemented" in r.err or "not implemented" in r.err, r


def test_log_allows(env):
    r = run_with(env, block(MKDIR, "SCMP_ACT_LOG"), "mkdir /shared/x && echo made")
    assert "made" in r.out, r


# runc 1.1 refuses every flag ("seccomp flags are not yet supported").
@pytest.mark.husk_only
def test_flags(env):
    prof = block(MKDIR)
    prof["flags"] = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                     "SECCOMP_FILTER_FLAG_TSYNC"]
    r = run_with(env, prof, "mkdir /tmp/x; echo rc=$?")
    assert "Operation not permitted" in r.err and "rc=1" in r.out, r


def test_default_errno_with_allowlist(env):
    prof = docker_like_profile()
    prof["defaultErrnoRet"] = 28
    prof["syscalls"][0]["names"] = [n for n in DOCKER_ALLOW if n not in MKDIR]
    r = run_with(env, prof, "mkdir /tmp/x; echo hello > /shared/f && cat /shared/f")
    assert "No space left on device" in r.err and "hello" in r.out, r


def test_argument_conditions(env):
    # personality(PER_LINUX32) blocked, personality(PER_LINUX) allowed
    prof = block(["personality"], args=[{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}])
    r = run_with(env, prof, "linux64 echo ok64; linux32 echo ok32; echo done")
    assert "ok64" in r.out and "ok32" not in r.out and "done" in r.out, r
    assert "Operation not permitted" in r.err, r


def test_docker_like_profile(env):
    r = run_with(env, docker_like_profile(),
                 "grep Seccomp: /proc/self/status; mkdir /shared/d && echo x | cat > /shared/d/f && "
                 "ls /shared/d | wc -l; linux32 true && echo pers-ok; unshare -U true || echo blocked")
    assert "Seccomp:\t2" in r.out, r
    assert "pers-ok" in r.out and "blocked" in r.out, r
    assert r.out.split().count("1") >= 1, r


@pytest.mark.husk_only
@pytest.mark.parametrize("how", ["nnp", "no_nnp", "cap_sys_admin", "kill"])
def test_start_container_hooks_run_under_the_filter(env, rt, how):
    # As with runc: startContainer hooks run in the container with its
    # filter applied, however late the filter would otherwise be loaded
    # (right before execve with NNP or CAP_SYS_ADMIN kept).
    b = env.bundle().sh("touch /shared/ran")
    b.config["linux"]["seccomp"] = block(MKDIR, "SCMP_ACT_KILL" if how == "kill" else "SCMP_ACT_ERRNO")
    b.config["process"]["noNewPrivileges"] = how in ("nnp", "kill")
    if how == "cap_sys_admin":
        for caps in b.config["process"]["capabilities"].values():
            caps.append("CAP_SYS_ADMIN")
    b.config["hooks"] = {"startContainer": [{"path": "/bin/mkdir",
                                             "args": ["mkdir", "/shared/hookdir"]}]}
    r = env.run(b, ok=False)
    assert r.rc != 0 and not os.path.isdir(b.shared_file("hookdir")), r
    assert not os.path.exists(b.shared_file("ran")), r
    if how != "kill":
        assert "Operation not permitted" in r.err, r
    if IS_HUSK:
        assert "startContainer hook #0 (/bin/mkdir): " in r.err, r


@pytest.mark.parametrize("nnp", [True, False])
def test_start_container_hooks_under_a_docker_like_profile(env, nnp):
    # Spawning and waiting for a hook works under such a filter.
    b = env.bundle().sh("cat /shared/hookran")
    b.config["hooks"] = {"startContainer": [{"path": "/bin/sh",
                                             "args": ["sh", "-c", "echo hooked > /shared/hookran"]}]}
    r = run_with(env, docker_like_profile(), "cat /shared/hookran", nnp=nnp, bundle=b)
    assert "hooked" in r.out, r


def test_restrictive_profile_without_nnp_still_starts(env):
    # Loaded before the capabilities drop, the filter also confines the
    # rest of the init: a docker-like profile must let it through.
    r = run_with(env, docker_like_profile(), "echo started", nnp=False, user=1000)
    assert "started" in r.out, r


# ---- ENOSYS for syscalls newer than the profile (as runc) ----

# Names in DOCKER_ALLOW numbered 435 (clone3) or above on x86_64: left out,
# the profile looks like one written for a 5.2 kernel (highest: pidfd_open, 434).
NEWER_THAN_5_2 = {"close_range", "openat2", "faccessat2", "epoll_pwait2", "landlock_add_rule",
                  "landlock_create_ruleset", "landlock_restrict_self", "memfd_secret",
                  "process_mrelease", "futex_waitv", "cachestat", "fchmodat2", "map_shadow_stack",
                  "futex_wake", "futex_wait", "futex_requeue"}

PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long nr = strtol(argv[i], NULL, 0);
        long r = syscall(nr, 0L, 0L, 0L, 0L, 0L, 0L);
        printf("%ld=%d\n", nr, r < 0 ? errno : 0);
    }
    return 0;
}
"""


@pytest.fixture(scope="session")
def syscall_probe(session_dir):
    """A static binary that makes raw syscalls by number (with zero
    arguments) and prints 'nr=errno' for each."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the syscall probe")
    src, out = os.path.join(session_dir, "probe.c"), os.path.join(session_dir, "probe")
    if not os.path.exists(out):
        with open(src, "w") as f:
            f.write(PROBE_C)
        r = subprocess.run(["gcc", "-static", "-O1", "-o", out, src], stderr=subprocess.PIPE,
                           universal_newlines=True)
        if r.returncode != 0:
            pytest.skip(f"cannot build a static probe: {r.stderr.strip()[:200]}")
    return out


def old_profile(default_errno=None):
    names = [n for n in DOCKER_ALLOW if n not in NEWER_THAN_5_2] + ["clone"]
    p = {"defaultAction": "SCMP_ACT_ERRNO",
         "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
         "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    if default_errno is not None:
        p["defaultErrnoRet"] = default_errno
    return p


def probe_results(out):
    return dict(line.split("=") for line in out.split() if "=" in line)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")
@pytest.mark.parametrize("nnp", [True, False])
def test_syscalls_newer_than_the_profile_get_enosys(env, syscall_probe, nnp):
    # clone3 435, openat2 437, faccessat2 439, fchmodat2 452: newer than the
    # profile, so ENOSYS (libc falls back); unshare 272 and mount 165: not
    # named but older, so the default action (EPERM).
    b = env.bundle()
    shutil.copy(syscall_probe, os.path.join(b.rootfs, "bin", "probe"))
    r = run_with(env, old_profile(), "/bin/probe 435 437 439 452 272 165 39; "
                 "mkdir /shared/d && echo made", nnp=nnp, bundle=b)
    res = probe_results(r.out)
    assert res == {"435": "38", "437": "38", "439": "38", "452": "38", "272": "1", "165": "1",
                   "39": "0"}, r
    assert "made" in r.out, r


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")
def test_allow_by_default_gets_no_enosys(env, syscall_probe):
    # An allowing default leaves new syscalls to the kernel: clone3 with a
    # NULL argument is EINVAL, unshare(0) works.
    b = env.bundle()
    shutil.copy(syscall_probe, os.path.join(b.rootfs, "bin", "probe"))
    r = run_with(env, block(MKDIR), "/bin/probe 435 272", bundle=b)
    assert probe_results(r.out) == {"435": str(errno.EINVAL), "272": "0"}, r


BAD_PROFILES = {
    "unknown-action": (
        {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["open"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]},
        'linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"'),
    "unknown-default": ({"defaultAction": "SCMP_ACT_NOPE"},
                        'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"'),
    "missing-default": ({"syscalls": []}, "linux.seccomp.defaultAction: required"),
    "unknown-arch": ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]},
                     'linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_PDP11"'),
    "unknown-op": ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]},
        'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_SOMETIMES"'),
    "bad-index": ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
        "linux.seccomp.syscalls[0].args[0].index"),
    "errno-on-allow": ({"defaultAction": "SCMP_ACT_KILL", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5}]},
        "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_ALLOW takes no errno return code"),
    "unknown-flag": ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]},
                     'linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST"'),
    "not-an-object": ("SCMP_ACT_ALLOW", "linux.seccomp: expected an object"),
    "notify-no-listener": ({"defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
                           "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath"),
    "notify-default": ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"},
                       "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is for syscalls[]"),
    "metadata-alone": ({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m"},
                       "linux.seccomp.listenerMetadata: set without listenerPath"),
    "notify-no-agent": ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
                         "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
                        "linux.seccomp.listenerPath: agent socket /nonexistent/agent.sock: "
                        "No such file or directory"),
}


# runc 1.1 takes a missing defaultAction and ignores errnoRet where the
# spec says to fail; its refusal of flags is not a validation.
RUNC_DEVIATES = ("missing-default", "errno-on-allow", "unknown-flag", "notify-no-listener",
                 "notify-default", "metadata-alone", "notify-no-agent")


@pytest.mark.parametrize("case", sorted(BAD_PROFILES))
def test_malformed_profile_fails_cleanly(env, rt, case):
    profile, msg = BAD_PROFILES[case]
    b = env.bundle().set_args("true")
    b.config["linux"]["seccomp"] = profile
    if not IS_HUSK and case in RUNC_DEVIATES:
        pytest.skip("runc 1.1 accepts this profile (or hangs on it)")
    cid, r = env.create(b, ok=False)
    check_failed_cleanly(env, rt, r)
    if IS_HUSK:
        assert f"husk: create {cid}: config.json: {msg}" in r.err, r


@pytest.mark.parametrize("field", ["apparmorProfile", "selinuxLabel", "mountLabel"])
def test_labels_without_lsm_fail_cleanly(env, rt, field):
    # Like runc: a profile or label the host cannot apply is an error, not
    # a silently unconfined container.
    if field == "apparmorProfile" and os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("host has AppArmor")
    if field != "apparmorProfile" and os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("host has SELinux")
    b = env.bundle().set_args("true")
    if field == "mountLabel":
        b.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2"
    else:
        b.config["process"][field] = ("husk-test-profile" if field == "apparmorProfile"
                                      else "system_u:system_r:container_t:s0:c1,c2")
    cid, r = env.create(b, ok=False)
    check_failed_cleanly(env, rt, r)
    if IS_HUSK:
        assert "is not enabled on this host" in r.err and field in r.err, r


def test_empty_labels_are_ignored(env):
    b = env.bundle()
    b.config["process"]["apparmorProfile"] = ""
    b.config["process"]["selinuxLabel"] = ""
    b.config["linux"]["mountLabel"] = ""
    r = env.run_sh("echo fine", bundle=b)
    assert "fine" in r.out, r


@pytest.mark.husk_only
def test_features_seccomp(rt):
    r = rt.ok("features", root=False)
    sc = json.loads(r.out)["linux"]["seccomp"]
    assert sc["enabled"] is True
    assert "SCMP_ACT_ERRNO" in sc["actions"] and "SCMP_ACT_NOTIFY" in sc["actions"]
    assert "SCMP_CMP_MASKED_EQ" in sc["operators"] and "SCMP_ARCH_X86_64" in sc["archs"]
    assert "SECCOMP_FILTER_FLAG_LOG" in sc["supportedFlags"]
    v = rt.ok("--version", root=False)
    assert "+SECCOMP" in v.out, v


# ---- SCMP_ACT_NOTIFY: a seccomp agent on listenerPath ----

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif), 80 bytes
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp), 24 bytes
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


class Agent:
    """A seccomp agent: takes each container process state and its notify
    fd from listenerPath, and answers every notified syscall with
    -reply_errno (or closes the fd at once with close_fd)."""

    def __init__(self, path, reply_errno=errno.EXDEV, close_fd=False):
        # reply_errno None: let the kernel run the syscall (FLAG_CONTINUE)
        self.path, self.reply_errno, self.close_fd = path, reply_errno, close_fd
        self.states, self.syscalls, self.stop = [], [], False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
                while True:  # the runtime closes the connection after one state
                    more = conn.recv(1 << 16)
                    if not more:
                        break
                    data += more
            self.states.append((json.loads(data), len(fds)))
            if self.close_fd:
                for fd in fds:
                    os.close(fd)
                continue
            threading.Thread(target=self._answer, args=(fds[0],), daemon=True).start()

    def _answer(self, fd):
        p = select.poll()
        p.register(fd, select.POLLIN)
        while not self.stop:
            ev = p.poll(200)
            if not ev:
                continue
            if ev[0][1] & select.POLLHUP:
                break
            req = bytearray(80)
            try:
                fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req)
            except OSError:
                continue
            nid, _pid, _flags, nr = struct.unpack_from("=QIIi", req)
            self.syscalls.append(nr)
            if self.reply_errno is None:
                resp = bytearray(struct.pack("=QqiI", nid, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE))
            else:
                resp = bytearray(struct.pack("=QqiI", nid, 0, -self.reply_errno, 0))
            try:
                fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp)
            except OSError:
                pass
        os.close(fd)

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def notify_profile(path, metadata=None):
    p = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    if metadata is not None:
        p["listenerMetadata"] = metadata
    return p


@pytest.mark.husk_only
def test_notify_agent_answers_for_the_kernel(env, rt):
    """The agent gets the spec's container process state with the notify
    fd (SCM_RIGHTS) during create, and its answer is what mkdir returns."""
    agent = Agent(os.path.join(env.base, "agent.sock"))
    try:
        b = env.bundle()
        b.config["linux"]["seccomp"] = notify_profile(agent.path, metadata="MKDIR=exdev")
        b.config["annotations"] = {"k": "v"}
        b.sh("mkdir /tmp/d; echo rc=$?; touch /shared/f && echo touched")
        cid = env.new_id()
        r = env.run(b, cid)
        assert "rc=1" in r.out and "touched" in r.out and "cross-device" in r.err, r
        assert len(agent.states) == 1, agent.states
        state, nfds = agent.states[0]
        assert nfds == 1 and state["fds"] == ["seccompFd"] and state["metadata"] == "MKDIR=exdev"
        assert state["ociVersion"] and state["pid"] == state["state"]["pid"] > 0
        assert state["state"]["id"] == cid and state["state"]["status"] == "creating"
        assert state["state"]["bundle"] == b.path and state["state"]["annotations"] == {"k": "v"}
        assert agent.syscalls, "the agent saw no notification"
    finally:
        agent.close()


@pytest.mark.husk_only
def test_notify_fd_closed_by_agent_gives_enosys(env):
    agent = Agent(os.path.join(env.base, "agent.sock"), close_fd=True)
    try:
        b = env.bundle()
        b.config["linux"]["seccomp"] = notify_profile(agent.path)
        b.config["process"]["noNewPrivileges"] = True  # the late-load path
        r = env.run_sh("mkdir /tmp/d; echo rc=$?", bundle=b)
        assert "rc=1" in r.out and "not implemented" in r.err, r
        assert len(agent.states) == 1
    finally:
        agent.close()


@pytest.mark.husk_only
def test_notify_exec_sends_its_own_state(env, rt):
    agent = Agent(os.path.join(env.base, "agent.sock"), reply_errno=errno.EROFS)
    try:
        b = env.bundle().set_args("sleep", "100")
        b.config["linux"]["seccomp"] = notify_profile(agent.path)
        cid, _ = env.create(b)
        rt.ok("start", cid)
        r = rt("exec", cid, "sh", "-c", "mkdir /tmp/e; echo rc=$?")
        assert "rc=1" in r.out and "Read-only" in r.err, r
        assert len(agent.states) == 2, agent.states
        init_state, exec_state = agent.states[0][0], agent.states[1][0]
        assert exec_state["state"]["status"] == "running"
        assert exec_state["state"]["pid"] == init_state["pid"] != exec_state["pid"]
    finally:
        agent.close()


@pytest.mark.husk_only
def test_notify_exec_into_created_container_says_created(env, rt):
    # exec works before start (as runc); the agent hears the real status
    agent = Agent(os.path.join(env.base, "agent.sock"), reply_errno=errno.EROFS)
    try:
        b = env.bundle().set_args("sleep", "100")
        b.config["linux"]["seccomp"] = notify_profile(agent.path)
        cid, _ = env.create(b)
        r = rt("exec", cid, "sh", "-c", "mkdir /tmp/e; echo rc=$?")
        assert "rc=1" in r.out, r
        assert [s[0]["state"]["status"] for s in agent.states] == ["creating", "created"]
    finally:
        agent.close()


# Syscalls the runtime itself still makes after loading the filter (early,
# before the capabilities drop, without noNewPrivileges): the listener must
# reach the agent before any of them, or the process waits on itself.
# runc 1.1.5 hangs on these.
RUNTIME_SYSCALLS = ["openat", "open", "fchdir", "chdir", "setresuid", "setresgid", "close",
                    "prctl", "capset"]


@pytest.mark.husk_only
@pytest.mark.parametrize("nnp", [True, False])
def test_notify_syscalls_of_the_runtime_itself(env, nnp):
    agent = Agent(os.path.join(env.base, "agent.sock"), reply_errno=None)
    try:
        b = env.bundle()
        prof = notify_profile(agent.path)
        prof["syscalls"][0]["names"] = RUNTIME_SYSCALLS
        b.config["linux"]["seccomp"] = prof
        b.config["process"]["noNewPrivileges"] = nnp
        b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
        b.sh("cd /tmp && cat /etc/passwd | grep -c user && id -u")
        r = env.run(b, timeout=15)
        assert r.out.split() == ["1", "1000"], r
        assert len(agent.states) == 1 and agent.syscalls, agent.states
    finally:
        agent.close()


@pytest.mark.husk_only
@pytest.mark.parametrize("nnp", [True, False])
def test_notify_syscalls_of_the_runtime_itself_exec(env, rt, nnp):
    agent = Agent(os.path.join(env.base, "agent.sock"), reply_errno=None)
    try:
        b = env.bundle().set_args("sleep", "100")
        prof = notify_profile(agent.path)
        prof["syscalls"][0]["names"] = RUNTIME_SYSCALLS
        b.config["linux"]["seccomp"] = prof
        b.config["process"]["noNewPrivileges"] = nnp
        cid, _ = env.create(b)
        rt.ok("start", cid)
        r = rt("exec", "--user", "1000:1000", "--cwd", "/tmp", cid, "sh", "-c",
               "cat /etc/passwd | grep -c user && id -u && pwd", timeout=15)
        assert r.rc == 0 and r.out.split() == ["1", "1000", "/tmp"], r
        assert len(agent.states) == 2, agent.states
    finally:
        agent.close()


# runc's --process takes no seccomp profile of its own.
@pytest.mark.husk_only
def test_exec_process_own_seccomp(env, rt):
    b = env.bundle().set_args("sleep", "100")
    b.config["linux"]["seccomp"] = block(MKDIR, errnoRet=28)
    cid, _ = env.create(b)
    rt.ok("start", cid)
    script = ["sh", "-c", "mkdir /tmp/d; echo rc=$?"]
    # The container's profile, as the state keeps it.
    r = rt.ok("exec", cid, *script)
    assert "No space left on device" in r.err and "rc=1" in r.out, r
    # --process brings its own, which replaces the container's.
    path = os.path.join(env.base, "process.json")
    with open(path, "w") as f:
        json.dump({"args": script, "cwd": "/", "env": ["PATH=/bin"],
                   "seccomp": block(MKDIR, errnoRet=61)}, f)
    r = rt.ok("exec", "--process", path, cid)
    assert "No data available" in r.err and "rc=1" in r.out, r
    # A bad one is refused before anything runs, naming the field.
    with open(path, "w") as f:
        json.dump({"args": ["touch", "/tmp/ran"], "cwd": "/",
                   "seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_MAYBE"}]}}, f)
    r = rt.fail("exec", "--process", path, cid)
    assert r.err.strip() == (f"husk: exec {cid}: --process {path}: seccomp.syscalls[0].action: "
                             'unknown action "SCMP_ACT_MAYBE"'), r
    assert rt.ok("exec", cid, "sh", "-c", "test -e /tmp/ran || echo absent").out.strip() == "absent"
