"""Images: imported from `docker save` and OCI layout tarballs made here, stored as shared content-addressed layers,
exported again, garbage-collected, refused when hostile (with the store unchanged), and run as a box's root."""

from __future__ import annotations

import gzip
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from executor import images, languages, oci, runner
from executor.config import Config
from executor.images import ImageError, Store
from executor.layers import LayerCaps
from executor.result import Status
from executor.sandbox import Sandbox
from tests.conftest import quick
from tests.image_archives import (
    ImageSpec,
    base_layer,
    device,
    directory,
    docker_save,
    file,
    layer_tar,
    oci_layout,
    sha256,
    symlink,
)

# Layer 2 deletes a file of layer 1 and adds one; layer 3 makes a directory of layer 1 opaque.
BASE = layer_tar(base_layer([directory("data"), file("data/a", b"a\n"), file("data/b", b"b\n"), directory("opt"),
                             file("opt/old", b"old\n")]))  # fmt: skip
CHANGES = layer_tar([directory("data"), file("data/.wh.a"), file("data/c", b"c\n")])
OPAQUE = layer_tar([directory("opt"), file("opt/.wh..wh..opq"), file("opt/new", b"new\n")])
TINY = ImageSpec([BASE, CHANGES, OPAQUE])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "store"))


def store_files(store: Store) -> set[str]:
    """Everything in the store but its lock and work directory: what a failed change must leave as it was."""
    found = set()
    for root, dirs, files in os.walk(store.path):
        dirs[:] = [d for d in dirs if os.path.join(root, d) != os.path.join(store.path, "tmp")]
        for name in files + dirs:
            found.add(os.path.relpath(os.path.join(root, name), store.path))
    return found - {"lock"}


def run_in(store: Store, name: str, config: Config, *argv: str) -> tuple[Status, str, str]:
    layout, env = images.box_setup(store, name)
    with Sandbox(config, layout=layout, env=env) as box:
        result = box.run(list(argv), quick())
    return result.status, result.stdout.decode(), result.stderr.decode() + result.message


def test_a_docker_save_archive_imports_with_its_tag_layers_environment_and_config(store: Store,
                                                                                  tmp_path: Path) -> None:  # fmt: skip
    (image,) = oci.import_archive(store, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})))
    assert image.name == "tiny:1" and store.get("tiny:1") == image
    assert [layer.digest for layer in image.layers] == [sha256(BASE), sha256(CHANGES), sha256(OPAQUE)]
    assert [layer.diff_id for layer in image.layers] == [sha256(BASE), sha256(CHANGES), sha256(OPAQUE)]
    assert image.config_digest == sha256(TINY.config())
    assert image.environment()["IMAGE_GREETING"] == "hello from the image" and image.size > 1_000_000
    assert image.source == "file tiny.tar" and image.created == "2026-11-01T00:00:00Z"
    assert [images.digest_hex(layer.digest) for layer in image.layers] == [
        os.path.basename(d) for d in reversed(store.layer_dirs(image))]  # fmt: skip


def test_a_box_runs_on_an_imported_image_with_its_whiteouts_opaque_directories_and_environment(
        store: Store, tmp_path: Path, config: Config) -> None:  # fmt: skip
    oci.import_archive(store, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})))
    status, out, err = run_in(store, "tiny:1", config, "/bin/sh", "-c",
                              'ls /data; ls /opt; echo "$IMAGE_GREETING"; cat /etc/image-release; id -u; pwd; '
                              'echo $HOME; grep -c image-root /etc/passwd; touch /etc/x 2>/dev/null || echo ro; '
                              'echo kept > /box/out; cat /box/out; ls /usr 2>&1 | head -1')  # fmt: skip
    assert status is Status.OK, err
    lines = out.splitlines()
    assert lines[:4] == ["b", "c", "new", "hello from the image"]  # data/a whited out, opt/old hidden by opaque
    assert lines[4:9] == ["tiny busybox image", "1000", "/box", "/box", "0"]  # the box's own passwd, not the image's
    assert lines[9:11] == ["ro", "kept"]  # the image is read-only; /box is writable
    assert "No such file" in lines[11]  # nothing of the host's runtime: the image is the whole root


