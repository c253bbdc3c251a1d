"""husk box IMAGE: images of the store run with the overlay and the vfs
storage drivers (the two roots compared entry by entry), the image config
as the defaults and the options over it, the image's use recorded while
a container lives, the layers never written, bad input leaving nothing."""
import hashlib
import json
import os
import stat
import subprocess

import pytest

from helpers import assert_box_failed, mounts_under, wait_for
from images import Image, Layer, busybox_layer
from test_box_rootless import user  # noqa: F401 (a fixture)
from test_image import check_rootfs, feature_layer, layer_dir

pytestmark = pytest.mark.husk_only

APPLETS = ("sh", "ls", "cat", "echo", "stat", "id", "test", "readlink", "true", "pwd", "env",
           "find", "sort", "md5sum", "sleep", "touch", "rm", "mkdir", "chmod", "ln", "mv",
           "xargs", "printf", "wc")

# Every entry of the root as the container sees it: path, type, mode, owner,
# size, link count (not for directories: overlayfs shows 1 for a merged
# one) and, for regular files, the content's md5.  The generated and
# mounted files are the engine's, not the image's.
LISTING = r"""
find / -xdev | sort | while read -r p; do
  case "$p" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/etc/hosts|/etc/hostname|/etc/resolv.conf) continue;; esac
  t=$(stat -c '%F %a %u %g' "$p")
  if [ -d "$p" ] && [ ! -L "$p" ]; then echo "$p $t"; continue; fi
  h=$(stat -c '%h %s' "$p")
  if [ -f "$p" ] && [ ! -L "$p" ]; then m=$(md5sum < "$p"); else m=$(readlink "$p"); fi
  echo "$p $t $h $m"
done
"""


@pytest.fixture
def store(env):
    return os.path.join(env.base, "store")


def base_layer():
    return (busybox_layer(applets=APPLETS).file("etc/removeme", b"gone\n")
            .dir("opq").file("opq/old", b"old\n").dir("opq/olddir").file("opq/olddir/x", b"x")
            .file("bin/notexec", b"data\n", mode=0o644)
            .file("bin/hidden", b"#!/bin/sh\n", mode=0o755))


def top_layer():
    """Layer 3: a whiteout of a lower program, a symlink to a lower file,
    a user added to a replaced /etc/passwd, a sparse-ish large file."""
    return (Layer(mtime=1650000000)
            .whiteout("bin/hidden")
            .dir("usr").dir("usr/bin").symlink("usr/bin/head", "../../bin/busybox")
            .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
                  b"late:x:1234:50::/:/bin/sh\n")
            .file("etc/motd", b"motd\n")
            .file("big", b"\0" * (1 << 20) + b"end\n"))


def make_image(**config):
    cfg = {"Cmd": ["cat", "/etc/motd"], "Env": ["FOO=bar", "PATH=/bin"], "WorkingDir": "/data"}
    cfg.update(config)
    return Image([base_layer(), feature_layer(), top_layer()], config=cfg)


def import_image(env, store, img, name):
    src = img.write_oci_dir(os.path.join(env.base, "src-" + name.replace(":", "_")))
    r = env.rt("image", "import", "--storage-root", store, src, "--name", name)
    assert r.rc == 0, r
    return img


@pytest.fixture
def image(env, store):
    return import_image(env, store, make_image(), "test:1")


def box(env, store, *args, **kw):
    return env.rt("box", "--storage-root", store, *args, **kw)


def users(store, img):
    d = os.path.join(store, "images", img.id, "users")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def tree_state(root):
    """Everything about the tree below root: per path the lstat fields,
    xattrs, link target and content hash."""
    out = {}
    for dp, dns, fns in os.walk(root):
        for n in sorted(dns + fns):
            p = os.path.join(dp, n)
            st = os.lstat(p)
            xa = {k: os.getxattr(p, k, follow_symlinks=False) for k in
                  os.listxattr(p, follow_symlinks=False)}
            extra = None
            if stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    extra = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                             st.st_mtime_ns, st.st_nlink, st.st_rdev, xa, extra)
    return out


