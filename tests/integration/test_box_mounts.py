"""husk box's engine default mounts (generated /etc/resolv.conf, /etc/hostname
and /etc/hosts, /dev/shm, /dev/mqueue, /dev/console) and the user's mounts in
Docker's syntax (-v, --mount, --tmpfs)."""
import errno
import os
import select
import shutil
import socket
import stat
import subprocess
import time

import pytest

from helpers import assert_box_failed, mounts_under, wait_for

pytestmark = pytest.mark.husk_only

DOCKER_HOSTS = ("127.0.0.1\tlocalhost\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\n"
                "ff00::0\tip6-mcastprefix\n"
                "ff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n")
ETC = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")



def box(rt, *args, **kw):
    return rt("box", *args, **kw)


def ok(rt, *args, **kw):
    r = box(rt, *args, **kw)
    assert r.rc == 0, r
    return r



def proc_mounts(out):
    """{mountpoint: (fstype, options set)} of /proc/mounts lines in out."""
    res = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 6:
            res[f[1]] = (f[2], set(f[3].split(",")))
    return res


def host_file(path):
    with open(path) as f:
        return f.read()


# A fake host /etc/resolv.conf (and systemd-resolved's upstream file): husk
# runs in a private mount namespace where they are bound over the host's.
WRAPPER = """#!/bin/sh
exec unshare -m --propagation private sh -c '
mount --bind {fake} /etc/resolv.conf || exit 99
if [ -e {resolved} ]; then
  mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/resolve &&
  cp {resolved} /run/systemd/resolve/resolv.conf || exit 99
fi
exec "$0" "$@"' {husk} "$@"
"""


@pytest.fixture
def fake_resolv(env):
    """Returns set(text, resolved=None): husk then sees text as the host's
    /etc/resolv.conf (and resolved as systemd-resolved's)."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1)")
    real = env.rt.binary
    fake = os.path.join(env.base, "host-resolv.conf")
    resolved = os.path.join(env.base, "resolved-resolv.conf")
    w = os.path.join(env.base, "husk-fake-resolv")
    with open(w, "w") as f:
        f.write(WRAPPER.format(fake=fake, resolved=resolved, husk=real))
    os.chmod(w, stat.S_IRWXU)

    def set_(text, resolved_text=None):
        with open(fake, "w") as f:
            f.write(text)
        if resolved_text is not None:
            with open(resolved, "w") as f:
                f.write(resolved_text)
        env.rt.binary = w
    return set_


def cat_resolv(env, rootfs, *args):
    return ok(env.rt, *args, rootfs, "cat", "/etc/resolv.conf").out


# --- /etc/resolv.conf -------------------------------------------------------------

HOST_RC = ("# the host's\n"
           "search host.example\n"
           "nameserver 127.0.0.53\n"
           "nameserver 10.1.2.3\n"
           "nameserver ::1\n"
           "nameserver 127.1.2.3\n"
           "nameserver fd00::1\n"
           "options ndots:3 timeout:1\n")


def test_resolv_conf_drops_localhost(env, rootfs, fake_resolv):
    fake_resolv(HOST_RC)
    assert cat_resolv(env, rootfs) == ("# the host's\n"
                                       "search host.example\n"
                                       "nameserver 10.1.2.3\n"
                                       "nameserver fd00::1\n"
                                       "options ndots:3 timeout:1\n")


def test_resolv_conf_host_net_keeps_all(env, rootfs, fake_resolv):
    fake_resolv(HOST_RC)
    assert cat_resolv(env, rootfs, "--net", "host") == HOST_RC


def test_resolv_conf_only_localhost_falls_back(env, rootfs, fake_resolv):
    fake_resolv("nameserver 127.0.0.1\nnameserver ::1\noptions edns0\n")
    assert cat_resolv(env, rootfs) == ("options edns0\n"
                                       "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
    assert cat_resolv(env, rootfs, "--net", "host") == \
        "nameserver 127.0.0.1\nnameserver ::1\noptions edns0\n"


def test_resolv_conf_systemd_resolved_stub(env, rootfs, fake_resolv):
    """Only systemd-resolved's stub on the host: its upstream servers."""
    fake_resolv("nameserver 127.0.0.53\nsearch lan\n", "nameserver 192.0.2.1\nsearch lan\n")
    assert cat_resolv(env, rootfs) == "nameserver 192.0.2.1\nsearch lan\n"


