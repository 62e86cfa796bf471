"""Images in and out of the store: `docker save` tarballs, OCI image layouts (as tarballs), and OCI registries.

Everything that comes in is hostile input. The outer archive is read member by member by name (never extracted):
only regular files are read, names are plain relative paths, symbolic links inside a `docker save` archive (which
it uses to share a layer between images) are resolved within the archive, a few levels deep at most. Every blob is
hashed while it is copied and checked against the digest that names it; manifests and configs are small JSON
documents read with a size cap; layers are unpacked by executor/layers.py with the store's caps. A failure at any
point leaves the store as it was (images.Store.change).

Out: an image is exported as an OCI image layout in a tarball (what `skopeo copy oci-archive:` and `docker load`
read) and pushed to a registry as an OCI manifest with its config and layer blobs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from executor import registry
from executor.images import (
    LAYER_TAR,
    LAYER_TAR_GZIP,
    Change,
    Image,
    ImageError,
    NewLayer,
    Store,
    check_name,
    digest_hex,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
LAYER_TYPES = {LAYER_TAR, LAYER_TAR_GZIP, DOCKER_LAYER, DOCKER_LAYER_GZIP,
               "application/vnd.oci.image.layer.v1.tar+zstd"}  # fmt: skip  (zstd: refused by layers.unpack)
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MAX_JSON = 4 * 1024 * 1024  # bytes of a manifest, an index or a config
MAX_LINK_DEPTH = 8
PLATFORM = ("linux", "amd64")


# ------------------------------------------------------------------------------------------------- import ---


def import_archive(store: Store, path: str, name: str | None = None) -> list[Image]:
    """Import every image of a `docker save` tarball or an OCI image layout tarball; `name` names the only one."""
    if name is not None:
        check_name(name)
    try:
        outer = tarfile.open(path, "r:*")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError) as e:
        raise ImageError(f"{os.path.basename(path)}: not a tar archive ({e})") from None
    with outer:
        archive = _Archive(outer)
        found = _oci_images(archive) if archive.has("index.json") and archive.has("oci-layout") \
            else _docker_images(archive) if archive.has("manifest.json") else None  # fmt: skip
        if found is None:
            raise ImageError(f"{os.path.basename(path)}: neither a `docker save` archive (manifest.json) nor an OCI "
                             "image layout (oci-layout, index.json)")  # fmt: skip
        if not found:
            raise ImageError(f"{os.path.basename(path)}: holds no image for {'/'.join(PLATFORM)}")
        if name is not None and len(found) > 1:
            raise ImageError(f"{os.path.basename(path)} holds {len(found)} images: import it without a name (each "
                             "keeps its own) or export one image at a time")  # fmt: skip
        with store.change() as change:
            images = []
            for entry in found:
                image_name = name or entry.name
                if image_name is None:
                    raise ImageError(f"{os.path.basename(path)}: an image without a name inside; give it one (--tag)")
                config = archive.read_bytes(entry.config, entry.config_digest)
                new_layers = [_copy_layer(change, archive, member, digest, media_type)
                              for member, digest, media_type in entry.layers]  # fmt: skip
                images.append(change.add_image(check_name(image_name), config, new_layers,
                                               source=f"file {os.path.basename(path)}"))  # fmt: skip
            return images


@dataclass(frozen=True)
class _Found:
    name: str | None
    config: str  # member name of the config
    config_digest: str | None  # expected digest (OCI), or None (docker save names configs by their digest too)
    layers: list[tuple[str, str | None, str]]  # (member name, expected digest or None, media type)


class _Archive:
    """Read-only access to the members of an outer image archive, by name."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, tarfile.TarInfo] = {}
        for member in tar:
            name = _normal(member.name)
            if name is not None:
                self.members[name] = member  # the last one wins, as tar extraction would have it

    def has(self, name: str) -> bool:
        return name in self.members

    def member(self, name: str) -> tarfile.TarInfo:
        seen = 0
        current = _normal(name)
        while current is not None and seen <= MAX_LINK_DEPTH:
            member = self.members.get(current)
            if member is None:
                break
            if member.isfile():
                return member
            if member.issym():
                # Relative to the link's directory; normalised, so that what climbs out of the archive is refused.
                current = _normal(posixpath.normpath(posixpath.join(posixpath.dirname(current), member.linkname)))
            elif member.islnk():
                current = _normal(member.linkname)
            else:
                break
            seen += 1
        raise ImageError(f"the archive has no readable file {name!r}")

    def open(self, name: str) -> BinaryIO:
        stream = self.tar.extractfile(self.member(name))
        if stream is None:
            raise ImageError(f"the archive has no readable file {name!r}")
        return stream  # type: ignore[return-value]

    def read_bytes(self, name: str, digest: str | None = None) -> bytes:
        """A small member (a manifest, an index, a config), capped, and checked against `digest` if given."""
        with self.open(name) as f:
            data = f.read(MAX_JSON + 1)
        if len(data) > MAX_JSON:
            raise ImageError(f"{name}: larger than {MAX_JSON} bytes")
        if digest is not None and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageError(f"{name} does not match its digest {digest}")
        return data

    def read_json(self, name: str, digest: str | None = None) -> Any:
        try:
            return json.loads(self.read_bytes(name, digest))
        except ValueError as e:
            raise ImageError(f"{name}: not JSON ({e})") from None


