"""Recipes: images built from Debian's own packages, as layers — a base made by debootstrap, then the recipe's
packages installed over it, the difference becoming a layer of its own.

    name = "debian-python:3.13"      # the image to make, repository:tag
    suite = "trixie"                 # Debian suite of the base (debootstrap)
    packages = ["python3"]           # what the language layer adds (apt-get install --no-install-recommends)
    env = ["PATH=/usr/local/bin:/usr/bin:/bin"]   # optional: the image's environment
    mirror = "http://deb.debian.org/debian"       # optional
    variant = "minbase"                           # optional: debootstrap's variant

The base is an image of its own in the store (`debian:<suite>-<variant>`), built once and shared by every recipe
on that suite: it is the build cache, listed and collected like any image. The language layer is made in a mount
namespace of its own (nothing of it reaches the host's mount table): an overlay whose lower layer is the base's
unpacked layer, `apt-get` run in a chroot of it with the network of the host (the recipe is the admin's, the
packages Debian's, signed), then the overlay's upper directory — what the packages added, changed or deleted — is
packed as the layer (executor/layers.py turns overlayfs' whiteouts into OCI ones). Device nodes, caches and apt's
lists are left out of both layers: a box gets its own /dev, and an image is not where packages are downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from executor import layers, syscalls
from executor.images import HOST, LAYER_TAR, Image, ImageError, ImageNotFound, NewLayer, Store, check_name

S = syscalls
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")
KEYS = {"name", "suite", "packages", "env", "mirror", "variant"}
# Left out of every layer: what a box gets fresh (/dev, /proc, /sys, /run, /tmp), and caches of the build.
EMPTIED = ("dev", "proc", "sys", "run", "tmp", "var/cache/apt/archives", "var/lib/apt/lists", "var/log")
BUILD_TIMEOUT = 1800  # seconds for debootstrap, or for apt-get to install a recipe's packages
APT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8",
           "HOME": "/root"}  # fmt: skip

Log = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    name: str
    suite: str
    packages: tuple[str, ...]
    env: tuple[str, ...] = DEFAULT_ENV
    mirror: str = DEFAULT_MIRROR
    variant: str = "minbase"
    source: str = field(default="", compare=False)

    @property
    def base_name(self) -> str:
        return f"debian:{self.suite}-{self.variant}"

    @classmethod
    def load(cls, path: str) -> Recipe:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ImageError(f"recipe {path}: {e}") from None
        unknown = set(data) - KEYS
        if unknown:
            raise ImageError(f"recipe {path}: unknown keys {sorted(unknown)}; known: {sorted(KEYS)}")
        for key in ("name", "suite"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ImageError(f"recipe {path}: `{key}` must be a non-empty string")
        for key in ("packages", "env"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ImageError(f"recipe {path}: `{key}` must be a list of strings")
        if not all(_is_word(p) for p in [data["suite"], data.get("variant", "minbase"), *data.get("packages", [])]):
            raise ImageError(f"recipe {path}: suite, variant and package names are plain Debian names")
        check_name(data["name"])
        return cls(name=data["name"], suite=data["suite"], packages=tuple(data.get("packages", [])),
                   env=tuple(data.get("env", DEFAULT_ENV)), mirror=str(data.get("mirror", DEFAULT_MIRROR)),
                   variant=str(data.get("variant", "minbase")), source=os.path.basename(path))  # fmt: skip


def _is_word(text: str) -> bool:
    return all(c.isalnum() or c in ".+-:~" for c in text) and not text.startswith("-")


def build(store: Store, recipe: Recipe, log: Log = print, work_root: str | None = None) -> Image:
    """Build `recipe` into the store (its base first, unless the store has it) and return the image."""
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is not installed (Debian package debootstrap)")
    if recipe.name == HOST:
        raise ImageError("`host` is the host's own runtime")
    work = _work_dir(store, work_root)
    try:
        base = _base(store, recipe, work, log)
        if not recipe.packages:
            return store.tag(base.name, recipe.name) if base.name != recipe.name else base
        log(f"installing {' '.join(recipe.packages)} over {base.name}")
        upper = os.path.join(work, "upper")
        _install(store.layer_dirs(base), upper, os.path.join(work, "overlay"), recipe)
        archive = os.path.join(work, "language.tar")
        with open(archive, "xb") as out:
            digest = layers.pack(upper, out)
        layer = NewLayer(path=archive, digest=digest, media_type=LAYER_TAR)
        with store.change() as change:
            base_layers = [NewLayer(path="", digest=lay.digest, media_type=lay.media_type) for lay in base.layers]
            moved = change.temp_path(".blob")
            shutil.move(archive, moved)
            new = [*base_layers, NewLayer(path=moved, digest=layer.digest, media_type=layer.media_type)]
            config = _config(recipe, [*[lay.diff_id for lay in base.layers], digest])
            image = change.add_image(recipe.name, config, new, source=f"recipe {recipe.source or recipe.name}")
        log(f"built {image.name}: {len(image.layers)} layers, {image.size // 1024 // 1024} MiB")
        return image
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _work_dir(store: Store, work_root: str | None) -> str:
    root = work_root or os.path.join(store.path, "build")
    os.makedirs(root, mode=0o700, exist_ok=True)
    path = os.path.join(root, f"{os.getpid()}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}")
    os.mkdir(path, 0o700)
    return path


def _base(store: Store, recipe: Recipe, work: str, log: Log) -> Image:
    try:
        return store.get(recipe.base_name)
    except ImageNotFound:
        pass
    rootfs = os.path.join(work, "rootfs")
    log(f"debootstrap --variant={recipe.variant} {recipe.suite} (from {recipe.mirror}); this takes a few minutes")
    _run(["debootstrap", f"--variant={recipe.variant}", "--arch=amd64", recipe.suite, rootfs, recipe.mirror],
         what="debootstrap")  # fmt: skip
    _empty(rootfs)
    archive = os.path.join(work, "base.tar")
    with open(archive, "xb") as out:
        digest = layers.pack(rootfs, out)
    shutil.rmtree(rootfs)
    with store.change() as change:
        moved = change.temp_path(".blob")
        shutil.move(archive, moved)
        base_recipe = Recipe(name=recipe.base_name, suite=recipe.suite, packages=(), env=DEFAULT_ENV,
                             mirror=recipe.mirror, variant=recipe.variant)  # fmt: skip
        return change.add_image(recipe.base_name, _config(base_recipe, [digest]),
                                [NewLayer(path=moved, digest=digest, media_type=LAYER_TAR)],
                                source=f"debootstrap {recipe.suite} {recipe.variant}")  # fmt: skip


def _empty(rootfs: str) -> None:
    """Leave out what a box gets fresh and the build's caches (device nodes above all: layers hold none)."""
    for relative in EMPTIED:
        path = os.path.join(rootfs, relative)
        if os.path.isdir(path) and not os.path.islink(path):
            for entry in os.listdir(path):
                target = os.path.join(path, entry)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                else:
                    os.unlink(target)


