"""husk image: import (OCI layout dir/tar, docker-save), the store's layers
in overlay format, ls/rm/prune/unpack, hostile archives, interrupted and
failed imports leaving the store as it was."""
import json
import os
import signal
import stat
import subprocess
import tarfile
import time

import pytest

from helpers import HUSK, one_line_error, wait_for
from images import Image, Layer, busybox_layer, cap_xattr, sha256, write_tar
from test_box_rootless import user  # noqa: F401 (a fixture)

pytestmark = pytest.mark.husk_only


@pytest.fixture
def store(env):
    return os.path.join(env.base, "store")


def image(env, store, *args, **kw):
    return env.rt("image", args[0], "--storage-root", store, *args[1:], **kw)


def feature_layer():
    """Layer 2: whiteout, opaque dir, hard link, symlink, setuid, xattrs,
    fifo, a device node."""
    return (Layer(mtime=1600000000)
            .whiteout("etc/removeme")
            .dir("opq").opaque("opq").file("opq/new", b"new\n")
            .dir("data", mode=0o751, uid=1000, gid=50)
            .file("data/file", b"payload\n", xattrs={"user.test": "hello"}, uid=1000, gid=50)
            .hardlink("data/link", "data/file")
            .symlink("data/sym", "file")
            .fifo("data/fifo", mode=0o640)
            .file("bin/suid", b"#!/bin/sh\n", mode=0o4755)
            .file("bin/sgid", b"#!/bin/sh\n", mode=0o2755, gid=50)
            .file("bin/capped", b"#!/bin/sh\n", mode=0o755,
                  xattrs={"security.capability": cap_xattr(13)})
            .chardev("dev/zero", 1, 5))


def base_layer():
    return (busybox_layer().file("etc/removeme", b"gone\n")
            .dir("opq").file("opq/old", b"old\n").dir("opq/olddir").file("opq/olddir/x", b"x"))


def test_image(compression="gzip", **config):
    cfg = {"Cmd": ["cat", "/data/file"], "Env": ["FOO=bar", "PATH=/bin"], "WorkingDir": "/data"}
    cfg.update(config)
    return Image([base_layer(), feature_layer(), Layer().file("etc/motd", b"motd\n")],
                 compression=compression, config=cfg)


test_image.__test__ = False


def store_state(store):
    """What the store holds (names, images, layers, blobs, tmp)."""
    out = {}
    for d in ("images", "layers", "blobs/sha256", "tmp"):
        p = os.path.join(store, d)
        out[d] = sorted(os.listdir(p)) if os.path.isdir(p) else []
    p = os.path.join(store, "names.json")
    out["names"] = json.load(open(p)) if os.path.exists(p) else {}
    return out


def layer_dir(store, img, i):
    """The diff/ of img's layer i, by chain id."""
    chain = None
    for t in img.tars[:i + 1]:
        d = sha256(t)
        chain = d if chain is None else sha256(f"sha256:{chain} sha256:{d}".encode())
    return os.path.join(store, "layers", chain, "diff")


def write_source(img, kind, path, **kw):
    if kind == "oci-dir":
        return img.write_oci_dir(path, **kw)
    if kind == "oci-tar":
        return img.write_oci_tar(path + ".tar", **kw)
    tags = [kw["ref"]] if kw.get("ref") else []
    return img.write_docker_tar(path + ".tar", tags=tags)


def check_rootfs(root, rootless=False):
    assert not os.path.lexists(f"{root}/etc/removeme")                 # whiteout
    assert sorted(os.listdir(f"{root}/opq")) == ["new"]                  # opaque
    st, ln = os.lstat(f"{root}/data/file"), os.lstat(f"{root}/data/link")
    assert (st.st_ino, st.st_nlink) == (ln.st_ino, 2)                    # hard link
    assert os.readlink(f"{root}/data/sym") == "file"
    assert stat.S_ISFIFO(os.lstat(f"{root}/data/fifo").st_mode)
    assert stat.S_IMODE(os.lstat(f"{root}/data/fifo").st_mode) == 0o640
    assert os.getxattr(f"{root}/data/file", "user.test") == b"hello"
    assert os.lstat(f"{root}/data/file").st_mtime == 1600000000
    if rootless:
        return
    assert stat.S_IMODE(os.lstat(f"{root}/bin/suid").st_mode) == 0o4755
    assert stat.S_IMODE(os.lstat(f"{root}/bin/sgid").st_mode) == 0o2755
    assert (st.st_uid, st.st_gid) == (1000, 50)
    assert stat.S_IMODE(os.lstat(f"{root}/data").st_mode) == 0o751
    assert os.getxattr(f"{root}/bin/capped", "security.capability") == cap_xattr(13)
    dev = os.lstat(f"{root}/dev/zero")
    assert stat.S_ISCHR(dev.st_mode) and os.major(dev.st_rdev) == 1 and os.minor(dev.st_rdev) == 5


