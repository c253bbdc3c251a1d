"""Terminals: a pty created inside the container and sent to a
--console-socket (received here as runc's recvtty would), and `run -t` /
`exec -t` proxying it to the caller's terminal (driven through a pty)."""
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time

import pytest

from helpers import wait_for


class ConsoleReceiver:
    """A console socket: accepts one connection and receives the pty
    master (SCM_RIGHTS), keeping the message payload."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.master = None
        self.name = None
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self):
        self.sock.settimeout(20)
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        with c:
            msg, fds, _, _ = socket.recv_fds(c, 4096, 4)
            self.name = msg
            if fds:
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)

    def wait(self, timeout=10):
        self._t.join(timeout)
        assert self.master is not None, "no pty master received"
        return self.master

    def close(self):
        self.sock.close()
        if self.master is not None:
            os.close(self.master)
            self.master = None


@pytest.fixture
def receiver(env):
    rs = []

    def make(name="console.sock"):
        r = ConsoleReceiver(os.path.join(env.base, name))
        rs.append(r)
        return r
    yield make
    for r in rs:
        r.close()


def read_until(fd, pattern, timeout=10):
    out = b""
    deadline = time.monotonic() + timeout
    while pattern not in out and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        try:
            d = os.read(fd, 4096)
        except OSError:  # EIO: the other side is gone
            break
        if not d:
            break
        out += d
    return out


def _tty_bundle(env, script, **proc):
    b = env.bundle()
    b.sh(script)
    b.config["process"]["terminal"] = True
    b.config["process"].update(proc)
    return b


def test_console_socket_tty(env, rt, receiver):
    b = _tty_bundle(env, "tty; stty size; stat -c '%t:%T %u' $(tty) /dev/console; "
                    "echo fds $(ls /proc/self/fd); echo waiting; read x; echo got-$x",
                    consoleSize={"height": 33, "width": 101})
    rcv = receiver()
    cid, _ = env.create(b, None, "--console-socket", rcv.path)
    m = rcv.wait()
    assert rcv.name == b"/dev/ptmx"
    assert os.isatty(m)
    rt.ok("start", cid)
    out = read_until(m, b"waiting", 10)
    os.write(m, b"hello\n")
    out += read_until(m, b"got-hello")
    lines = out.decode().replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/"), out
    assert lines[1] == "33 101", out
    # the slave is /dev/console too (same device)
    assert lines[2].split()[0] == lines[3].split()[0], out
    assert lines[2].startswith("88:"), out  # major 136 = 0x88: a devpts pty
    # 0-2 the pty, 3 ls' own directory, 1 of ls a pipe
    assert "fds 0 1 2 3" in lines, out
    assert "got-hello" in out.decode()
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")


def test_console_socket_slave_owned_by_user(env, rt, receiver):
    b = _tty_bundle(env, "stat -c '%u %g %a' $(tty); id -u")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    rcv = receiver()
    cid, _ = env.create(b, None, "--console-socket", rcv.path)
    m = rcv.wait()
    rt.ok("start", cid)
    out = read_until(m, b"1000\r\n1000").decode()
    first = out.replace("\r", "").splitlines()[0].split()
    assert first[0] == "1000", out
    assert first[1] == "5" and first[2] == "620", out  # tty group and mode from devpts


def test_console_socket_job_control(env, rt, receiver):
    b = _tty_bundle(env, "trap 'echo INT-caught; exit 42' INT; echo ready; "
                    "while :; do sleep 0.1; done")
    rcv = receiver()
    cid, _ = env.create(b, None, "--console-socket", rcv.path)
    m = rcv.wait()
    rt.ok("start", cid)
    assert b"ready" in read_until(m, b"ready")
    os.write(m, b"\x03")  # ^C: the line discipline sends SIGINT to the foreground group
    assert b"INT-caught" in read_until(m, b"INT-caught")
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")


@pytest.mark.husk_only  # runc refuses --console-socket without --detach
def test_run_console_socket_foreground(env, rt, receiver):
    b = _tty_bundle(env, "read x; exit $x")
    b.write()
    rcv = receiver()
    p = subprocess.Popen(rt.cmd("run", "--console-socket", rcv.path, "--bundle", b.path,
                                env.new_id()), stdin=subprocess.DEVNULL)
    try:
        m = rcv.wait()
        os.write(m, b"42\n")
        assert p.wait(10) == 42
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_exec_tty_console_socket(env, rt, receiver):
    b = env.bundle().set_args("sleep", "1000")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    rcv = receiver()
    rt.ok("exec", "-t", "-d", "--console-socket", rcv.path, "--pid-file", "p", cid,
          "sh", "-c", "tty; ls -1 /proc/$$/fd; echo done; sleep 1")
    m = rcv.wait()
    out = read_until(m, b"done").decode().replace("\r", "")
    lines = out.splitlines()
    assert lines[0].startswith("/dev/pts/"), out
    pid = int(open(os.path.join(rt.workdir, "p")).read())
    try:
        os.waitpid(pid, 0)  # reparented to us, the subreaper
    except ChildProcessError:
        pass
    # the shell's fds, listed by its child ls
    assert lines[1:5] == ["0", "1", "2", "done"], out


@pytest.mark.husk_only  # error texts
def test_terminal_errors_leave_nothing(env, rt, receiver):
    b = _tty_bundle(env, "true")
    cid, r = env.create(b, ok=False)
    assert r.rc != 0 and "console socket" in r.err, r
    r = env.run(b, None, "-d", ok=False)
    assert r.rc != 0 and "console socket" in r.err, r
    r = env.run(b, None, "--console-socket", os.path.join(env.base, "nosuch.sock"), ok=False)
    assert r.rc != 0 and "nosuch.sock" in r.err and len(r.err.strip().splitlines()) == 1, r
    plain = env.bundle().set_args("true")
    rcv = receiver()
    r = env.run(plain, None, "--console-socket", rcv.path, ok=False)
    assert r.rc != 0 and "tty" in r.err, r
    running = env.bundle().set_args("sleep", "100")
    rcid, _ = env.create(running)
    rt.ok("start", rcid)
    r = rt.fail("exec", "-t", "-d", rcid, "true")
    assert "console socket" in r.err, r
    r = rt.fail("exec", "--console-socket", rcv.path, rcid, "true")
    assert "tty" in r.err, r
    assert rt.ids() == [rcid]


class PtyCaller:
    """Runs the runtime with a pty of ours as its stdio, like a user at a
    terminal."""

    def __init__(self, argv, rows=40, cols=120):
        self.m, self.s = os.openpty()
        self.winsize(rows, cols)
        self.attrs = termios.tcgetattr(self.s)
        self.p = subprocess.Popen(argv, stdin=self.s, stdout=self.s, stderr=self.s,
                                  start_new_session=True)

    def winsize(self, rows, cols):
        fcntl.ioctl(self.s, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def send(self, data):
        os.write(self.m, data)

    def expect(self, pattern, timeout=10):
        out = read_until(self.m, pattern, timeout)
        assert pattern in out, out
        return out

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self.m)
        os.close(self.s)


def _interactive(pc):
    """The container's shell through our pty: size, resize, ^C, exit."""
    pc.send(b"stty size; tty\n")
    out = pc.expect(b"/dev/pts/")
    assert b"40 120" in out, out
    pc.winsize(50, 132)
    pc.p.send_signal(signal.SIGWINCH)
    time.sleep(0.2)
    pc.send(b"stty size\n")
    pc.expect(b"50 132")
    pc.send(b"trap 'echo INT-caught' INT; sleep 10; echo after-sleep\n")
    time.sleep(0.3)
    pc.send(b"\x03")
    out = pc.expect(b"after-sleep", timeout=5)
    assert b"INT-caught" in out, out
    pc.send(b"exit 9\n")
    assert pc.p.wait(10) == 9
    # our terminal is back in its own mode (husk made it raw meanwhile)
    assert termios.tcgetattr(pc.s) == pc.attrs