def _install(lower: list[str], upper: str, overlay: str, recipe: Recipe) -> None:
    """apt-get install the recipe's packages over the base, in a mount namespace of our own; `upper` keeps the
    difference. Forked: the mount namespace (and with it every mount made here) ends with the child."""
    os.mkdir(upper, 0o755)
    os.mkdir(f"{overlay}.work", 0o700)
    os.mkdir(overlay, 0o755)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            S.unshare(S.CLONE_NEWNS)
            S.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
            S.mount("overlay", overlay, "overlay", 0,
                    f"lowerdir={':'.join(lower)},upperdir={upper},workdir={overlay}.work")  # fmt: skip
            S.mount("proc", f"{overlay}/proc", "proc", S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC)
            S.mount("tmpfs", f"{overlay}/tmp", "tmpfs", S.MS_NOSUID | S.MS_NODEV)
            S.mount("/dev", f"{overlay}/dev", None, S.MS_BIND | S.MS_REC)
            for name, text in (("etc/resolv.conf", _host_file("/etc/resolv.conf")),
                               ("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")):  # fmt: skip
                _replace(os.path.join(overlay, name), text)  # no services started; names resolved as the host does
            os.chmod(f"{overlay}/usr/sbin/policy-rc.d", 0o755)  # noqa: S103 - a script apt runs, root-owned
            for argv in (["apt-get", "update"],
                         ["apt-get", "install", "-y", "--no-install-recommends", *recipe.packages],
                         ["apt-get", "clean"]):  # fmt: skip
                subprocess.run(["chroot", overlay, *argv], env=APT_ENV, check=True, timeout=BUILD_TIMEOUT,
                               stdin=subprocess.DEVNULL)  # fmt: skip
            os.unlink(os.path.join(overlay, "usr/sbin/policy-rc.d"))
            code = 0
        except BaseException as e:  # noqa: B036 - a forked child reports and exits, never returns
            os.write(2, f"installing {' '.join(recipe.packages)} failed: {e}\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise ImageError(f"installing {' '.join(recipe.packages)} on {recipe.suite} failed (see the output above)")
    _empty(upper)
    # What apt wrote only for itself (the resolver's file is the box's own at run time).
    for name in ("etc/resolv.conf",):
        path = os.path.join(upper, name)
        if os.path.lexists(path):
            os.unlink(path)


def _host_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def _replace(path: str, text: str) -> None:
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def _run(argv: list[str], what: str) -> None:
    try:
        subprocess.run(argv, check=True, timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL)  # noqa: S603 - our argv
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        raise ImageError(f"{what} failed: {e}") from None


def _config(recipe: Recipe, diff_ids: list[str]) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": {"Env": list(recipe.env), "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"debootstrap --variant={recipe.variant} {recipe.suite}"}]
        + ([{"created_by": f"apt-get install {' '.join(recipe.packages)}"}] if recipe.packages else []),
    }, sort_keys=True).encode()  # fmt: skip