def run_bundle(env, bundle, *args):
    """husk run on an unpacked bundle (with the test's cgroup path)."""
    cfg_path = os.path.join(bundle, "config.json")
    cfg = json.load(open(cfg_path))
    cfg["linux"]["cgroupsPath"] = f"/husk-test/{os.path.basename(env.base)}-img"
    if args:
        cfg["process"]["args"] = list(args)
    json.dump(cfg, open(cfg_path, "w"))
    return env.rt("run", "--bundle", bundle, env.new_id())


@pytest.mark.parametrize("kind,compression", [
    ("oci-dir", "gzip"), ("oci-tar", "zstd"), ("docker", "none"),
    ("oci-dir", ["zstd", "none", "gzip"])])
def test_import_unpack_run(env, store, kind, compression):
    img = test_image(compression)
    src = write_source(img, kind, os.path.join(env.base, "src"), ref="example.com/test:1")
    r = image(env, store, "import", src)
    assert r.rc == 0 and r.out == f"sha256:{img.id}\n", r
    r = image(env, store, "ls")
    assert r.rc == 0, r
    rows = [line.split() for line in r.out.splitlines()]
    assert rows[0] == ["NAME", "ID", "SIZE", "CREATED"]
    assert rows[1][:2] == ["example.com/test:1", img.id[:12]] and rows[1][3] == "2024-01-02", r
    bundle = os.path.join(env.base, "bundle")
    r = image(env, store, "unpack", "example.com/test:1", bundle)
    assert r.rc == 0, r
    check_rootfs(os.path.join(bundle, "rootfs"))
    proc = json.load(open(os.path.join(bundle, "config.json")))["process"]
    assert proc["args"] == ["cat", "/data/file"] and proc["cwd"] == "/data"
    assert "FOO=bar" in proc["env"] and "PATH=/bin" in proc["env"]
    assert not [v for v in proc["env"] if v.startswith("PATH=/usr")]
    r = run_bundle(env, bundle)
    assert (r.rc, r.out) == (0, "payload\n"), r


def test_layers_in_overlay_format(env, store):
    img = test_image()
    assert image(env, store, "import", img.write_oci_dir(os.path.join(env.base, "src"))).rc == 0
    top = layer_dir(store, img, 1)
    wh = os.lstat(os.path.join(top, "etc/removeme"))
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(os.path.join(top, "opq"), "trusted.overlay.opaque") == b"y"
    assert os.listdir(os.path.join(top, "opq")) == ["new"]
    assert not os.path.exists(os.path.join(top, "opq/.wh..wh..opq"))
    # the lower layer keeps what the upper hides: they stack as lowerdirs
    assert os.path.exists(os.path.join(layer_dir(store, img, 0), "etc/removeme"))
    assert os.lstat(os.path.join(top, "data/file")).st_nlink == 2
    meta = json.load(open(os.path.join(os.path.dirname(top), "layer.json")))
    assert meta["diff_id"] == img.config["rootfs"]["diff_ids"][1]


def test_overlay_mount_of_layers(env, store):
    """The layer dirs mount as an overlay and show the image's tree."""
    img = test_image()
    assert image(env, store, "import", img.write_oci_dir(os.path.join(env.base, "src"))).rc == 0
    lower = ":".join(layer_dir(store, img, i) for i in (2, 1, 0))
    mnt = os.path.join(env.base, "mnt")
    os.mkdir(mnt)
    script = (f"mount -t overlay overlay -o lowerdir={lower} {mnt} && "
              f"ls {mnt}/opq && ls {mnt}/etc && umount {mnt}")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert r.returncode == 0, r
    opq, etc = r.stdout.split("\n", 1)
    assert opq == "new" and "removeme" not in etc and "motd" in etc, r


