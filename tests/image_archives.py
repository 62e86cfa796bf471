"""Image archives made in the tests, as Docker and Podman make them: `docker save` tarballs and OCI image layouts.

The images are tiny and real: a statically linked busybox (Debian's busybox-static) and its applet links, so a box
can run a shell from them without anything of the host's runtime.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "cat", "echo", "ls", "id", "env", "pwd", "test", "touch", "mkdir", "rm", "wc", "stat", "head", "rev",
           "tr", "grep")

Member = Callable[[tarfile.TarFile], None]


def busybox() -> bytes:
    if not os.path.isfile(BUSYBOX):
        raise AssertionError(f"{BUSYBOX} is missing: the image tests need Debian's busybox-static package")
    return Path(BUSYBOX).read_bytes()


def file(name: str, data: bytes = b"", mode: int = 0o644) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, 1_700_000_000
        tar.addfile(info, io.BytesIO(data))

    return add


def directory(name: str, mode: int = 0o755) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, 1_700_000_000
        tar.addfile(info)

    return add


def symlink(name: str, target: str) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        tar.addfile(info)

    return add


def device(name: str) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.devmajor, info.devminor, info.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tar.addfile(info)

    return add


def layer_tar(members: Sequence[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            member(tar)
    return buffer.getvalue()


def base_layer(extra: Sequence[Member] = ()) -> list[Member]:
    """busybox, its applets, and an /etc/passwd of the image's own (the box's generated one must win)."""
    return [directory("bin"), file("bin/busybox", busybox(), 0o755),
            *[symlink(f"bin/{applet}", "busybox") for applet in APPLETS],
            directory("etc"), file("etc/passwd", b"root:x:0:0:image-root:/root:/bin/sh\n"),
            file("etc/image-release", b"tiny busybox image\n"), *extra]  # fmt: skip


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ImageSpec:
    layers: list[bytes]  # uncompressed layer tars, bottom first
    env: list[str] = field(default_factory=lambda: ["PATH=/bin:/usr/bin", "IMAGE_GREETING=hello from the image"])
    workdir: str = "/"

    def config(self) -> bytes:
        return json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2026-11-01T00:00:00Z",
            "config": {"Env": self.env, "WorkingDir": self.workdir, "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in self.layers]},
        }, sort_keys=True).encode()  # fmt: skip


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def docker_save(path: Path, images: dict[str, ImageSpec]) -> Path:
    """A `docker save` archive in the classic format: manifest.json, <config>.json, <layer id>/layer.tar (a layer
    that two images share is stored once, the other image's entry a symlink to it, as Docker does)."""
    manifest = []
    written: dict[str, str] = {}
    with tarfile.open(path, "w") as tar:
        for tag, spec in images.items():
            config = spec.config()
            config_name = sha256(config).split(":")[1] + ".json"
            _add(tar, config_name, config)
            names = []
            for index, layer in enumerate(spec.layers):
                digest = sha256(layer).split(":")[1]
                name = f"{digest}{index}/layer.tar" if digest in written else f"{digest}/layer.tar"
                if digest in written:
                    info = tarfile.TarInfo(name)
                    info.type, info.linkname = tarfile.SYMTYPE, f"../{written[digest]}"
                    tar.addfile(info)
                else:
                    _add(tar, name, layer)
                    written[digest] = name
                names.append(name)
            manifest.append({"Config": config_name, "RepoTags": [tag], "Layers": names})
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def oci_layout(path: Path, tag: str, spec: ImageSpec, compress: bool = True) -> Path:
    """An OCI image layout in a tarball (as `skopeo copy ... oci-archive:` or `docker save` 25+ write), its layers
    gzip-compressed by default."""
    blobs: dict[str, bytes] = {}
    layers = []
    for layer in spec.layers:
        data = gzip.compress(layer, mtime=0) if compress else layer
        blobs[sha256(data)] = data
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else ""),
                       "digest": sha256(data), "size": len(data)})  # fmt: skip
    config = spec.config()
    blobs[sha256(config)] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha256(config), "size": len(config)},
                           "layers": layers}).encode()  # fmt: skip
    blobs[sha256(manifest)] = manifest
    repository, _, reference = tag.rpartition(":")
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(manifest),
         "size": len(manifest), "platform": {"os": "linux", "architecture": "amd64"},
         "annotations": {"io.containerd.image.name": f"docker.io/library/{repository}:{reference}",
                         "org.opencontainers.image.ref.name": reference}}]}  # fmt: skip
    with tarfile.open(path, "w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            _add(tar, f"blobs/sha256/{digest.split(':')[1]}", data)
    return path