def test_an_oci_layout_with_gzip_layers_imports_and_runs(store: Store, tmp_path: Path, config: Config) -> None:
    (image,) = oci.import_archive(store, str(oci_layout(tmp_path / "tiny.oci.tar", "tiny:oci", TINY)))
    assert image.name == "tiny:oci"
    assert [layer.diff_id for layer in image.layers] == [sha256(BASE), sha256(CHANGES), sha256(OPAQUE)]
    assert [layer.digest for layer in image.layers] == [sha256(gzip.compress(x, mtime=0)) for x in TINY.layers]
    status, out, err = run_in(store, "tiny:oci", config, "/bin/sh", "-c", "ls /data /opt")
    assert status is Status.OK and out.split() == ["/data:", "b", "c", "/opt:", "new"], err


def test_images_share_layers_and_garbage_collection_keeps_the_shared_ones(store: Store, tmp_path: Path) -> None:
    other = ImageSpec([BASE, layer_tar([file("other", b"x")])])
    docker_save(tmp_path / "two.tar", {"tiny:1": TINY, "other:1": other})
    tiny, second = oci.import_archive(store, str(tmp_path / "two.tar"))
    assert tiny.layers[0].digest == second.layers[0].digest == sha256(BASE)
    assert len(os.listdir(os.path.join(store.path, "layers", "sha256"))) == 4  # BASE once
    store.remove("tiny:1")
    removed = store.gc()
    assert sha256(BASE) not in removed and sha256(CHANGES) in removed and sha256(OPAQUE) in removed
    assert os.path.isdir(store.layer_dir(sha256(BASE))) and [i.name for i in store.images()] == ["other:1"]
    store.remove("other:1")
    store.gc()
    assert os.listdir(os.path.join(store.path, "layers", "sha256")) == []
    assert os.listdir(os.path.join(store.path, "blobs", "sha256")) == []


def test_an_exported_image_imports_again_identically(store: Store, tmp_path: Path) -> None:
    (image,) = oci.import_archive(store, str(oci_layout(tmp_path / "in.tar", "tiny:1", TINY)))
    oci.export_archive(store, "tiny:1", str(tmp_path / "out.tar"))
    again = Store(str(tmp_path / "again"))
    (copy,) = oci.import_archive(again, str(tmp_path / "out.tar"))
    assert copy.name == "tiny:1" and copy.layers == image.layers and copy.config_digest == image.config_digest


def test_tags_name_the_same_layers_and_an_unknown_image_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    oci.import_archive(store, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})))
    tagged = store.tag("tiny:1", "course/tiny:latest")
    assert tagged.layers == store.get("tiny:1").layers
    with pytest.raises(ImageError, match="no image 'nope:1'"):
        store.get("nope:1")
    with pytest.raises(ImageError, match="repository:tag"):
        store.tag("tiny:1", "Not A Name")


HOSTILE = {
    "parent path": [file("../escaped", b"x")],
    "absolute path": [file("/etc/escaped", b"x")],
    "write through a planted absolute link": [symlink("etc2", "/etc"), file("etc2/escaped", b"x")],
    "write through a planted relative link": [symlink("up", "../../.."), file("up/escaped", b"x")],
    "device node": [device("dev/mem")],
}


@pytest.mark.parametrize("attack", list(HOSTILE))
def test_a_hostile_layer_is_refused_and_the_store_is_unchanged(store: Store, tmp_path: Path, attack: str) -> None:
    oci.import_archive(store, str(docker_save(tmp_path / "good.tar", {"tiny:1": TINY})))
    before = store_files(store)
    bad = ImageSpec([BASE, layer_tar(HOSTILE[attack])])
    with pytest.raises(ImageError):
        oci.import_archive(store, str(docker_save(tmp_path / "bad.tar", {"bad:1": bad})))
    assert store_files(store) == before
    assert not os.path.exists("/etc/escaped") and not (tmp_path / "escaped").exists()
    assert [i.name for i in store.images()] == ["tiny:1"]