def test_shared_layers(env, store):
    base = base_layer()
    a = Image([base, Layer().file("a", b"a")], config={"Cmd": ["a"]})
    b = Image([base, Layer().file("b", b"b")], config={"Cmd": ["b"]})
    assert image(env, store, "import", "--name", "a", a.write_oci_dir(env.base + "/a")).rc == 0
    before = os.stat(layer_dir(store, a, 0)).st_ino
    assert image(env, store, "import", "--name", "b", b.write_docker_tar(env.base + "/b.tar")).rc == 0
    assert len(os.listdir(os.path.join(store, "layers"))) == 3
    assert layer_dir(store, a, 0) == layer_dir(store, b, 0)
    assert os.stat(layer_dir(store, b, 0)).st_ino == before   # not extracted again
    # rm a: its own layer stays until prune; the shared one stays
    assert image(env, store, "rm", "a").rc == 0
    r = image(env, store, "prune")
    assert r.rc == 0 and r.out.startswith("Removed 1 layer"), r
    assert sorted(os.listdir(os.path.join(store, "layers"))) == sorted(
        os.path.basename(os.path.dirname(layer_dir(store, b, i))) for i in (0, 1))
    assert image(env, store, "unpack", "b", env.base + "/bb").rc == 0
    assert os.path.exists(env.base + "/bb/rootfs/b") and not os.path.exists(env.base + "/bb/rootfs/a")


def test_rm_names_ids_and_users(env, store):
    img = Image([busybox_layer()])
    src = img.write_oci_dir(env.base + "/src")
    assert image(env, store, "import", "--name", "x:1", src).rc == 0
    assert image(env, store, "import", "--name", "y", src).rc == 0
    r = image(env, store, "rm", "x:1")
    assert (r.rc, r.out) == (0, "Untagged: x:1\n"), r
    assert store_state(store)["names"] == {"y:latest": img.id}
    # a container using it (as `husk box` records it) blocks rm
    users = os.path.join(store, "images", img.id, "users")
    os.makedirs(users)
    with open(os.path.join(users, "c1"), "w") as f:
        f.write(env.base)
    r = image(env, store, "rm", img.id[:8])
    one_line_error(r, "husk: image rm: ", "used by container c1", "-f")
    assert store_state(store)["images"] == [img.id]
    # a stale entry (its state dir gone) does not
    with open(os.path.join(users, "c1"), "w") as f:
        f.write(env.base + "/gone")
    r = image(env, store, "rm", "y")
    assert (r.rc, r.out) == (0, f"Deleted: sha256:{img.id}\n"), r
    st = store_state(store)
    assert st["images"] == [] and st["names"] == {} and len(st["layers"]) == 1
    assert image(env, store, "prune").rc == 0
    st = store_state(store)
    assert st["layers"] == [] and st["blobs/sha256"] == []


def test_rm_force(env, store):
    img = Image([busybox_layer()])
    assert image(env, store, "import", "--name", "x", img.write_oci_dir(env.base + "/s")).rc == 0
    users = os.path.join(store, "images", img.id, "users")
    os.makedirs(users)
    with open(os.path.join(users, "c1"), "w") as f:
        f.write(env.base)
    assert image(env, store, "rm", "x").rc != 0
    assert image(env, store, "rm", "-f", "x").rc == 0
    assert store_state(store)["images"] == []


def test_multi_platform_index(env, store):
    amd = test_image()
    arm = Image([busybox_layer(), Layer().file("arm", b"")], arch="arm64")
    src = amd.write_oci_dir(env.base + "/src", extra_manifests=[(arm, "arm64")])
    r = image(env, store, "import", src)
    assert r.out == f"sha256:{amd.id}\n", r
    r = image(env, store, "import", "--platform", "linux/arm64", src)
    assert r.out == f"sha256:{arm.id}\n", r
    r = image(env, store, "import", "--platform", "linux/s390x", src)
    one_line_error(r, "husk: image import: ", "linux/s390x")