def layers_state(store, img):
    return {i: tree_state(layer_dir(store, img, i)) for i in range(len(img.tars))}


def host_view(root):
    """(type+mode, uid, gid, size, hash, xattrs, nlink for non-dirs) by
    path, from the host, below root, skipping the engine's mounts."""
    out = {}
    for dp, dns, fns in os.walk(root):
        if dp == root:
            dns[:] = [d for d in dns if d not in ("proc", "sys", "dev")]
        for n in dns + fns:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            if rel in ("etc/hosts", "etc/hostname", "etc/resolv.conf"):
                continue
            st = os.lstat(p)
            xa = {k: os.getxattr(p, k, follow_symlinks=False)
                  for k in os.listxattr(p, follow_symlinks=False) if not k.startswith("trusted.overlay.")}
            h = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    h = hashlib.md5(f.read()).hexdigest()
            nl = None if stat.S_ISDIR(st.st_mode) else st.st_nlink
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, h, xa, nl)
    return out


def init_pid(env, cid):
    return json.loads(env.rt.ok("state", cid).out)["pid"]


def test_overlay_and_vfs_roots_match(env, store, image):
    """The same image through both drivers: the same tree, entry by entry,
    as the container sees it, with the layers' features applied."""
    out = {}
    for drv in ("overlay", "vfs"):
        r = box(env, store, "--storage", drv, "test:1", "sh", "-c", LISTING)
        assert r.rc == 0 and r.err == "", r
        out[drv] = r.out.splitlines()
    assert out["overlay"] == out["vfs"]
    lines = {ln.split()[0]: ln.split()[1:] for ln in out["vfs"]}
    assert "/etc/removeme" not in lines and "/bin/hidden" not in lines     # whiteouts
    assert "/opq/old" not in lines and "/opq/olddir" not in lines and "/opq/new" in lines
    assert lines["/data/file"][:5] == ["regular", "file", "644", "1000", "50"]
    assert lines["/data/file"][5] == "2" and lines["/data/link"][5] == "2"  # hard link
    assert lines["/bin/suid"][2] == "4755" and lines["/bin/sgid"][2:5] == ["2755", "0", "50"]
    assert lines["/data/fifo"][:3] == ["fifo", "640", "0"]
    assert lines["/data/sym"][-1] == "file" and lines["/usr/bin/head"][-1] == "../../bin/busybox"
    assert env.rt.ids() == [] and users(store, image) == []


def test_host_view_xattrs(env, store, image):
    """From the host: the overlay through the container's /proc/PID/root and
    the vfs copy in the state directory hold the same entries and xattrs
    (security.capability, user.*), the copy has the device node, and the
    vfs copy goes with the container."""
    # the layer's big file made sparse (the same content): the copy keeps its holes
    big = os.path.join(layer_dir(store, image, 2), "big")
    subprocess.run(["fallocate", "--dig-holes", big], check=True)
    assert os.lstat(big).st_blocks * 512 < 1 << 20
    views = {}
    for drv in ("overlay", "vfs"):
        cid = "bx-" + drv
        r = box(env, store, "-d", "--name", cid, "--storage", drv, "test:1", "sleep", "100")
        assert r.rc == 0, r
        root = f"/proc/{init_pid(env, cid)}/root"
        views[drv] = host_view(root)
        if drv == "vfs":
            copy = os.path.join(store, "containers", cid, "rootfs")
            check_rootfs(copy)
            big = os.lstat(os.path.join(copy, "big"))
            assert big.st_blocks * 512 < big.st_size, "holes kept"
    for drv in ("overlay", "vfs"):
        env.rt.ok("kill", "bx-" + drv, "KILL")
    for drv in ("overlay", "vfs"):
        wait_for(lambda: json.loads(env.rt.ok("state", "bx-" + drv).out)["status"] == "stopped")
        env.rt.ok("delete", "bx-" + drv)
        assert not os.path.exists(os.path.join(env.rt.root, "bx-" + drv))
        assert not os.path.exists(os.path.join(store, "containers", "bx-" + drv))
    assert views["overlay"] == views["vfs"]
    v = views["vfs"]
    assert "security.capability" in v["bin/capped"][5]
    assert v["data/file"][5] == {"user.test": b"hello"}
    assert env.rt.ids() == [] and not mounts_under(env.base)


