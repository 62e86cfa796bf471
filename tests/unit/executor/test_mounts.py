"""The host side of the filesystem: layers written without following links, thrown away by unmounting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from executor import mounts
from executor.config import Config


@pytest.fixture
def workspace(config: Config) -> mounts.Workspace:
    os.makedirs(config.state_dir, exist_ok=True)
    ws = mounts.Workspace(f"{config.state_dir}/unit-ws-{os.getpid()}", size_mib=4, inodes=64)
    yield ws
    ws.destroy()


def test_files_are_written_into_the_files_layer(workspace: mounts.Workspace) -> None:
    workspace.write_file("main.py", b"print(1)")
    workspace.write_file("pkg/data/input.txt", b"42", mode=0o4755)
    assert Path(workspace.files, "main.py").read_bytes() == b"print(1)"
    assert Path(workspace.files, "pkg/data/input.txt").read_bytes() == b"42"
    assert os.stat(Path(workspace.files, "pkg/data/input.txt")).st_mode & 0o7777 == 0o755  # no setuid


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/../../b", "", "a//b", ".", "x\0y"])
def test_names_that_could_escape_are_refused(workspace: mounts.Workspace, name: str) -> None:
    with pytest.raises(ValueError, match="file name"):
        workspace.write_file(name, b"x")


def test_an_existing_link_is_never_followed(workspace: mounts.Workspace, tmp_path: Path) -> None:
    target = tmp_path / "host-file"
    target.write_text("host")
    os.symlink(target, Path(workspace.files, "planted"))
    os.symlink(tmp_path, Path(workspace.files, "dirlink"))
    with pytest.raises(FileExistsError):
        workspace.write_file("planted", b"overwrite")
    with pytest.raises(NotADirectoryError):
        workspace.write_file("dirlink/new", b"x")
    assert target.read_text() == "host" and not (tmp_path / "new").exists()


def test_destroy_unmounts_without_walking_and_is_idempotent(workspace: mounts.Workspace, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.write_text("keep")
    os.symlink(tmp_path, Path(workspace.files, "link-to-host-dir"))
    path = workspace.path
    workspace.destroy()
    workspace.destroy()
    assert not os.path.exists(path) and keep.read_text() == "keep"
    assert mounts.mounted_below(path) == []


def test_the_workspace_is_size_limited(workspace: mounts.Workspace) -> None:
    with pytest.raises(OSError, match="No space left"):
        workspace.write_file("big", b"x" * (5 * 1024 * 1024))