def test_resolv_conf_dns_options(env, rootfs, fake_resolv):
    fake_resolv(HOST_RC)
    assert cat_resolv(env, rootfs, "--dns", "1.1.1.1", "--dns", "2606:4700::1111") == (
        "nameserver 1.1.1.1\nnameserver 2606:4700::1111\n"
        "search host.example\noptions ndots:3 timeout:1\n")
    assert cat_resolv(env, rootfs, "--dns-search", "a.example", "--dns-search", "b") == (
        "nameserver 10.1.2.3\nnameserver fd00::1\n"
        "search a.example b\noptions ndots:3 timeout:1\n")
    assert cat_resolv(env, rootfs, "--dns-option", "ndots:1", "--dns-option", "rotate") == (
        "nameserver 10.1.2.3\nnameserver fd00::1\n"
        "search host.example\noptions ndots:1 rotate\n")
    assert cat_resolv(env, rootfs, "--dns-search", ".") == (
        "nameserver 10.1.2.3\nnameserver fd00::1\noptions ndots:3 timeout:1\n")


def test_resolv_conf_from_real_host(env, rootfs):
    """The host's own file: as it is with --net host, its localhost
    nameservers dropped without."""
    host = host_file("/etc/resolv.conf")
    assert cat_resolv(env, rootfs, "--net", "host") == host
    lines = host.splitlines(keepends=True)
    local = [l for l in lines if l.split()[:1] == ["nameserver"] and
             (l.split()[1].startswith("127.") or l.split()[1] == "::1")]
    if local:
        pytest.skip("the host has localhost nameservers (covered with a fake host file)")
    assert cat_resolv(env, rootfs) == host


# --- /etc/hostname and /etc/hosts ---------------------------------------------------

def test_hostname_default_is_id_prefix(env, rootfs):
    r = ok(env.rt, "--name", "abcdefghijklmnop", rootfs, "sh", "-c",
           "hostname; cat /etc/hostname /etc/hosts")
    assert r.out == "abcdefghijkl\nabcdefghijkl\n" + DOCKER_HOSTS + "127.0.0.1\tabcdefghijkl\n"


def test_hostname_and_add_host(env, rootfs):
    r = ok(env.rt, "--hostname", "web-1.example", "--add-host", "db:10.0.0.5",
           "--add-host", "v6:[fd00::5]", "--add-host", "alt=192.0.2.9", "--add-host",
           "raw6:fd00::6", rootfs, "sh", "-c", "hostname; cat /etc/hostname /etc/hosts")
    assert r.out == ("web-1.example\nweb-1.example\n" + DOCKER_HOSTS +
                     "10.0.0.5\tdb\nfd00::5\tv6\n192.0.2.9\talt\nfd00::6\traw6\n"
                     "127.0.0.1\tweb-1.example\n")


def test_net_host_hosts_and_hostname(env, rootfs):
    r = ok(env.rt, "--net", "host", "--add-host", "db:10.0.0.5", rootfs, "sh", "-c",
           "hostname; cat /etc/hostname; echo ---; cat /etc/hosts")
    host = host_file("/etc/hosts")
    if host and not host.endswith("\n"):
        host += "\n"
    name = socket.gethostname()
    assert r.out == f"{name}\n{name}\n---\n{host}10.0.0.5\tdb\n"
    r = ok(env.rt, "--net", "host", "--hostname", "mine", rootfs, "sh", "-c",
           "hostname; cat /etc/hostname")
    assert r.out == "mine\nmine\n"


def test_uts_host_hostname(env, rootfs):
    """--uts host: the host's hostname, which --hostname may not change."""
    r = box(env.rt, "--uts", "host", rootfs, "sh", "-c", "hostname; cat /etc/hostname")
    if r.rc == 125 and "not supported yet" in r.err:
        pytest.skip("--uts is not built yet")
    name = socket.gethostname()
    assert (r.rc, r.out) == (0, f"{name}\n{name}\n"), r
    r = box(env.rt, "--uts", "host", "--hostname", "x", rootfs, "true")
    assert_box_failed(env, r)
    assert "--hostname: cannot be set with --uts host" in r.err, r


def test_etc_files_writable_and_in_state_dir(env, rootfs):
    before = sorted(os.listdir(os.path.join(rootfs, "etc")))
    ok(env.rt, "-d", "--name", "bxetc", rootfs, "sleep", "100")
    state = os.path.join(env.rt.root, "bxetc")
    for f in ETC:
        r = env.rt("exec", "bxetc", "sh", "-c", f"cat {f}")
        assert r.rc == 0 and r.out == host_file(os.path.join(state, os.path.basename(f))), r
    r = env.rt("exec", "bxetc", "sh", "-c", "echo 1.2.3.4 x >> /etc/hosts")
    assert r.rc == 0, r
    assert host_file(os.path.join(state, "hosts")).endswith("1.2.3.4 x\n")
    env.rt.ok("kill", "bxetc", "KILL")
    wait_for(lambda: env.rt.state("bxetc")["status"] == "stopped")
    env.rt.ok("delete", "bxetc")
    assert not os.path.exists(state)
    assert sorted(os.listdir(os.path.join(rootfs, "etc"))) == before
    assert env.rt.ids() == [] and not mounts_under(env.base)