@pytest.mark.parametrize("drv", ["overlay", "vfs"])
def test_layers_untouched(env, store, image, drv):
    before = layers_state(store, image)
    r = box(env, store, "--storage", drv, "test:1", "sh", "-c",
            "for d in $(find / -xdev -type d); do touch $d/new 2>/dev/null; done;"
            "echo x >> /data/file; chmod 600 /etc/passwd; chmod 700 /data;"
            "rm -rf /opq /etc/motd /bin/suid; ln -s x /bin/newlink; mv /big /big2; echo done")
    assert (r.rc, r.out) == (0, "done\n"), r
    assert layers_state(store, image) == before


def test_image_config_and_overrides(env, store):
    img = import_image(env, store, make_image(Entrypoint=["echo", "ep"], Cmd=["c1"], User="user"),
                       "cfg:1")
    assert box(env, store, "cfg:1").out == "ep c1\n"
    assert box(env, store, "cfg:1", "x", "y").out == "ep x y\n"              # CMD replaces Cmd
    assert box(env, store, "--entrypoint", "echo", "cfg:1").out == "\n"      # and drops Cmd
    assert box(env, store, "--entrypoint", "echo", "cfg:1", "z").out == "z\n"
    r = box(env, store, "--entrypoint", "", "cfg:1", "sh", "-c", 'echo $FOO $(id -u) $(pwd)')
    assert (r.rc, r.out) == (0, "bar 1000 /data\n"), r                      # Env, User, WorkingDir
    r = box(env, store, "--entrypoint", "", "-e", "FOO=baz", "-u", "late", "-w", "/tmp", "cfg:1",
            "sh", "-c", 'echo $FOO $(id -u):$(id -g) $(pwd) $PATH')
    assert (r.rc, r.out) == (0, "baz 1234:50 /tmp /bin\n"), r                # -u from layer 3
    r = box(env, store, "--entrypoint", "", "-u", "0", "cfg:1", "id", "-u")
    assert (r.rc, r.out) == (0, "0\n"), r
    assert box(env, store, img.id[:12], "a").out == "ep a\n"               # by id
    assert env.rt.ids() == []


def test_no_command(env, store):
    import_image(env, store, Image([base_layer()], config={"Env": ["PATH=/bin"]}), "nocmd:1")
    r = box(env, store, "nocmd:1")
    assert_box_failed(env, r)
    assert "neither Entrypoint nor Cmd" in r.err
    r = box(env, store, "nocmd:1", "echo", "ok")
    assert (r.rc, r.out) == (0, "ok\n"), r


@pytest.mark.parametrize("drv", ["overlay", "vfs"])
def test_cmd_checked_in_layers(env, store, image, drv):
    """126/127 through the layers: a whited-out program is gone, a symlink
    of the top layer reaches (through a symlink of the bottom one) its file."""
    r = box(env, store, "--storage", drv, "test:1", "hidden")
    assert r.rc == 127 and "not found" in r.err, r
    r = box(env, store, "--storage", drv, "test:1", "/bin/notexec")
    assert r.rc == 126 and "not executable" in r.err, r
    r = box(env, store, "--storage", drv, "test:1", "/usr/bin/head", "-n1", "/etc/motd")
    assert (r.rc, r.out) == (0, "motd\n"), r
    r = box(env, store, "--storage", drv, "test:1", "/opq/olddir/../new")
    assert r.rc == 127, r      # the opaque dir hides olddir
    assert env.rt.ids() == []


def test_image_rm_refused_while_used(env, store, image):
    r = box(env, store, "-d", "--name", "user1", "test:1", "sleep", "100")
    assert r.rc == 0, r
    assert users(store, image) == ["user1"]
    r = env.rt("image", "rm", "--storage-root", store, "test:1")
    assert r.rc != 0 and "used by container user1" in r.err, r
    env.rt.ok("kill", "user1", "KILL")
    wait_for(lambda: json.loads(env.rt.ok("state", "user1").out)["status"] == "stopped")
    env.rt.ok("delete", "user1")
    assert users(store, image) == []
    r = env.rt("image", "rm", "--storage-root", store, "test:1")
    assert r.rc == 0, r