def test_user_and_entrypoint(env, store):
    img = Image([busybox_layer()], config={"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["id -u; id -g; pwd"],
                                           "User": "user", "WorkingDir": "/tmp"})
    assert image(env, store, "import", "--name", "u", img.write_oci_dir(env.base + "/s")).rc == 0
    b = env.base + "/b"
    assert image(env, store, "unpack", "u", b).rc == 0
    proc = json.load(open(b + "/config.json"))["process"]
    assert proc["user"] == {"uid": 1000, "gid": 1000} and proc["args"][:2] == ["/bin/sh", "-c"]
    r = run_bundle(env, b)
    assert (r.rc, r.out) == (0, "1000\n1000\n/tmp\n"), r
    # a bundle is not written over
    r = image(env, store, "unpack", "u", b)
    one_line_error(r, "husk: image unpack: ", "already")


# --- bad input: one line, nothing left ---------------------------------------------


def assert_failed_cleanly(env, store, r, before, *parts):
    one_line_error(r, "husk: image import: ", *parts)
    assert store_state(store) == before, r


def hostile(*build):
    lay = busybox_layer()
    for f in build:
        f(lay)
    return Image([lay])


HOSTILE = {
    "dotdot": lambda lay: lay.file("../../evil", b"x"),
    "dotdot-inside": lambda lay: lay.file("etc/../../evil", b"x"),
    "absolute": lambda lay: lay.file("/tmp/evil-abs", b"x"),
    "symlink-then-file": lambda lay: (lay.symlink("esc", "/tmp"), lay.file("esc/evil", b"x")),
    "relative-symlink-then-file": lambda lay: (lay.symlink("up", "../../.."),
                                               lay.file("up/evil", b"x")),
    "hardlink-outside": lambda lay: lay.hardlink("hl", "../../../etc/passwd"),
    "hardlink-absolute": lambda lay: lay.hardlink("hl", "/etc/passwd"),
    "hardlink-through-symlink": lambda lay: (lay.symlink("s", "/etc"),
                                             lay.hardlink("hl", "s/passwd")),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layer_refused(env, store, case):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    img = hostile(HOSTILE[case])
    src = img.write_oci_dir(env.base + "/src", ref="x/y:z")
    def ours():
        return sorted(n for n in os.listdir(env.base) if not n.startswith("cmd"))
    canary = ours()
    r = image(env, store, "import", src)
    assert_failed_cleanly(env, store, r, before, "refused")
    assert ours() == canary
    assert not os.path.exists("/tmp/evil-abs") and not os.path.exists("/tmp/evil")


def test_hostile_outer_archive(env, store):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    path = env.base + "/evil.tar"
    write_tar(path, {"../outside-file": b"x", "index.json": b"{}"})
    r = image(env, store, "import", path)
    assert_failed_cleanly(env, store, r, before, "refused")
    assert not os.path.exists(os.path.join(os.path.dirname(env.base), "outside-file"))


def test_digest_mismatch(env, store):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    img = test_image()
    d = img.layer_digests[1]
    img.layer_digests[1] = "sha256:" + "0" * 64
    src = img.write_oci_dir(env.base + "/src")
    os.rename(f"{src}/blobs/sha256/{d[7:]}", f"{src}/blobs/sha256/{'0' * 64}")
    r = image(env, store, "import", src)
    assert_failed_cleanly(env, store, r, before, "digest mismatch")


def test_diff_id_mismatch(env, store):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    img = test_image()
    img.config["rootfs"]["diff_ids"][2] = "sha256:" + "1" * 64
    r = image(env, store, "import", img.write_docker_tar(env.base + "/d.tar"))
    assert_failed_cleanly(env, store, r, before, "diff_id mismatch")


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_truncated_layer(env, store, compression):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    img = test_image(compression)
    img.blobs[0] = img.blobs[0][:len(img.blobs[0]) // 2]
    img.layer_digests[0] = "sha256:" + sha256(img.blobs[0])
    r = image(env, store, "import", img.write_oci_tar(env.base + "/t.tar"))
    assert_failed_cleanly(env, store, r, before)


def test_bad_inputs(env, store):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    junk = env.base + "/junk"
    with open(junk, "wb") as f:
        f.write(os.urandom(4096))
    assert_failed_cleanly(env, store, image(env, store, "import", junk), before, "not an image")
    os.mkdir(env.base + "/empty")
    assert_failed_cleanly(env, store, image(env, store, "import", env.base + "/empty"), before,
                          "not an image")
    assert_failed_cleanly(env, store, image(env, store, "import", env.base + "/missing"), before,
                          "No such file")
    src = Image([busybox_layer()]).write_oci_dir(env.base + "/ok")
    assert_failed_cleanly(env, store, image(env, store, "import", "--name", "Bad:Name!", src),
                          before, "--name")
    for sub, args in (("rm", ["nosuch"]), ("unpack", ["nosuch", env.base + "/b"])):
        r = image(env, store, sub, *args)
        one_line_error(r, f"husk: image {sub}: ", "nosuch")
    assert not os.path.exists(env.base + "/b")
    one_line_error(env.rt("image", "frob"), "husk: image: ", "frob")


def test_sigkill_during_import(env, store):
    assert image(env, store, "ls").rc == 0
    before = store_state(store)
    big = Layer().file("big", os.urandom(256 << 20))
    img = Image([busybox_layer(), big], compression="none")
    src = img.write_oci_dir(env.base + "/src", ref="big/one:1")
    p = subprocess.Popen(env.rt.cmd("image", "import", "--storage-root", store, src),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = os.path.join(store, "tmp")

    def extracting():
        for t in os.listdir(tmp):
            for c in os.listdir(os.path.join(tmp, t)):
                if os.path.exists(os.path.join(tmp, t, c, "diff", "big")):
                    return True
        return False

    assert wait_for(extracting, timeout=30, interval=0.002), "import never got to the big layer"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert os.listdir(tmp)  # what it left...
    assert image(env, store, "ls").rc == 0
    assert store_state(store) == before  # ...is gone at the next open


def test_full_disk(env, store):
    """A store on a 1 MiB tmpfs: ENOSPC, and nothing left in it."""
    src = test_image().write_oci_tar(env.base + "/src.tar")
    script = (f'mount -t tmpfs -o size=1m tmpfs "$1" && "$2" image import --storage-root "$1" "$3"; '
              f'rc=$?; ls -A "$1/tmp" "$1/layers" "$1/images"; test -e "$1/names.json" && echo NAMES; '
              f'exit $rc')
    os.mkdir(store)
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                        store, HUSK, src], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    assert r.returncode == 1, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("husk: image import: "), r
    assert "No space left on device" in lines[0], r
    assert r.stdout.split() == ["/tmp:", "/layers:", "/images:"] or \
        [w for w in r.stdout.split() if not w.endswith(":")] == [], r


def test_help_lists_every_option():
    out = subprocess.run([HUSK, "image", "--help"], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    for opt in ("--storage-root", "--name", "--platform", "--quiet", "--force", "--format"):
        assert opt in out, out
    for sub in ("import", "ls", "rm", "prune", "unpack"):
        assert f"   {sub} " in out, out
        h = subprocess.run([HUSK, "image", sub, "--help"], stdout=subprocess.PIPE,
                           universal_newlines=True)
        assert h.returncode == 0 and f"husk image {sub}" in h.stdout and "--storage-root" in h.stdout


def test_rootless_import(env, store):
    """As an unprivileged user without subordinate ids (nobody): devices
    skipped with one warning, files the user's own with one warning that
    owners are not kept and why, whiteouts and opaque dirs still in
    overlay form."""
    img = test_image()
    src = img.write_oci_tar(env.base + "/src.tar")
    home = env.base + "/home"
    os.mkdir(home)
    os.chown(home, 65534, 65534)
    os.chmod(env.base + "/src.tar", 0o644)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "env", f"HOME={home}", "XDG_DATA_HOME=", HUSK, "image", "import", src],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert r.returncode == 0, r
    warnings = r.stderr.strip().splitlines()
    assert len([w for w in warnings if "device nodes skipped" in w]) == 1, r
    kept = [w for w in warnings if "owners are not kept" in w]
    assert len(kept) == 1 and "no range in /etc/subuid" in kept[0], r
    s = home + "/.local/share/husk"
    top = layer_dir(s, img, 1)
    assert os.lstat(top + "/data/file").st_uid == 65534
    assert not os.path.exists(top + "/dev/zero")
    assert os.getxattr(top + "/opq", "user.overlay.opaque") == b"y"
    assert os.lstat(top + "/etc/removeme").st_rdev == 0
    b = env.base + "/b"
    os.mkdir(b)
    os.chown(b, 65534, 65534)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "env", f"HOME={home}", HUSK, "image", "unpack", img.id, b],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert r.returncode == 0, r
    check_rootfs(b + "/rootfs", rootless=True)
    assert json.load(open(b + "/config.json"))["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": 65534, "size": 1}]


