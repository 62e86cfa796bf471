"""Images: ordered stacks of read-only layers, content-addressed and shared between images, that become a box's root.

An image is what Docker and Podman build: a base layer and layers on top, each a tar archive of the files it adds,
changes or deletes (whiteouts). The store keeps each layer twice: the archive as it came (a blob, for export and
push, named by its sha256 — the layer's identity) and unpacked into a directory that overlayfs uses as a lower
layer (executor/layers.py: unpacked as hostile input, whiteouts in overlayfs' own form). Two images that share a
layer share its directory. The built-in image `host` is no image at all: the host's runtime directories, bound
read-only (mounts.Layout); every other image's root is an overlay of its layers.

Layout of the store (root only, 0700):

    index.json                 the images: name → layers (bottom first), config digest, environment, workdir, ...
    blobs/sha256/<hex>         layer archives, image configs and manifests, as received
    layers/sha256/<hex>/       the unpacked layer of the archive <hex>
    tmp/                       work in progress, removed by the next change: a failed import leaves nothing
    lock                       every change holds it (flock); readers need not

A change (import, tag, remove, garbage collection) writes new blobs and layer directories under tmp/, moves them
into place with rename(2) once complete, and publishes them by replacing index.json last (write, fsync, rename):
until then no image refers to them, and an interrupted change is undone by removing tmp/ and unreferenced files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from executor import layers as layers_mod
from executor import mounts
from executor.config import Config
from executor.layers import LayerCaps

HOST = "host"  # the built-in image: the host's own runtime, read-only
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,127}:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
COPY_CHUNK = 1 << 20
INDEX_VERSION = 1

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


class ImageError(Exception):
    """An image operation that cannot be done; the message is one line, for an admin."""


class ImageNotFound(ImageError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such image"


@dataclass(frozen=True)
class Layer:
    digest: str  # "sha256:<hex>" of the archive as stored: the layer's identity
    diff_id: str  # "sha256:<hex>" of the uncompressed tar (what image configs list)
    media_type: str
    size: int  # bytes of the archive
    unpacked: int  # bytes of file content
    files: int


@dataclass(frozen=True)
class Image:
    name: str  # "repository:tag"
    config_digest: str  # "sha256:<hex>" of the image config JSON: the image's id
    layers: tuple[Layer, ...]  # bottom first, as manifests list them
    env: tuple[str, ...] = ()  # "KEY=value", from the image config
    workdir: str = ""
    created: str = ""  # RFC 3339, from the image config
    imported: str = ""  # RFC 3339, when it came into this store
    source: str = ""  # where it came from: a file, a registry reference, a recipe

    @property
    def id(self) -> str:
        return self.config_digest

    @property
    def size(self) -> int:
        return sum(layer.unpacked for layer in self.layers)

    def environment(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.env if "=" in item)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Image:
        return cls(**{**data, "layers": tuple(Layer(**layer) for layer in data["layers"]),
                      "env": tuple(data.get("env", ()))})  # fmt: skip


@dataclass(frozen=True)
class NewLayer:
    """A layer archive waiting to be added: a file under the store's tmp/ (see Change.blob_file), or "" for a
    layer the store has already (an image built on a stored base)."""

    path: str
    digest: str
    media_type: str


def check_name(name: str) -> str:
    """`repository:tag` in Docker's lower-case repository form; a clear error otherwise."""
    if name == HOST:
        raise ImageError(f"image name {name!r} is reserved for the host's own runtime")
    if not NAME_RE.match(name) or "//" in name or name.startswith("/") or "/." in name:
        raise ImageError(f"image name {name!r}: must be repository:tag (lower-case repository, e.g. python:3.12)")
    return name


