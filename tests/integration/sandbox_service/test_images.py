"""Runtime images through the service: `manage.py images` and `manage.py languages add`, the admin's image pages,
and a submission graded in a language that runs on an imported image (the real sandbox)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from executor.config import Config
from sandbox_service.images.models import Image
from sandbox_service.languages.models import Language
from sandbox_service.languages.services import language_sync
from sandbox_service.piston.runtimes import runtimes_available
from sandbox_service.submissions import services
from sandbox_service.submissions.tasks import executor_config
from tests.conftest import TEST_CGROUP_PARENT, TEST_STATE_DIR
from tests.image_archives import ImageSpec, base_layer, docker_save, file, layer_tar
from tests.integration.sandbox_service.conftest import Users

# busybox has no bash: a two-line one is enough for a language that behaves like the host's Bash.
BASH_WRAPPER = file("bin/bash", b'#!/bin/sh\nexec /bin/sh "$@"\n', 0o755)
TINY = ImageSpec([layer_tar(base_layer([BASH_WRAPPER]))])
ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / "var" / "test-cache" / "images"  # shared with tests/integration/executor/test_recipes.py
RECIPE = ROOT / "sandbox_service" / "images" / "recipes" / "python3.13.toml"


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The image store in a temporary directory, and the tests' sandbox settings, for this process's services."""
    monkeypatch.setenv("EXECUTOR_IMAGES_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("EXECUTOR_STATE_DIR", TEST_STATE_DIR)
    monkeypatch.setenv("EXECUTOR_CGROUP_PARENT", TEST_CGROUP_PARENT)
    executor_config.cache_clear()
    yield tmp_path
    executor_config.cache_clear()


def command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_an_admin_adds_a_language_from_a_docker_image_in_three_commands(db: None, users: Users, store_env: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    archive = docker_save(tmp_path / "tiny.tar", {"course/tiny:1": TINY})
    assert "imported course/tiny:1" in command("images", "import", str(archive))
    assert "added tinybash" in command("languages", "add", "tinybash", "--like", "bash", "--image", "course/tiny:1",
                                       "--name", "Bash (busybox)")  # fmt: skip
    row = Language.objects.get(pk="tinybash")
    assert row.available and row.image == "course/tiny:1" and row.base == "bash" and row.name == "Bash (busybox)"
    # A submission in it, graded by the service in a box whose root is the image.
    submission = services.submission_create(owner=users.grader, language_id="tinybash", stdin="you\n",
                                            source='read -r n; echo "hi $n"; ls /usr 2>&1 | head -1\n')  # fmt: skip
    assert services.submission_process(submission.pk, worker="test", config=Config.from_env()).startswith("finished")
    submission.refresh_from_db()
    assert submission.verdict == "accepted", submission.message
    lines = bytes(submission.stdout).decode().splitlines()
    assert lines[0] == "hi you" and "No such file" in lines[1]  # the image's root, not the host's
    # It is another version of Piston's bash.
    assert {rt.row.pk for rt in runtimes_available() if rt.language == "bash"} == {"bash", "tinybash"}
    assert "tinybash" in command("images", "list")


def test_the_images_command_lists_inspects_tags_exports_and_collects_garbage(db: None, store_env: Path,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    command("images", "import", str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})))
    inspected = json.loads(command("images", "inspect", "tiny:1"))
    assert inspected["name"] == "tiny:1" and len(inspected["layers"]) == 1 and inspected["languages"] == []
    assert "tagged tiny:1 as tiny:2" in command("images", "tag", "tiny:1", "tiny:2")
    assert sorted(Image.objects.values_list("name", flat=True)) == ["tiny:1", "tiny:2"]
    command("images", "export", "tiny:2", str(tmp_path / "out.tar"))
    assert (tmp_path / "out.tar").stat().st_size > 1_000_000
    command("images", "rm", "tiny:1", "tiny:2")
    assert Image.objects.count() == 0
    assert "removed 2 unused layers and blobs" in command("images", "gc")  # the layer and the config
    assert os.listdir(store_env / "store" / "layers" / "sha256") == []
    assert "imported tiny:3" in command("images", "import", str(tmp_path / "out.tar"), "--tag", "tiny:3")


def test_an_image_a_language_runs_on_cannot_be_removed(db: None, users: Users, store_env: Path,
                                                       tmp_path: Path) -> None:  # fmt: skip
    command("images", "import", str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})))
    command("languages", "add", "tinybash", "--like", "bash", "--image", "tiny:1")
    with pytest.raises(CommandError, match="tinybash"):
        command("images", "rm", "tiny:1")
    assert Image.objects.filter(name="tiny:1").exists()
    command("languages", "remove", "tinybash")
    command("images", "rm", "tiny:1")
    assert not Image.objects.exists()