# --- rootless with subordinate ids: owners as the user namespace shows them ---

def rootless_store(user):
    from test_box_rootless import subid
    uids, gids = subid(user.name, "/etc/subuid"), subid(user.name, "/etc/subgid")
    return os.path.join(user.xdg, "store"), uids, gids


def user_import(user, store, img, name):
    src = img.write_oci_dir(os.path.join(user.env.base, "src-" + name.replace(":", "_")))
    return user("image", "import", "--storage-root", store, src, "--name", name)


def subid_files(top, uids, gids):
    """Paths below top owned by a subordinate uid or gid of the user."""
    found = []
    for dp, dns, fns in os.walk(top):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            st = os.lstat(n)
            if uids[0] <= st.st_uid < uids[0] + uids[1] or gids[0] <= st.st_gid < gids[0] + gids[1]:
                found.append(n)
    return found


STAT_OWNERS = "stat -c '%n %u:%g %a' /data /data/file /bin/suid /bin/sgid /home/user /etc/motd"
OWNERS = ["/data 1000:50 751", "/data/file 1000:50 644", "/bin/suid 0:0 4755",
          "/bin/sgid 0:50 2755", "/home/user 1000:1000 755", "/etc/motd 0:0 644"]


def test_rootless_import_keeps_owners(user):
    """A user with subordinate ids imports in a user namespace mapping it to
    0 and its range to 1..N: on the host a file of uid 0 is the user's, one
    of 1000 is subuid_start+999; boxes (overlay and vfs) show the image's
    owners; devices are still skipped (one warning), nothing about owners."""
    store, uids, gids = rootless_store(user)
    img = test_image()
    r = user_import(user, store, img, "t:1")
    assert r.rc == 0, r
    warnings = r.err.strip().splitlines()
    assert len(warnings) == 1 and "device nodes skipped" in warnings[0], r
    top = layer_dir(store, img, 1)
    st = os.lstat(top + "/data/file")
    assert (st.st_uid, st.st_gid) == (uids[0] + 999, gids[0] + 49)
    assert os.lstat(top + "/data/link").st_ino == st.st_ino
    st = os.lstat(top + "/bin/suid")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (user.uid, user.uid, 0o4755)
    assert os.lstat(top + "/bin/sgid").st_gid == gids[0] + 49
    assert os.lstat(layer_dir(store, img, 0) + "/home/user").st_uid == uids[0] + 999
    assert os.getxattr(top + "/opq", "user.overlay.opaque") == b"y"
    assert stat.S_ISCHR(os.lstat(top + "/etc/removeme").st_mode)
    assert not os.path.lexists(top + "/dev/zero")
    # set by root of the namespace: a v3 capability naming the user as its root
    cap = os.getxattr(top + "/bin/capped", "security.capability")
    assert len(cap) == 24 and int.from_bytes(cap[20:24], "little") == user.uid
    for drv in ("overlay", "vfs"):
        r = user("box", "--storage-root", store, "--storage", drv, "t:1", "sh", "-c", STAT_OWNERS)
        assert (r.rc, r.out.splitlines()) == (0, OWNERS), (drv, r)
    assert user.ids() == []