def test_foreground_box_forgets_the_image(env, store, image):
    r = box(env, store, "test:1", "echo", "in")
    assert (r.rc, r.out) == (0, "in\n"), r
    assert users(store, image) == []


def test_vfs_of_rootfs_dir(env, rootfs):
    """--storage vfs with a ROOTFS directory: a copy, ROOTFS untouched."""
    r = env.rt("box", "-d", "--name", "v1", "--storage", "vfs", rootfs, "sleep", "100")
    assert r.rc == 0, r
    copy = os.path.join(env.rt.root, "v1", "rootfs")
    assert os.path.isfile(os.path.join(copy, "bin", "busybox"))
    r = env.rt("exec", "v1", "sh", "-c", "echo x > /new; cat /new")
    assert (r.rc, r.out) == (0, "x\n"), r
    assert os.path.exists(os.path.join(copy, "new"))
    assert not os.path.exists(os.path.join(rootfs, "new"))
    env.rt.ok("kill", "v1", "KILL")
    wait_for(lambda: json.loads(env.rt.ok("state", "v1").out)["status"] == "stopped")
    env.rt.ok("delete", "v1")
    assert not os.path.exists(os.path.join(env.rt.root, "v1"))


def test_many_layers(env, store):
    """40 layers stack (their lowerdirs are short links in the state
    directory), the same through both drivers."""
    layers = [base_layer()] + [Layer().file(f"l/{i:02d}", f"{i}\n".encode()) for i in range(39)]
    layers[-1].whiteout("l/05")
    import_image(env, store, Image(layers, config={"Cmd": ["sh"]}), "many:1")
    outs = set()
    for drv in ("overlay", "vfs"):
        r = box(env, store, "--storage", drv, "many:1", "sh", "-c", "ls /l | xargs")
        assert r.rc == 0, r
        outs.add(r.out)
    assert outs == {" ".join(f"{i:02d}" for i in range(39) if i != 5) + "\n"}


def kernel_at_least(major, minor):
    rel = os.uname().release.split(".")
    return (int(rel[0]), int(rel[1].split("-")[0])) >= (major, minor)


@pytest.mark.skipif(not kernel_at_least(6, 8), reason="overlayfs's lowerdir+ needs Linux 6.8")
def test_layers_past_a_page_of_options(env, store):
    """More layers than one page of mount options holds: the overlay is
    mounted through fsopen with one lowerdir+ per layer (by the init, or
    with --uidmap by the runtime), the same tree as vfs's, and a whiteout
    in the top layer still applies."""
    layers = [base_layer()] + [Layer().file(f"l/{i}", b"") for i in range(250)]
    layers[-1].whiteout("l/7")
    import_image(env, store, Image(layers, compression="none", config={"Cmd": ["true"]}),
                 "huge:1")
    outs = set()
    # the last: the runtime mounts it, its 251 layers idmapped
    for drv, extra in (("overlay", []), ("vfs", []), ("overlay", MAP)):
        r = box(env, store, "--storage", drv, *extra, "huge:1", "sh", "-c",
                "ls /l | wc -l; test -e /l/7 || echo whiteout; cat /etc/removeme")
        assert r.rc == 0 and r.err == "", r
        outs.add(r.out)
    assert outs == {"249\nwhiteout\ngone\n"}
    assert env.rt.ids() == [] and not mounts_under(env.base)


def missing_layer(env, store, image):
    d = os.path.dirname(layer_dir(store, image, 1))
    os.rename(d, d + ".gone")


