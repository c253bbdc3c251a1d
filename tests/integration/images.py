"""Build container images in Python for the image tests (and the box tests
later): layers as tar files (tarfile, PAX headers for xattrs), gzip or
zstd compressed, written as an OCI layout directory, an OCI layout tar or
a docker-save tarball, with the digests the image spec asks for.

    img = Image([busybox_layer(), Layer().file("etc/motd", b"hi\\n")],
                config={"Cmd": ["sh"]})
    img.write_oci_dir(path, ref="example.com/test:1")
"""
import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import tarfile

from helpers import BUSYBOX

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {"none": "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}

PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
GROUP = "root:x:0:\nuser:x:1000:\nstaff:x:50:\n"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def cap_xattr(*bits):
    """security.capability (VFS_CAP_REVISION_2, effective) granting bits."""
    lo = sum(1 << b for b in bits if b < 32)
    hi = sum(1 << (b - 32) for b in bits if b >= 32)
    return struct.pack("<IIIII", 0x02000001, lo, 0, hi, 0)


class Layer:
    """One layer's tar, entry by entry (kept in order)."""

    def __init__(self, mtime=1700000000):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.mtime = mtime
        self._data = None

    def _add(self, name, type_, mode, data=None, uid=0, gid=0, xattrs=None, **kw):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = type_, mode, uid, gid, self.mtime
        for k, v in kw.items():
            setattr(ti, k, v)
        if xattrs:
            ti.pax_headers = {"SCHILY.xattr." + k: v.decode("latin-1") if isinstance(v, bytes) else v
                              for k, v in xattrs.items()}
        if data is not None:
            ti.size = len(data)
            self.tar.addfile(ti, io.BytesIO(data))
        else:
            self.tar.addfile(ti)
        return self

    def dir(self, name, mode=0o755, **kw):
        return self._add(name, tarfile.DIRTYPE, mode, **kw)

    def file(self, name, data=b"", mode=0o644, **kw):
        return self._add(name, tarfile.REGTYPE, mode, data=data, **kw)

    def symlink(self, name, target, **kw):
        return self._add(name, tarfile.SYMTYPE, 0o777, linkname=target, **kw)

    def hardlink(self, name, target, **kw):
        return self._add(name, tarfile.LNKTYPE, 0o644, linkname=target, **kw)

    def fifo(self, name, mode=0o644, **kw):
        return self._add(name, tarfile.FIFOTYPE, mode, **kw)

    def chardev(self, name, major, minor, mode=0o666, **kw):
        return self._add(name, tarfile.CHRTYPE, mode, devmajor=major, devminor=minor, **kw)

    def whiteout(self, path):
        d, n = os.path.split(path)
        return self.file(os.path.join(d, ".wh." + n))

    def opaque(self, dirpath):
        return self.file(os.path.join(dirpath, ".wh..wh..opq"))

    def data(self):
        """The uncompressed tar (the layer is closed on first use)."""
        if self._data is None:
            self.tar.close()
            self._data = self.buf.getvalue()
        return self._data


def busybox_layer(applets=("sh", "ls", "cat", "echo", "stat", "id", "test", "readlink",
                           "getfattr", "true", "pwd", "env")):
    """bin/busybox with a few applet links, /etc/passwd and /etc/group."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    lay = Layer()
    for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "home", "home/user"):
        lay.dir(d, mode=0o1777 if d == "tmp" else 0o755,
                uid=1000 if d == "home/user" else 0, gid=1000 if d == "home/user" else 0)
    lay.file("bin/busybox", bb, mode=0o755)
    for a in applets:
        lay.symlink("bin/" + a, "busybox")
    lay.file("etc/passwd", PASSWD.encode())
    lay.file("etc/group", GROUP.encode())
    return lay


def compress(data, kind):
    if kind == "none":
        return data
    if kind == "gzip":
        return gzip.compress(data, mtime=0)
    if kind == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    raise ValueError(kind)


class Image:
    """layers: [Layer or bytes (an uncompressed tar)], compression per layer
    (one kind or a list); config: the "config" object (Cmd, Env, ...)."""

    def __init__(self, layers, compression="gzip", config=None, arch="amd64", created=None):
        self.tars = [lay.data() if isinstance(lay, Layer) else lay for lay in layers]
        kinds = compression if isinstance(compression, list) else [compression] * len(self.tars)
        self.kinds = kinds
        self.blobs = [compress(t, k) for t, k in zip(self.tars, kinds)]
        self.config = {
            "created": created or "2024-01-02T03:04:05Z",
            "architecture": arch, "os": "linux",
            "config": config or {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(t) for t in self.tars]},
        }
        # tests may tamper with these before writing
        self.layer_digests = ["sha256:" + sha256(b) for b in self.blobs]

    def config_bytes(self):
        return json.dumps(self.config, sort_keys=True).encode()

    @property
    def id(self):
        return sha256(self.config_bytes())

    def manifest_bytes(self):
        cfg = self.config_bytes()
        m = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
             "config": {"mediaType": MT_CONFIG, "digest": "sha256:" + sha256(cfg), "size": len(cfg)},
             "layers": [{"mediaType": MT_LAYER[k], "digest": d, "size": len(b)}
                        for k, d, b in zip(self.kinds, self.layer_digests, self.blobs)]}
        return json.dumps(m).encode()

    def oci_files(self, ref=None, platform=True, extra_manifests=()):
        """{relative path: bytes} of an OCI layout.  extra_manifests:
        (Image, arch) pairs listed first in the index (other platforms)."""
        files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
        entries = []
        for img, arch in list(extra_manifests) + [(self, self.config["architecture"])]:
            man = img.manifest_bytes()
            files["blobs/sha256/" + sha256(man)] = man
            cfg = img.config_bytes()
            files["blobs/sha256/" + sha256(cfg)] = cfg
            for b in img.blobs:
                files["blobs/sha256/" + sha256(b)] = b
            d = {"mediaType": MT_MANIFEST, "digest": "sha256:" + sha256(man), "size": len(man)}
            if platform:
                d["platform"] = {"os": "linux", "architecture": arch}
            if ref and img is self:
                d["annotations"] = {"org.opencontainers.image.ref.name": ref}
            entries.append(d)
        files["index.json"] = json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX,
                                          "manifests": entries}).encode()
        return files

    def docker_files(self, tags=()):
        cfg = self.config_bytes()
        files = {sha256(cfg) + ".json": cfg}
        paths = []
        for t, b in zip(self.tars, self.blobs):
            p = sha256(t) + "/layer.tar"
            files[p] = b
            paths.append(p)
        files["manifest.json"] = json.dumps([{"Config": sha256(cfg) + ".json",
                                              "RepoTags": list(tags), "Layers": paths}]).encode()
        return files

    def write_oci_dir(self, path, **kw):
        write_tree(path, self.oci_files(**kw))
        return path

    def write_oci_tar(self, path, **kw):
        write_tar(path, self.oci_files(**kw))
        return path

    def write_docker_tar(self, path, tags=()):
        write_tar(path, self.docker_files(tags))
        return path


def write_tree(path, files):
    for rel, data in files.items():
        p = os.path.join(path, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def write_tar(path, files):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for rel, data in files.items():
            ti = tarfile.TarInfo(rel)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