def test_rootless_unpack_run_rm_prune(user):
    """The mapped store's image unpacked by the user (copied in the user
    namespace: files it could not read) into a bundle whose config maps
    the same ids, run rootless with the same owners; image rm and prune
    then leave no file of a subordinate id in the store."""
    store, uids, gids = rootless_store(user)
    img = test_image()
    assert user_import(user, store, img, "t:1").rc == 0
    # a file only its (subordinate) owner may read
    top = layer_dir(store, img, 1)
    os.chmod(top + "/data/file", 0o600)
    bundle = os.path.join(user.xdg, "bundle")
    r = user("image", "unpack", "--storage-root", store, "t:1", bundle)
    assert r.rc == 0, r
    rootfs = bundle + "/rootfs"
    assert os.lstat(rootfs + "/data/file").st_uid == uids[0] + 999
    assert os.lstat(rootfs + "/bin/suid").st_uid == user.uid
    assert stat.S_IMODE(os.lstat(rootfs + "/bin/suid").st_mode) == 0o4755
    assert os.getxattr(rootfs + "/data/file", "user.test") == b"hello"
    cap = os.getxattr(rootfs + "/bin/capped", "security.capability")
    assert len(cap) == 24 and int.from_bytes(cap[20:24], "little") == user.uid
    lx = json.load(open(bundle + "/config.json"))["linux"]
    assert lx["uidMappings"] == [{"containerID": 0, "hostID": user.uid, "size": 1},
                                 {"containerID": 1, "hostID": uids[0], "size": uids[1]}]
    assert lx["gidMappings"][1] == {"containerID": 1, "hostID": gids[0], "size": gids[1]}
    cfg = json.load(open(bundle + "/config.json"))
    cfg["process"]["args"] = ["sh", "-c", STAT_OWNERS]
    json.dump(cfg, open(bundle + "/config.json", "w"))
    r = user("run", "--bundle", bundle, "unpacked")
    expect = [o.replace(" 644", " 600") if o.startswith("/data/file ") else o for o in OWNERS]
    assert (r.rc, r.out.splitlines()) == (0, expect), r
    assert subid_files(store, uids, gids)
    r = user("image", "rm", "--storage-root", store, "t:1")
    assert r.rc == 0, r
    r = user("image", "prune", "--storage-root", store)
    assert r.rc == 0, r
    st = store_state(store)
    assert st["layers"] == [] and st["images"] == [] and st["tmp"] == [], st
    assert subid_files(store, uids, gids) == []