@pytest.mark.parametrize("args,fix", [
    (["nosuch:1"], None),
    (["--storage", "zfs", "test:1"], None),
    (["--rootfs-rw", "test:1"], None),
    (["test:1", "nosuchcmd"], None),
    (["-u", "nobody", "test:1"], None),
    (["test:1"], missing_layer),
])
def test_bad_input_leaves_nothing(env, store, image, args, fix):
    if fix:
        fix(env, store, image)
    r = box(env, store, *args)
    assert r.rc in (125, 127), r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("husk: box: "), r
    assert env.rt.ids() == [] and not mounts_under(env.base)
    assert users(store, image) == []
    assert not os.path.isdir(env.rt.root) or os.listdir(env.rt.root) == []


def test_no_store_is_made(env):
    """A name that is no directory, with no store: nothing is created."""
    store = os.path.join(env.base, "nostore")
    r = box(env, store, "busybox")
    assert_box_failed(env, r)
    assert "no image store" in r.err and not os.path.exists(store), r


def test_rootless_image_box(user):
    """An unprivileged user's own store: the import kept the image's owners
    as the user namespace shows them (the user is root, its subordinate ids
    1..N), so the box shows the image's own owners, the same through overlay
    (userxattr: the user.* opaque markers) and vfs (copied in that
    namespace, modes and owners exact)."""
    env = user.env
    src = make_image().write_oci_dir(os.path.join(env.base, "src-rootless"))
    store = os.path.join(user.xdg, "store")
    r = user("image", "import", "--storage-root", store, src, "--name", "test:1")
    assert r.rc == 0, r
    out = {}
    for drv in ("overlay", "vfs"):
        r = user("box", "--storage-root", store, "--storage", drv, "test:1", "sh", "-c",
                 LISTING + "echo x > /data/new; id -u")
        assert r.rc == 0, r
        out[drv] = r.out.splitlines()
    assert out["vfs"] == out["overlay"]
    assert out["vfs"][-1] == "0"
    lines = {ln.split()[0]: ln.split()[1:] for ln in out["vfs"][:-1]}
    assert "/etc/removeme" not in lines and "/opq/old" not in lines and "/opq/new" in lines
    assert lines["/data/file"][2:5] == ["644", "1000", "50"]
    assert lines["/bin/suid"][2:5] == ["4755", "0", "0"]
    assert user.ids() == [] and not mounts_under(env.base)


# --- --uidmap/--gidmap: root's box in a user namespace -----------------------

MAP = ["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"]
IDS = "cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u:%g %n' /bin/busybox /data/file /; id -u"


def copies(store):
    d = os.path.join(store, "containers")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


@pytest.mark.parametrize("drv", ["overlay", "vfs"])
def test_uidmap_image(env, store, image, drv):
    """The image's owners show through the mapping (idmapped layers, a
    shifted copy), the same tree as without a user namespace; what the
    container writes belongs to the mapped ids on the host; the layers stay
    untouched."""
    before = layers_state(store, image)
    plain = box(env, store, "--storage", drv, "test:1", "sh", "-c", LISTING)
    mapped = box(env, store, "--storage", drv, *MAP, "test:1", "sh", "-c", LISTING)
    assert plain.rc == 0 and mapped.rc == 0 and mapped.err == "", mapped
    assert mapped.out == plain.out
    r = box(env, store, "-d", "--name", "m1", "--storage", drv, *MAP, "test:1", "sh", "-c",
            "echo hi > /new; mkdir /data/d; chown 1000:50 /data/d; echo x >> /data/file; sleep 100")
    assert r.rc == 0, r
    r = env.rt("exec", "m1", "sh", "-c", IDS)
    assert r.rc == 0, r
    assert r.out == ("         0     100000      65536\n" * 2 +
                     "0:0 /bin/busybox\n1000:50 /data/file\n0:0 /\n0\n"), r
    wait_for(lambda: env.rt("exec", "m1", "test", "-d", "/data/d").rc == 0)
    host = (os.path.join(env.rt.root, "m1", "upper") if drv == "overlay"
            else os.path.join(store, "containers", "m1", "rootfs"))
    owner = lambda p: (os.lstat(os.path.join(host, p)).st_uid, os.lstat(os.path.join(host, p)).st_gid)
    assert owner("new") == (100000, 100000)
    assert owner("data/d") == (101000, 100050)
    assert owner("data/file") == (101000, 100050)       # copied up: still the mapped owner
    assert owner(".") == (100000, 100000)
    env.rt.ok("kill", "m1", "KILL")
    wait_for(lambda: json.loads(env.rt.ok("state", "m1").out)["status"] == "stopped")
    env.rt.ok("delete", "m1")
    assert layers_state(store, image) == before
    assert env.rt.ids() == [] and users(store, image) == [] and copies(store) == []
    assert not mounts_under(env.base)