def test_setuid_and_setgid_bits_are_stripped(store: Store, tmp_path: Path) -> None:
    spec = ImageSpec([layer_tar(base_layer([file("bin/su", b"#!/bin/sh\n", 0o6755)]))])
    (image,) = oci.import_archive(store, str(docker_save(tmp_path / "suid.tar", {"suid:1": spec})))
    mode = os.stat(os.path.join(store.layer_dirs(image)[0], "bin", "su")).st_mode
    assert mode & 0o7777 == 0o755


def test_an_image_larger_than_the_caps_is_refused_while_inflating(tmp_path: Path) -> None:
    small = Store(str(tmp_path / "small"), LayerCaps(max_bytes=4 * 1024 * 1024, max_files=10_000))
    bomb = layer_tar([file("zeros", bytes(64 * 1024 * 1024))])
    path = oci_layout(tmp_path / "bomb.tar", "bomb:1", ImageSpec([bomb]))
    assert path.stat().st_size < 2 * 1024 * 1024  # the archive is small; what it inflates to is not
    with pytest.raises(ImageError):
        oci.import_archive(small, str(path))
    assert store_files(small) == {"blobs", "blobs/sha256", "layers", "layers/sha256"}


def test_a_layer_that_does_not_match_the_configs_diff_id_is_refused(store: Store, tmp_path: Path) -> None:
    lying = ImageSpec([BASE])
    config = lying.config
    lying.config = lambda: config().replace(sha256(BASE).encode(), sha256(b"other").encode())  # type: ignore[method-assign]
    with pytest.raises(ImageError, match="diff_id"):
        oci.import_archive(store, str(docker_save(tmp_path / "lying.tar", {"lying:1": lying})))
    assert store.images() == []


def test_an_archive_that_is_no_image_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all")
    with pytest.raises(ImageError, match="not a tar archive"):
        oci.import_archive(store, str(tmp_path / "junk.tar"))
    subprocess.run(["tar", "-cf", str(tmp_path / "empty.tar"), "-T", "/dev/null"], check=True)
    with pytest.raises(ImageError, match="neither"):
        oci.import_archive(store, str(tmp_path / "empty.tar"))


TINY_SH = languages.Language(
    id="tinysh", name="Shell (busybox image)", source_name="main.sh", run=("/bin/sh", "main.sh"),
    version_command=("/bin/busybox",), version_pattern=r"BusyBox v(\S+)", toolchain=("/bin/sh",),
    self_test='read -r s; echo "$s" | rev | tr a-z A-Z\n', image="tiny:1",
)  # fmt: skip


def test_a_language_runs_from_an_imported_image_and_reads_its_version_there(store: Store, tmp_path: Path,
                                                                           config: Config) -> None:  # fmt: skip
    oci.import_archive(store, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})))
    with_store = replace(config, images_dir=store.path)
    outcome = runner.execute(TINY_SH, b'read -r name; echo "Hello, $name from $IMAGE_GREETING"\n', b"you\n",
                             config=with_store)  # fmt: skip
    assert outcome.status is Status.OK and outcome.run is not None
    assert outcome.run.stdout == b"Hello, you from hello from the image\n"
    assert runner.version(TINY_SH, with_store) == "1.35.0" != runner.version(languages.get("bash"), with_store)
    assert runner.self_test(TINY_SH, with_store) is None


def test_a_language_whose_image_is_missing_is_unavailable_with_the_reason(store: Store, config: Config) -> None:
    with_store = replace(config, images_dir=store.path)
    problem = runner.self_test(replace(TINY_SH, image="gone:1"), with_store)
    assert problem is not None and "gone:1" in problem
    assert runner.version(replace(TINY_SH, image="gone:1"), with_store) == "unknown"