def test_read_only_makes_etc_files_read_only(env, rootfs):
    script = "; ".join(f"(echo x >> {f}) 2>/dev/null && echo {f}:writable" for f in ETC)
    r = ok(env.rt, rootfs, "sh", "-c", script)
    assert r.out.split() == [f"{f}:writable" for f in ETC]
    r = ok(env.rt, "--read-only", rootfs, "sh", "-c",
           script + "; grep -E ' /etc/(resolv.conf|hostname|hosts) ' /proc/mounts")
    assert "writable" not in r.out, r
    m = proc_mounts(r.out)
    assert all("ro" in m[f][1] for f in ETC), r
    r = box(env.rt, "--read-only", rootfs, "sh", "-c", "echo x > /etc/hosts")
    assert r.rc != 0 and os.strerror(errno.EROFS) in r.err, r


# --- /dev/shm, /dev/mqueue -------------------------------------------------------------

@pytest.mark.parametrize("size,kib", [(None, 65536), ("128m", 131072), ("1G", 1048576),
                                      ("2097152", 2048), ("512kb", 512)])
def test_shm_size(env, rootfs, size, kib):
    args = ["--shm-size", size] if size else []
    r = ok(env.rt, *args, rootfs, "sh", "-c", "df -k /dev/shm; grep ' /dev/shm ' /proc/mounts")
    lines = r.out.splitlines()
    assert lines[1].split()[1] == str(kib), r
    fstype, opts = proc_mounts(r.out)["/dev/shm"]
    assert fstype == "tmpfs" and {"nosuid", "nodev", "noexec"} <= opts, r


def test_shm_stays_writable_with_read_only(env, rootfs):
    r = ok(env.rt, "--read-only", rootfs, "sh", "-c", "echo x > /dev/shm/f && cat /dev/shm/f")
    assert r.out == "x\n"


def test_ipc_host_shares_host_shm(env, rootfs):
    name = f"husk-test-{os.getpid()}-{time.monotonic_ns()}"
    path = os.path.join("/dev/shm", name)
    with open(path, "w") as f:
        f.write("from-host\n")
    try:
        r = box(env.rt, "--ipc", "host", rootfs, "cat", f"/dev/shm/{name}")
        if r.rc == 125 and "not supported yet" in r.err:
            pytest.skip("--ipc is not built yet")
        assert (r.rc, r.out) == (0, "from-host\n"), r
    finally:
        os.unlink(path)
    r = ok(env.rt, rootfs, "ls", "/dev/shm")
    assert name not in r.out
    # /dev/mqueue stays, the host IPC namespace's instance
    r = ok(env.rt, "--ipc", "host", rootfs, "grep", " /dev/mqueue ", "/proc/mounts")
    assert proc_mounts(r.out)["/dev/mqueue"][0] == "mqueue", r


def test_mqueue_mounted(env, rootfs):
    r = ok(env.rt, rootfs, "grep", " /dev/mqueue ", "/proc/mounts")
    assert proc_mounts(r.out)["/dev/mqueue"][0] == "mqueue", r


# --- /dev/console with -t -----------------------------------------------------------

def test_console_is_the_tty(env, rootfs):
    m, s = os.openpty()
    script = ("stat -c '%u %t:%T' /dev/console; stat -L -c '%t:%T' $(tty); id -u; "
              "grep ' /dev/console ' /proc/mounts | cut -d' ' -f3")
    p = subprocess.Popen(env.rt.cmd("box", "-t", rootfs, "sh", "-c", script),
                         stdin=s, stdout=s, stderr=s, start_new_session=True)
    os.close(s)
    out = b""
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not select.select([m], [], [], 0.2)[0]:
                if p.poll() is not None:
                    break
                continue
            try:
                d = os.read(m, 4096)
            except OSError:
                break
            if not d:
                break
            out += d
        assert p.wait(10) == 0, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(m)
    lines = out.decode().replace("\r", "").split("\n")
    owner, console_dev = lines[0].split()
    assert console_dev == lines[1], out        # the same device as the process's tty
    assert int(console_dev.split(":")[0], 16) == 0x88, out  # a devpts pty
    assert owner == lines[2], out              # owned by the process's user
    assert lines[3] == "devpts", out


# --- the user's mounts ---------------------------------------------------------------