def test_rootless_ids_outside_the_range(user):
    """An owner the user namespace does not map (above the subordinate
    range): one warning, the file kept as root's (the user's on the host)."""
    store, uids, gids = rootless_store(user)
    big = uids[1] + 10
    img = Image([busybox_layer(), Layer().file("far", b"x", uid=big, gid=0)
                 .file("far2", b"y", uid=0, gid=gids[1] + 5).file("near", b"z", uid=7, gid=7)],
                config={"Cmd": ["sh"]})
    r = user_import(user, store, img, "far:1")
    assert r.rc == 0, r
    warnings = r.err.strip().splitlines()
    assert len(warnings) == 1 and "does not map" in warnings[0] and str(big) in warnings[0], r
    top = layer_dir(store, img, 1)
    assert (os.lstat(top + "/far").st_uid, os.lstat(top + "/far2").st_gid) == (user.uid, user.uid)
    assert os.lstat(top + "/near").st_uid == uids[0] + 6
    r = user("box", "--storage-root", store, "far:1", "stat", "-c", "%u:%g", "/far", "/far2", "/near")
    assert (r.rc, r.out.split()) == (0, ["0:0", "0:0", "7:7"]), r


def test_rootless_progress_and_bad_layers(user):
    """Extracting in the user namespace keeps the progress bar (drawn there,
    finished here at 100%) and the checks: a digest mismatch and a hostile
    path fail with one line, leaving the store as it was (the partial layer
    of subordinate ids removed)."""
    import pty
    store, uids, gids = rootless_store(user)
    img = test_image()
    src = img.write_oci_dir(os.path.join(user.env.base, "src-pty"))
    master, slave = pty.openpty()
    argv = ["runuser", "-u", user.name, "--", "env", "-i", f"HOME={user.home}", user.husk,
            "image", "import", "--storage-root", store, src]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                       universal_newlines=True, timeout=30)
    os.close(slave)
    err = os.read(master, 65536).decode()
    os.close(master)
    assert r.returncode == 0, err
    bars = [b for b in err.replace("\r\n", "\n").split("\r") if b.startswith("importing [")]
    assert bars and "100%" in bars[-1] and bars[-1].endswith("\n"), repr(err)
    # a warning (device nodes skipped) clears the bar's line first
    for line in err.replace("\r\n", "\n").split("\n"):
        if "warning" in line:
            assert line.startswith("husk: warning") or "\r\x1b[Khusk: warning" in line, repr(err)
    assert "device nodes skipped" in err, repr(err)
    store = os.path.join(user.xdg, "store2")  # none of the layers there yet
    assert user("image", "ls", "--storage-root", store).rc == 0
    before = store_state(store)
    bad = test_image("zstd")
    d = bad.layer_digests[1]
    bad.layer_digests[1] = "sha256:" + "0" * 64
    bsrc = bad.write_oci_dir(os.path.join(user.env.base, "src-bad"))
    os.rename(f"{bsrc}/blobs/sha256/{d[7:]}", f"{bsrc}/blobs/sha256/{'0' * 64}")
    for r, why in ((user("image", "import", "--storage-root", store, bsrc), "digest mismatch"),
                   (user_import(user, store, hostile(HOSTILE["symlink-then-file"]), "evil:1"),
                    "refused")):
        errs = [ln for ln in r.err.splitlines() if "device nodes skipped" not in ln]
        assert r.rc != 0 and len(errs) == 1 and errs[0].startswith("husk: image import: ") \
            and why in errs[0], r
        assert store_state(store) == before and not os.path.exists("/tmp/evil")
    assert subid_files(store, uids, gids) == []