def _normal(name: str) -> str | None:
    """A member name as a plain relative path, or None if it is not one (absolute, `..`, empty)."""
    name = name.lstrip("./") if name.startswith("./") else name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts or "\0" in name:
        return None
    return "/".join(parts)


def _blob_name(digest: str) -> str:
    return f"blobs/sha256/{digest_hex(digest)}"


def _oci_images(archive: _Archive) -> list[_Found]:
    index = archive.read_json("index.json")
    found = []
    for descriptor in _descriptors(index, "index.json"):
        annotations = descriptor.get("annotations") or {}
        manifest = _resolve_manifest(archive, descriptor)
        if manifest is None:
            continue
        found.append(_Found(name=_name_from_annotations(annotations), config=_blob_name(manifest["config"]["digest"]),
                            config_digest=manifest["config"]["digest"],
                            layers=[(_blob_name(layer["digest"]), layer["digest"], _layer_type(layer))
                                    for layer in manifest["layers"]]))  # fmt: skip
    return found


def _resolve_manifest(archive: _Archive, descriptor: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | None:
    """The image manifest a descriptor leads to (through nested indexes, choosing linux/amd64), or None."""
    media_type = descriptor.get("mediaType")
    digest = descriptor.get("digest")
    if not isinstance(digest, str) or depth > 4:
        raise ImageError("a manifest descriptor without a digest, or indexes nested too deep")
    data = archive.read_json(_blob_name(digest), digest)
    media_type = data.get("mediaType", media_type)
    if media_type in (OCI_INDEX, DOCKER_LIST) or "manifests" in data:
        for entry in _descriptors(data, digest):
            platform = entry.get("platform") or {}
            if (platform.get("os"), platform.get("architecture")) in (PLATFORM, (None, None)):
                chosen = _resolve_manifest(archive, entry, depth + 1)
                if chosen is not None:
                    return chosen
        return None
    _check_manifest(data, digest)
    manifest: dict[str, Any] = data
    return manifest


def _check_manifest(data: Any, where: str) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict) or not isinstance(data.get("layers"),
                                                                                                 list):  # fmt: skip
        raise ImageError(f"manifest {where}: not an image manifest (schema 2)")
    for descriptor in [data["config"], *data["layers"]]:
        if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
            raise ImageError(f"manifest {where}: a descriptor without a digest")
        digest_hex(descriptor["digest"])
    for layer in data["layers"]:
        _layer_type(layer)


def _layer_type(layer: Mapping[str, Any]) -> str:
    media_type = str(layer.get("mediaType") or LAYER_TAR)
    if media_type not in LAYER_TYPES:
        raise ImageError(f"layer {layer.get('digest')}: media type {media_type!r} is not a layer archive this store "
                         "takes (foreign or non-distributable layers are not)")  # fmt: skip
    return media_type


def _descriptors(index: Any, where: str) -> list[dict[str, Any]]:
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
        raise ImageError(f"{where}: not an image index")
    return manifests


def _name_from_annotations(annotations: Mapping[str, Any]) -> str | None:
    full = annotations.get(CONTAINERD_NAME)
    if isinstance(full, str) and full:
        return short_name(full)
    ref = annotations.get(REF_NAME)
    if isinstance(ref, str) and ":" in ref and "/" not in ref.split(":")[-1]:
        return short_name(ref)
    return None


def short_name(reference: str) -> str:
    """The store's name of a reference, by Docker's rules (registry.Reference): `docker.io/library/python:3.12` →
    `python:3.12`; `localhost:5000/team/img:1` → `team/img:1`; no tag → `:latest`."""
    try:
        return _short(registry.Reference.parse(reference))
    except ValueError as e:
        raise ImageError(f"image name {reference!r}: {e}") from None


def _short(reference: registry.Reference) -> str:
    return f"{reference.repository.removeprefix('library/')}:{reference.tag or 'latest'}"