def test_volume_options(env, rootfs):
    src = os.path.join(env.base, "vol")
    os.mkdir(src)
    r = ok(env.rt, "-v", f"{src}:/rw", "-v", f"{src}:/ro:ro", "-v", f"{src}:/z:z,rw",
           "-v", f"{src}:/zro:ro,Z", rootfs, "sh", "-c",
           "grep -E ' /(rw|ro|z|zro) ' /proc/mounts; echo a > /rw/a; echo b > /z/b;"
           "(echo c > /ro/c) 2>/dev/null || echo ro-refused;"
           "(echo d > /zro/d) 2>/dev/null || echo zro-refused")
    m = proc_mounts(r.out)
    assert "rw" in m["/rw"][1] and "rw" in m["/z"][1], r
    assert "ro" in m["/ro"][1] and "ro" in m["/zro"][1], r
    assert "ro-refused" in r.out and "zro-refused" in r.out, r
    assert sorted(os.listdir(src)) == ["a", "b"]


def test_volume_propagation(env, rootfs):
    """A shared scratch mount as source: rslave makes a slave of it (a
    master: tag), the default rprivate does not."""
    src = os.path.join(env.base, "vol")
    os.mkdir(src)
    subprocess.run(["mount", "--bind", src, src], check=True)
    try:
        subprocess.run(["mount", "--make-shared", src], check=True)
        r = ok(env.rt, "-v", f"{src}:/s:rslave", "-v", f"{src}:/p", rootfs, "sh", "-c",
               "grep -E ' /(s|p) ' /proc/self/mountinfo")
    finally:
        subprocess.run(["umount", "-l", src], check=True)
    fields = {l.split()[4]: l.split(" - ")[0].split()[6:] for l in r.out.splitlines()}
    assert any(f.startswith("master:") for f in fields["/s"]), r
    assert fields["/p"] == [], r  # private: no shared or master tag


def test_tmpfs_defaults_and_options(env, rootfs):
    r = ok(env.rt, "--tmpfs", "/t1", "--tmpfs", "/t2:size=1m,mode=700,exec,uid=1000", rootfs,
           "sh", "-c", "grep -E ' /t[12] ' /proc/mounts; stat -c '%a %u' /t2")
    m = proc_mounts(r.out)
    assert m["/t1"][0] == "tmpfs" and {"noexec", "nosuid", "nodev"} <= m["/t1"][1], r
    t2 = m["/t2"][1]
    assert {"size=1024k", "mode=700", "nosuid", "nodev", "uid=1000"} <= t2, r
    assert "noexec" not in t2, r
    assert r.out.splitlines()[-1] == "700 1000", r


def test_mount_bind_variants(env, rootfs):
    src = os.path.join(env.base, "vol")
    os.mkdir(src)
    subprocess.run(["mount", "--bind", src, src], check=True)
    try:
        subprocess.run(["mount", "--make-shared", src], check=True)
        r = ok(env.rt,
               "--mount", f"type=bind,source={src},destination=/a",
               "--mount", f"type=bind,src={src},dst=/b,readonly",
               "--mount", f"type=bind,src={src},target=/c,ro=true,bind-propagation=rslave",
               "--mount", f"type=bind,src={src},dst=/d,readonly=false",
               rootfs, "sh", "-c", "grep -E ' /[abcd] ' /proc/self/mountinfo")
    finally:
        subprocess.run(["umount", "-l", src], check=True)
    info = {l.split()[4]: l for l in r.out.splitlines()}
    assert set(info) == {"/a", "/b", "/c", "/d"}, r
    opts = {k: set(v.split()[5].split(",")) for k, v in info.items()}
    assert "rw" in opts["/a"] and "ro" in opts["/b"] and "ro" in opts["/c"], r
    assert "rw" in opts["/d"], r
    assert "master:" in info["/c"] and "master:" not in info["/a"], r


def test_mount_tmpfs(env, rootfs):
    r = ok(env.rt, "--mount", "type=tmpfs,destination=/t,tmpfs-size=2m,tmpfs-mode=1770",
           "--mount", "type=tmpfs,dst=/r,readonly", rootfs, "sh", "-c",
           "grep -E ' /(t|r) ' /proc/mounts; stat -c %a /t")
    m = proc_mounts(r.out)
    assert {"size=2048k", "mode=1770", "noexec", "nosuid", "nodev"} <= m["/t"][1], r
    assert "ro" in m["/r"][1], r
    assert r.out.splitlines()[-1] == "1770", r