def test_run_tty_proxy(env, rt):
    b = _tty_bundle(env, "echo hello-from-tty; exec sh")
    b.write()
    pc = PtyCaller(rt.cmd("run", "--bundle", b.path, env.new_id()))
    try:
        pc.expect(b"hello-from-tty")
        _interactive(pc)
    finally:
        pc.close()


def test_exec_tty_proxy(env, rt):
    b = env.bundle().set_args("sleep", "1000")
    cid, _ = env.create(b)
    rt.ok("start", cid)
    pc = PtyCaller(rt.cmd("exec", "-t", cid, "sh"))
    try:
        _interactive(pc)
    finally:
        pc.close()


def test_run_tty_large_output(env, rt):
    """Everything the process writes reaches us before run returns."""
    b = _tty_bundle(env, "seq 1 20000; echo the-end")
    b.write()
    pc = PtyCaller(rt.cmd("run", "--bundle", b.path, env.new_id()))
    try:
        out = b""
        deadline = time.monotonic() + 20
        while pc.p.poll() is None or select.select([pc.m], [], [], 0.2)[0]:
            if time.monotonic() > deadline:
                break
            if select.select([pc.m], [], [], 0.1)[0]:
                out += os.read(pc.m, 65536)
        assert pc.p.wait(10) == 0
        lines = out.replace(b"\r", b"").split(b"\n")
        assert b"20000" in lines and b"the-end" in lines, out[-200:]
    finally:
        pc.close()


def test_host_files_keep_their_owner(env, rt):
    """husk never chowns the caller's stdio (runc chowns it to the
    container's user): not /dev/null, not a file of ours."""
    b = env.bundle().sh("echo out; id -u")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.write()
    before = os.stat("/dev/null")
    outf = os.path.join(env.base, "owned-by-4321")
    with open(outf, "w") as f:
        os.fchown(f.fileno(), 4321, 4321)
        os.fchmod(f.fileno(), 0o600)
        with open("/dev/null") as devnull:
            r = subprocess.run(rt.cmd("run", "--bundle", b.path, env.new_id()), stdin=devnull,
                               stdout=f, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    after = os.stat("/dev/null")
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid,
                                                           before.st_mode)
    st = os.stat(outf)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4321, 4321, 0o600)
    assert open(outf).read() == "out\n1000\n"