def user_procs(uid):
    """Pids of the live (not zombie) processes running as uid."""
    pids = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.stat(f"/proc/{p}").st_uid == uid and \
                    "\nState:\tZ" not in open(f"/proc/{p}/status").read():
                pids.append(int(p))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return pids


def test_rootless_sigkill_during_import(user):
    """A mapped import killed half-way: its extracting child (root of the
    user namespace) dies with it, and the next open of the store removes
    the partial layer, files of subordinate ids included."""
    store, uids, gids = rootless_store(user)
    assert user("image", "ls", "--storage-root", store).rc == 0
    before = store_state(store)
    big = Layer().dir("d", uid=1000, gid=1000).file("d/big", os.urandom(256 << 20), uid=1000)
    src = Image([busybox_layer(), big], compression="none").write_oci_dir(user.env.base + "/src")
    assert user_procs(user.uid) == []
    p = subprocess.Popen(["setpriv", f"--reuid={user.uid}", f"--regid={user.uid}",
                          "--init-groups", "env", "-i", f"HOME={user.home}", user.husk, "image",
                          "import", "--storage-root", store, src],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = os.path.join(store, "tmp")

    def extracting():
        for t in os.listdir(tmp):
            for c in os.listdir(os.path.join(tmp, t)):
                if os.path.exists(os.path.join(tmp, t, c, "diff", "d", "big")):
                    return True
        return False

    assert wait_for(extracting, timeout=30, interval=0.002), "import never got to the big layer"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert wait_for(lambda: user_procs(user.uid) == [], timeout=10), user_procs(user.uid)
    assert subid_files(tmp, uids, gids)  # what it left...
    assert user("image", "ls", "--storage-root", store).rc == 0
    assert store_state(store) == before  # ...is gone at the next open
    assert subid_files(store, uids, gids) == []


def test_rootless_dead_import_cleaned(user):
    """What a dead import left in tmp/ with files of subordinate ids (that
    the user alone may not remove) goes at the next open of the store."""
    store, uids, gids = rootless_store(user)
    assert user("image", "ls", "--storage-root", store).rc == 0
    dead = os.path.join(store, "tmp", "1-dead")
    os.makedirs(dead + "/x/diff/d")
    with open(dead + "/x/diff/d/f", "w") as f:
        f.write("x")
    for p in (dead + "/x/diff/d/f", dead + "/x/diff/d", dead + "/x/diff"):
        os.chown(p, uids[0] + 5, gids[0] + 5)
    os.chmod(dead + "/x/diff/d", 0o500)
    for p in (dead, dead + "/x"):
        os.chown(p, user.uid, user.uid)
    r = user("image", "ls", "--storage-root", store)
    assert r.rc == 0 and r.err == "", r
    assert os.listdir(os.path.join(store, "tmp")) == []


def test_concurrent_imports(env, store):
    """Imports running at once, sharing a layer: all succeed, the layer is
    stored once, nothing is left in tmp/."""
    base = base_layer()
    imgs = [Image([base, Layer().file(n, n.encode())], config={"Cmd": [n]}) for n in ("a", "b")]
    srcs = [img.write_oci_dir(f"{env.base}/{i}") for i, img in enumerate(imgs)]
    procs = [subprocess.Popen(env.rt.cmd("image", "import", "--storage-root", store, "--name",
                                         f"n{k}", srcs[k % 2]),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(6)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    st = store_state(store)
    assert len(st["layers"]) == 3 and st["tmp"] == [] and sorted(st["images"]) == sorted(
        i.id for i in imgs)
    assert st["names"] == {f"n{k}:latest": imgs[k % 2].id for k in range(6)}