@pytest.mark.parametrize("dst,how", [(d, h) for d in ETC + ("/dev/shm", "/dev/mqueue")
                                      for h in ("volume", "mount", "tmpfs")
                                      if not (h == "tmpfs" and d.startswith("/etc/"))])
def test_user_mount_replaces_default(env, rootfs, dst, how):
    src = os.path.join(env.base, "user-src")
    if dst.startswith("/etc/"):
        with open(src, "w") as f:
            f.write("from-user\n")
    else:
        os.mkdir(src)
        with open(os.path.join(src, "marker"), "w") as f:
            f.write("from-user\n")
    args = {"volume": ["-v", f"{src}:{dst}"],
            "mount": ["--mount", f"type=bind,src={src},dst={dst}"],
            "tmpfs": ["--tmpfs", f"{dst}:size=1m"]}[how]
    r = ok(env.rt, *args, rootfs, "sh", "-c",
           f"grep -c ' {dst} ' /proc/mounts; grep ' {dst} ' /proc/mounts; "
           f"cat {dst} {dst}/marker 2>/dev/null; true")
    lines = r.out.splitlines()
    assert lines[0] == "1", r  # one mount there: the default is not mounted at all
    fstype, opts = proc_mounts(lines[1])[dst]
    if how == "tmpfs":
        assert fstype == "tmpfs" and "size=1024k" in opts, r
    else:
        assert lines[2] == "from-user", r


def test_generated_files_go_over_a_volume_on_etc(env, rootfs):
    """Mounts are made parents first: a volume on /etc gets the generated
    files on top, as Docker does."""
    src = os.path.join(env.base, "etcdir")
    os.mkdir(src)
    for n in ("hosts", "hostname", "resolv.conf", "other"):
        with open(os.path.join(src, n), "w") as f:
            f.write("from-user\n")
    r = ok(env.rt, "-v", f"{src}:/etc", "--hostname", "hh", rootfs, "sh", "-c",
           "cat /etc/other /etc/hostname")
    assert r.out == "from-user\nhh\n", r


def test_ipc_shm_user_mount(env, rootfs):
    """--shm-size and a user's /dev/shm: the user's wins."""
    r = ok(env.rt, "--shm-size", "1g", "--tmpfs", "/dev/shm:size=3m", rootfs,
           "df", "-k", "/dev/shm")
    assert r.out.splitlines()[1].split()[1] == "3072", r


# --- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--mount", "type=bind,src=/tmp,dst=/x,bogus=1"],
    ["--mount", "type=bind,src=/tmp"],
    ["--mount", "type=bind,dst=/x"],
    ["--mount", "type=bind,src=relative,dst=/x"],
    ["--mount", "type=bind,src=/nonexistent-husk,dst=/x"],
    ["--mount", "type=volume,src=v,dst=/x"],
    ["--mount", "src=/tmp,dst=/x"],
    ["--mount", "type=bind,src=/tmp,dst=relative"],
    ["--mount", "type=bind,src=/tmp,dst=/x,readonly=maybe"],
    ["--mount", "type=bind,src=/tmp,dst=/x,bind-propagation=sideways"],
    ["--mount", "type=bind,src=/tmp,dst=/x,tmpfs-size=1m"],
    ["--mount", "type=tmpfs,src=/tmp,dst=/x"],
    ["--mount", "type=tmpfs,dst=/x,tmpfs-size=0"],
    ["--mount", "type=tmpfs,dst=/x,tmpfs-mode=999"],
    ["--tmpfs", "relative"],
    ["--tmpfs", "/x:bogus"],
    ["--tmpfs", "/x:size=lots"],
    ["--tmpfs", "/x:mode=rwx"],
    ["--tmpfs", "/x", "--tmpfs", "/x/"],
    ["-v", "/tmp:/x:rq"],
    ["-v", "/nonexistent-husk:/x"],
    ["-v", "/tmp:/"],
    ["--shm-size", "0"],
    ["--shm-size", "-1"],
    ["--shm-size", "64q"],
    ["--shm-size", "m"],
    ["--shm-size", "99999999999999999999g"],
    ["--dns", "1.2.3"],
    ["--dns", "dns.example"],
    ["--dns-search", "a b"],
    ["--add-host", "nocolon"],
    ["--add-host", ":1.2.3.4"],
    ["--add-host", "x:1.2.3.400"],
    ["--add-host", "x:host-gateway"],
    ["--hostname", "-leading"],
    ["--hostname", "under_score"],
    ["--hostname", "a" * 65],
    ["--hostname", "x." + "a" * 64],
    ["--hostname", "dot..dot"],
])
def test_bad_input_leaves_nothing(env, rootfs, args):
    assert_box_failed(env, box(env.rt, *args, rootfs, "true"))