@pytest.mark.parametrize(("args", "message"), [
    (("images", "import", "/nonexistent.tar"), "not a tar archive"),
    (("images", "inspect", "nope:1"), "no image 'nope:1'"),
    (("images", "tag", "nope:1", "x:1"), "no image 'nope:1'"),
    (("languages", "add", "x", "--like", "cobol", "--image", "host"), "unknown language 'cobol'"),
    (("languages", "add", "x", "--like", "bash", "--image", "nope:1"), "no image 'nope:1'"),
    (("languages", "add", "Bad Id", "--like", "bash", "--image", "host"), "language id"),
    (("languages", "add", "bash", "--like", "bash", "--image", "host"), "exists already"),
    (("languages", "remove", "python3"), "disable it instead"),
])  # fmt: skip
def test_bad_commands_fail_with_one_clear_line(db: None, users: Users, store_env: Path, args: tuple[str, ...],
                                               message: str) -> None:  # fmt: skip
    with pytest.raises(CommandError, match=message) as raised:
        command(*args)
    assert "\n" not in str(raised.value)


def test_the_admin_imports_lists_tags_and_refuses_to_remove_an_image_in_use(db: None, users: Users, store_env: Path,
                                                                           tmp_path: Path) -> None:  # fmt: skip
    admin = Client()
    admin.force_login(users.admin)
    archive = docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY})
    with open(archive, "rb") as f:
        response = admin.post("/admin/images/image/import/", {"archive": f, "tag": ""}, follow=True)
    assert response.status_code == 200 and "Imported tiny:1" in response.content.decode()
    page = admin.get("/admin/images/image/").content.decode()
    assert "tiny:1" in page and "Collect garbage" in page
    response = admin.post("/admin/images/image/", {"action": "tag_image", "_selected_action": ["tiny:1"],
                                                   "target": "tiny:2"}, follow=True)  # fmt: skip
    assert "Tagged tiny:1 as tiny:2" in response.content.decode()
    command("languages", "add", "tinybash", "--like", "bash", "--image", "tiny:1")
    response = admin.post("/admin/images/image/", {"action": "remove_images",
                                                   "_selected_action": ["tiny:1", "tiny:2"]}, follow=True)  # fmt: skip
    text = response.content.decode()
    assert "Removed tiny:2" in text and "is the root of tinybash" in text
    assert list(Image.objects.values_list("name", flat=True)) == ["tiny:1"]
    with open(tmp_path / "junk.tar", "wb") as f:
        f.write(b"junk")
    with open(tmp_path / "junk.tar", "rb") as f:
        response = admin.post("/admin/images/image/import/", {"archive": f})
    assert "not a tar archive" in response.content.decode()
    response = admin.post("/admin/images/image/gc/", follow=True)
    assert "Removed 0 layers and blobs" in response.content.decode()  # tiny:2 shared all of them with tiny:1
    assert len(os.listdir(store_env / "store" / "layers" / "sha256")) == 1


def test_an_image_built_from_a_recipe_gives_a_second_python_beside_the_hosts(
        db: None, users: Users, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Built in the machine's test cache of images (the Debian base is made once per machine; see test_recipes)."""
    monkeypatch.setenv("EXECUTOR_IMAGES_DIR", str(CACHE))
    monkeypatch.setenv("EXECUTOR_STATE_DIR", TEST_STATE_DIR)
    monkeypatch.setenv("EXECUTOR_CGROUP_PARENT", TEST_CGROUP_PARENT)
    assert "built debian-python:3.13" in command("images", "build", str(RECIPE))
    command("languages", "add", "python3.13", "--like", "python3", "--image", "debian-python:3.13",
            "--name", "Python 3.13")  # fmt: skip
    host, added = Language.objects.get(pk="python3"), Language.objects.get(pk="python3.13")
    language_sync(self_test=False, ids=["python3"])
    host.refresh_from_db()
    assert added.available and added.version.startswith("3.13.") and host.version.startswith("3.11.")
    for language_id, expected in (("python3.13", "3.13"), ("python3", "3.11")):
        submission = services.submission_create(owner=users.grader, language_id=language_id,
                                                source="import sys\nprint('%d.%d' % sys.version_info[:2])\n")
        services.submission_process(submission.pk, worker="test", config=Config.from_env())
        submission.refresh_from_db()
        assert submission.verdict == "accepted" and bytes(submission.stdout).decode() == expected + "\n"
    # Piston's `python` now has two versions; a request picks by version range.
    versions = sorted(rt.version for rt in runtimes_available() if rt.language == "python")
    assert versions[0].startswith("3.11.") and versions[1].startswith("3.13.")
    assert "unused layers" in command("images", "gc")  # earlier builds' language layers