def _docker_images(archive: _Archive) -> list[_Found]:
    manifest = archive.read_json("manifest.json")
    if not isinstance(manifest, list):
        raise ImageError("manifest.json: not a list of images")
    found = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or not isinstance(
                entry.get("Layers"), list):  # fmt: skip
            raise ImageError("manifest.json: an entry without Config and Layers")
        tags = [t for t in entry.get("RepoTags") or [] if isinstance(t, str)]
        names: list[str | None] = [short_name(t) for t in tags] or [None]
        for name in names:
            found.append(_Found(name=name, config=entry["Config"], config_digest=None,
                                layers=[(str(layer), None, LAYER_TAR) for layer in entry["Layers"]]))  # fmt: skip
    return found


def _copy_layer(change: Change, archive: _Archive, member: str, digest: str | None, media_type: str) -> NewLayer:
    with archive.open(member) as stream:
        path, found, _ = change.blob_file(stream, change.store.caps.max_bytes, expected=digest)
    return NewLayer(path=path, digest=found, media_type=media_type)


# ------------------------------------------------------------------------------------------------- export ---


def manifest_of(image: Image, config_size: int) -> bytes:
    """The image's OCI manifest (deterministic: the same image gives the same bytes, hence the same digest)."""
    store_media = {LAYER_TAR: LAYER_TAR, DOCKER_LAYER: LAYER_TAR, LAYER_TAR_GZIP: LAYER_TAR_GZIP,
                   DOCKER_LAYER_GZIP: LAYER_TAR_GZIP}  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": image.config_digest, "size": config_size},
        "layers": [{"mediaType": store_media.get(layer.media_type, layer.media_type), "digest": layer.digest,
                    "size": layer.size} for layer in image.layers],  # fmt: skip
    }
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()


def export_archive(store: Store, name: str, path: str) -> Image:
    """Write `name` as an OCI image layout tarball at `path` (written aside, then renamed into place)."""
    image = store.get(name)
    config = store.read_blob(image.config_digest)
    manifest = manifest_of(image, len(config))
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    repository, tag = name.rsplit(":", 1)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
         "annotations": {REF_NAME: tag, CONTAINERD_NAME: f"docker.io/{repository}:{tag}"
                         if "/" in repository else f"docker.io/library/{repository}:{tag}"}}]}  # fmt: skip
    partial = f"{path}.partial-{os.getpid()}"
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as out:
            _add_bytes(out, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
            _add_bytes(out, "index.json", json.dumps(index, separators=(",", ":")).encode())
            _add_bytes(out, _blob_name(manifest_digest), manifest)
            _add_bytes(out, _blob_name(image.config_digest), config)
            for layer in image.layers:
                blob = store.blob_path(layer.digest)
                info = out.gettarinfo(blob, arcname=_blob_name(layer.digest))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o644
                with open(blob, "rb") as f:
                    out.addfile(info, f)
        os.rename(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return image


def _add_bytes(out: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    out.addfile(info, io.BytesIO(data))


def blobs_of(store: Store, image: Image) -> Iterator[tuple[str, str]]:
    """(digest, path) of the config and every layer blob of `image`."""
    yield image.config_digest, store.blob_path(image.config_digest)
    for layer in image.layers:
        yield layer.digest, store.blob_path(layer.digest)


# ------------------------------------------------------------------------------------------------ registry ---


def pull(store: Store, client: registry.Client, reference: registry.Reference, name: str | None = None) -> Image:
    """Pull `reference` (its linux/amd64 image) into the store as `name` (default: its short name)."""
    image_name = check_name(name or _short(reference))
    manifest = client.manifest(reference.repository, reference.digest or reference.tag or "latest")
    try:
        data = json.loads(manifest.body)
    except ValueError as e:
        raise ImageError(f"{reference}: the manifest is not JSON ({e})") from None
    _check_manifest(data, str(reference))
    config = io.BytesIO()
    client.blob(reference.repository, data["config"]["digest"], config, MAX_JSON)
    with store.change() as change:
        new_layers = []
        for layer in data["layers"]:
            path = change.temp_path(".blob")
            with open(path, "xb") as out:
                client.blob(reference.repository, layer["digest"], out, store.caps.max_bytes)
            new_layers.append(NewLayer(path=path, digest=layer["digest"], media_type=_layer_type(layer)))
        return change.add_image(image_name, config.getvalue(), new_layers, source=f"registry {reference}")


def push(store: Store, client: registry.Client, name: str, reference: registry.Reference) -> str:
    """Push image `name` to `reference` (a tag) as an OCI manifest; the manifest's digest."""
    image = store.get(name)
    config = store.read_blob(image.config_digest)
    for digest, path in blobs_of(store, image):
        with open(path, "rb") as blob:
            client.push_blob(reference.repository, blob, digest, os.path.getsize(path))
    manifest = registry.Manifest.from_body(OCI_MANIFEST, manifest_of(image, len(config)))
    return client.push_manifest(reference.repository, reference.tag or "latest", manifest)