@pytest.mark.parametrize("drv", ["overlay", "vfs"])
def test_uidmap_rootfs(env, rootfs, drv):
    """A ROOTFS directory the same way, --uidmap alone mapping the gids too;
    ROOTFS untouched (owners included)."""
    os.chown(os.path.join(rootfs, "home", "user"), 1000, 1000)
    before = tree_state(rootfs)
    r = env.rt("box", "-d", "--name", "r1", "--storage", drv, "--uidmap", "0:200000:2000",
               rootfs, "sh", "-c", "touch /home/user/f; sleep 100")
    assert r.rc == 0, r
    r = env.rt("exec", "r1", "sh", "-c",
               "cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u:%g' /bin/busybox /home/user")
    assert r.out == "         0     200000       2000\n" * 2 + "0:0\n1000:1000\n", r
    host = os.path.join(env.rt.root, "r1", "upper" if drv == "overlay" else "rootfs")
    wait_for(lambda: os.path.exists(os.path.join(host, "home/user/f")))
    st = os.lstat(os.path.join(host, "home/user/f"))
    assert (st.st_uid, st.st_gid) == (200000, 200000)
    env.rt.ok("kill", "r1", "KILL")
    wait_for(lambda: json.loads(env.rt.ok("state", "r1").out)["status"] == "stopped")
    env.rt.ok("delete", "r1")
    assert tree_state(rootfs) == before
    assert env.rt.ids() == [] and not os.path.exists(os.path.join(env.rt.root, "r1"))


@pytest.mark.parametrize("args,msg", [
    (["--uidmap", "0:100000"], "expected CONTAINER:HOST:SIZE"),
    (["--uidmap", "0:100000:0"], "expected CONTAINER:HOST:SIZE"),
    (["--uidmap", "x:1:1"], "expected CONTAINER:HOST:SIZE"),
    (["--uidmap", "0:4294967295:2"], "expected CONTAINER:HOST:SIZE"),
    (["--gidmap", "0:-1:5"], "expected CONTAINER:HOST:SIZE"),
    (["--uidmap", "1:100000:10"], "container id 0 must be mapped"),
    (["--uidmap", "0:100000:10", "--uidmap", "5:200000:10"], "overlaps 0:100000:10 (container ids)"),
    (["--uidmap", "0:100000:10", "--uidmap", "20:100005:10"], "overlaps 0:100000:10 (host ids)"),
    (["--uidmap", "0:100000:65536", "--gidmap", "1:1:1"], "--gidmap: container id 0 must be mapped"),
    # vfs: a file of the image (of uid 1000) outside the mapping, found half-way through the copy
    (["--storage", "vfs", "--uidmap", "0:100000:1000"], "is outside the user namespace's mapping"),
])
def test_bad_uidmap_leaves_nothing(env, store, image, args, msg):
    r = box(env, store, *args, "test:1", "true")
    assert_box_failed(env, r)
    assert msg in r.err, r
    assert users(store, image) == [] and copies(store) == []
    assert not os.path.isdir(env.rt.root) or os.listdir(env.rt.root) == []


def test_uidmap_not_with_rootfs_rw(env, rootfs):
    before = tree_state(rootfs)
    r = env.rt("box", "--uidmap", "0:100000:65536", "--rootfs-rw", rootfs, "true")
    assert_box_failed(env, r)
    assert "not with --rootfs-rw" in r.err, r
    assert tree_state(rootfs) == before


def test_uidmap_refused_rootless(user):
    r = user("box", "--uidmap", "0:100000:65536", user.env.base, "true")
    assert r.rc == 125 and "only root's boxes take it" in r.err, r
    assert user.ids() == []