def digest_hex(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise ImageError(f"not a sha256 digest: {digest!r}")
    return digest.split(":", 1)[1]


class Store:
    """The image store at `path` (made on first use, root only)."""

    def __init__(self, path: str, caps: LayerCaps | None = None) -> None:
        """`caps`: what one image may hold, all its layers together (checked while they are unpacked)."""
        self.path = path
        self.caps = caps or LayerCaps(Config.image_max_bytes, Config.image_max_files)

    # ---------------------------------------------------------------------------------------------- reading --
    # Reads take no lock: index.json is only ever replaced whole (rename), so a reader sees the old index or the new
    # one, and a box starting on an image never waits for an import or a pull (which may take minutes).
    def images(self) -> list[Image]:
        return sorted(self._read_index().values(), key=lambda image: image.name)

    def get(self, name: str) -> Image:
        found = self._read_index().get(name)
        if found is None:
            raise ImageNotFound(f"no image {name!r} in the store (see: images list)")
        return found

    def layer_dirs(self, image: Image) -> list[str]:
        """The unpacked layers of `image`, top first, as overlayfs' lowerdir wants them."""
        return [self.layer_dir(layer.digest) for layer in reversed(image.layers)]

    def layer_dir(self, digest: str) -> str:
        return os.path.join(self.path, "layers", "sha256", digest_hex(digest))

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.path, "blobs", "sha256", digest_hex(digest))

    def read_blob(self, digest: str, limit: int = 16 * 1024 * 1024) -> bytes:
        """A small blob (a config, a manifest), checked against its digest."""
        with open(self.blob_path(digest), "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit or "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageError(f"blob {digest} is damaged or too large")
        return data

    # ---------------------------------------------------------------------------------------------- changes --
    @contextlib.contextmanager
    def change(self) -> Iterator[Change]:
        """One change of the store, under its lock; nothing of it is visible unless it completes."""
        with self._locked():
            tmp = os.path.join(self.path, "tmp")
            shutil.rmtree(tmp, ignore_errors=True)  # what an interrupted change left
            os.mkdir(tmp, 0o700)
            change = Change(self, tmp, self._read_index())
            try:
                yield change
                change.commit()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def tag(self, source: str, target: str) -> Image:
        with self.change() as change:
            image = change.get(source)
            change.put(Image(**{**asdict(image), "name": check_name(target), "layers": image.layers}))
            return change.get(target)

    def remove(self, name: str) -> Image:
        """Forget an image (its layers stay until `gc`, which removes those no image uses)."""
        with self.change() as change:
            image = change.get(name)
            del change.index[name]
            return image

    def gc(self) -> list[str]:
        """Remove the layers and blobs no image refers to; their digests."""
        with self.change() as change:
            return change.collect_garbage()

    # ------------------------------------------------------------------------------------------- internals --
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._ensure()
        fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _ensure(self) -> None:
        for sub in ("", "blobs/sha256", "layers/sha256"):
            os.makedirs(os.path.join(self.path, sub), mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)

    def _read_index(self) -> dict[str, Image]:
        try:
            with open(os.path.join(self.path, "index.json"), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        if data.get("version") != INDEX_VERSION:
            raise ImageError(f"{self.path}/index.json: unknown version {data.get('version')!r}")
        return {name: Image.from_json(image) for name, image in data["images"].items()}


@dataclass
class Change:
    """What one change adds, under the store's lock: blobs and layers first (in tmp/, then moved), the index last."""

    store: Store
    tmp: str
    index: dict[str, Image]
    _counter: int = field(default=0)

    def get(self, name: str) -> Image:
        image = self.index.get(name)
        if image is None:
            raise ImageNotFound(f"no image {name!r} in the store (see: images list)")
        return image

    def put(self, image: Image) -> None:
        self.index[image.name] = image

    def temp_path(self, suffix: str = "") -> str:
        self._counter += 1
        return os.path.join(self.tmp, f"{self._counter}{suffix}")

    def blob_file(self, source: BinaryIO, max_bytes: int, expected: str | None = None) -> tuple[str, str, int]:
        """Copy a stream into a file under tmp/, hashing it: (path, "sha256:<hex>", size). `expected` is checked."""
        path = self.temp_path(".blob")
        digest = hashlib.sha256()
        size = 0
        with open(path, "xb") as out:
            while chunk := source.read(COPY_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ImageError(f"a blob is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
        found = "sha256:" + digest.hexdigest()
        if expected is not None and found != expected:
            raise ImageError(f"a blob does not match its digest: expected {expected}, got {found}")
        return path, found, size

    def add_blob(self, path: str, digest: str) -> None:
        """Move a complete blob file (from blob_file) into the store, unless it is there already."""
        final = self.store.blob_path(digest)
        if os.path.exists(final):
            os.unlink(path)
        else:
            os.chmod(path, 0o600)
            os.rename(path, final)

    def add_bytes(self, data: bytes) -> str:
        """A small blob (a config, a manifest); its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.temp_path(".blob")
        with open(path, "xb") as f:
            f.write(data)
        self.add_blob(path, digest)
        return digest

    def add_image(self, name: str, config: bytes, new_layers: Sequence[NewLayer], source: str) -> Image:
        """An image from its config JSON and its layer archives (bottom first, files from blob_file)."""
        check_name(name)
        try:
            parsed = json.loads(config)
        except ValueError as e:
            raise ImageError(f"the image config is not JSON: {e}") from None
        if not isinstance(parsed, dict):
            raise ImageError("the image config is not a JSON object")
        settings = parsed.get("config") or {}
        env = settings.get("Env") or []
        if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
            raise ImageError("the image config's Env is not a list of strings")
        workdir = settings.get("WorkingDir") or ""
        diff_ids = (parsed.get("rootfs") or {}).get("diff_ids")
        budget = self.store.caps
        stored: list[Layer] = []
        for position, new in enumerate(new_layers):
            layer = self._add_layer(new, budget)
            budget = LayerCaps(budget.max_bytes - layer.unpacked, budget.max_files - layer.files)
            if isinstance(diff_ids, list) and len(diff_ids) == len(new_layers) and diff_ids[position] != layer.diff_id:
                raise ImageError(f"layer {position + 1} ({new.digest}) does not match the config's diff_id "
                                 f"{diff_ids[position]}")  # fmt: skip
            stored.append(layer)
        image = Image(name=name, config_digest=self.add_bytes(config), layers=tuple(stored), env=tuple(env),
                      workdir=str(workdir), created=str(parsed.get("created") or ""), imported=_now(),
                      source=source)  # fmt: skip
        self.put(image)
        return image

    def _add_layer(self, new: NewLayer, budget: LayerCaps) -> Layer:
        existing = self._known_layer(new.digest)
        if existing is not None and os.path.isdir(self.store.layer_dir(new.digest)):
            if existing.unpacked > budget.max_bytes or existing.files > budget.max_files:
                raise ImageError(f"the image is larger than {self.store.caps.max_bytes} bytes or "
                                 f"{self.store.caps.max_files} files")  # fmt: skip
            if new.path:
                os.unlink(new.path)
            return existing
        if not new.path:
            raise ImageError(f"layer {new.digest} is not in the store")
        work = self.temp_path(".layer")
        os.mkdir(work, 0o755)
        try:
            with open(new.path, "rb") as archive:
                unpacked = layers_mod.unpack(archive, work, budget)  # what the image's earlier layers left
        except layers_mod.LayerError as e:
            raise ImageError(f"layer {new.digest}: {e}") from None
        size = os.path.getsize(new.path)
        self.add_blob(new.path, new.digest)
        final = self.store.layer_dir(new.digest)
        if os.path.lexists(final):  # a directory of an interrupted change that never reached the index
            shutil.rmtree(final)
        os.rename(work, final)
        return Layer(digest=new.digest, diff_id=unpacked.diff_id, media_type=new.media_type, size=size,
                     unpacked=unpacked.bytes, files=unpacked.files)  # fmt: skip

    def _known_layer(self, digest: str) -> Layer | None:
        return next((layer for image in self.index.values() for layer in image.layers if layer.digest == digest),
                    None)  # fmt: skip

    def collect_garbage(self) -> list[str]:
        used_layers = {layer.digest for image in self.index.values() for layer in image.layers}
        used_blobs = used_layers | {image.config_digest for image in self.index.values()}
        removed = []
        layers_root = os.path.join(self.store.path, "layers", "sha256")
        for entry in sorted(os.listdir(layers_root)):
            if f"sha256:{entry}" not in used_layers:
                shutil.rmtree(os.path.join(layers_root, entry))
                removed.append(f"sha256:{entry}")
        blobs_root = os.path.join(self.store.path, "blobs", "sha256")
        for entry in sorted(os.listdir(blobs_root)):
            if f"sha256:{entry}" not in used_blobs:
                os.unlink(os.path.join(blobs_root, entry))
                if f"sha256:{entry}" not in removed:
                    removed.append(f"sha256:{entry}")
        return removed

    def commit(self) -> None:
        data = {"version": INDEX_VERSION, "images": {name: asdict(image) for name, image in sorted(self.index.items())}}
        path = os.path.join(self.tmp, "index.json")
        with open(path, "x", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.rename(path, os.path.join(self.store.path, "index.json"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The box's own: whatever an image sets, the program's home is /box, its user the box user, its temporary files
# on the box's tmpfs.
BOX_OWNED_ENV = frozenset({"HOME", "USER", "LOGNAME", "TMPDIR"})


def box_setup(store: Store, name: str) -> tuple[mounts.Layout, dict[str, str]]:
    """The filesystem layout and the environment of a box whose root is image `name` (`host`: the host's runtime)."""
    if name == HOST:
        return mounts.Layout(), {}
    image = store.get(name)
    env = {key: value for key, value in image.environment().items() if key not in BOX_OWNED_ENV}
    return mounts.Layout(image_layers=tuple(store.layer_dirs(image))), env


def store_of(config: Config) -> Store:
    return Store(config.images_dir, LayerCaps(config.image_max_bytes, config.image_max_files))