def test_vfs_copy_in_store(env, store, image):
    """The vfs copy lives in the store, not the state root: prune keeps it
    while the container exists and removes one whose state dir is gone."""
    r = box(env, store, "-d", "--name", "c1", "--storage", "vfs", "test:1", "sleep", "100")
    assert r.rc == 0, r
    assert copies(store) == ["c1"]
    copy = os.path.join(store, "containers", "c1")
    with open(os.path.join(copy, "state")) as f:
        assert f.read() == os.path.realpath(os.path.join(env.rt.root, "c1"))
    assert not os.path.exists(os.path.join(env.rt.root, "c1", "rootfs"))
    # a leftover of a container whose state dir is gone, and one of a live one
    os.makedirs(os.path.join(store, "containers", "gone", "rootfs", "x"))
    with open(os.path.join(store, "containers", "gone", "state"), "w") as f:
        f.write(os.path.join(env.base, "no-such-state", "gone"))
    r = env.rt("image", "prune", "--storage-root", store)
    assert r.rc == 0, r
    assert copies(store) == ["c1"]
    r = env.rt("exec", "c1", "sh", "-c", "echo hi > /new; cat /new")
    assert (r.rc, r.out) == (0, "hi\n"), r
    assert os.path.exists(os.path.join(copy, "rootfs", "new"))
    env.rt.ok("kill", "c1", "KILL")
    wait_for(lambda: json.loads(env.rt.ok("state", "c1").out)["status"] == "stopped")
    env.rt.ok("delete", "c1")
    assert copies(store) == [] and users(store, image) == []


def test_boxes_share_the_store_lock(env, store, image):
    """Boxes hold the store's lock shared: one starts (a vfs copy
    included) while another holds it; what removes images holds it
    exclusive, and a box waits for that."""
    import fcntl
    import threading
    lock = os.open(os.path.join(store, "lock"), os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
        for drv in ("overlay", "vfs"):
            r = box(env, store, "--storage", drv, "test:1", "echo", "ran", timeout=20)
            assert (r.rc, r.out) == (0, "ran\n"), r
        fcntl.flock(lock, fcntl.LOCK_EX)  # as image rm and prune do
        done = []
        t = threading.Thread(target=lambda: done.append(
            box(env, store, "--storage", "vfs", "test:1", "echo", "ran", timeout=20)))
        t.start()
        t.join(1.0)
        assert not done, "a box started while the store was locked exclusively"
        fcntl.flock(lock, fcntl.LOCK_UN)
        t.join(20)
        assert done and (done[0].rc, done[0].out) == (0, "ran\n"), done
    finally:
        os.close(lock)
    assert copies(store) == [] and users(store, image) == [] and env.rt.ids() == []


def test_vfs_copy_of_another_live_container(env, store, image):
    """A copy under this name that belongs to a live container of another
    state root is neither used nor removed; a leftover whose state dir is
    gone is replaced; an unfinished one (.new-*, no state) goes with prune."""
    other = os.path.join(env.base, "other-state", "c3")
    os.makedirs(other)
    theirs = os.path.join(store, "containers", "c3")
    os.makedirs(os.path.join(theirs, "rootfs"))
    with open(os.path.join(theirs, "state"), "w") as f:
        f.write(other)
    r = box(env, store, "--name", "c3", "--storage", "vfs", "test:1", "true")
    assert_box_failed(env, r)
    assert "containers/c3: in use by container c3 of " + other in r.err, r
    assert os.path.isdir(os.path.join(theirs, "rootfs")) and copies(store) == ["c3"]
    os.rmdir(other)
    r = box(env, store, "--name", "c3", "--storage", "vfs", "test:1", "cat", "/etc/motd")
    assert (r.rc, r.out) == (0, "motd\n"), r
    assert copies(store) == []
    os.makedirs(os.path.join(store, "containers", ".new-1-0", "rootfs"))
    env.rt.ok("image", "prune", "--storage-root", store)
    assert copies(store) == []
