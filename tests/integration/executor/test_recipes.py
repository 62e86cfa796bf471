"""Images built from recipes: a Debian base made by debootstrap (kept as an image of its own: the build cache), the
recipe's packages as a layer over it; Python 3.13 from Debian 13 then runs beside the host's Python 3.11.

The base is built once per machine (var/test-cache/images survives test runs; a fresh machine, as CI, builds it:
about a minute); the language layer is built on every run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from executor import languages, recipes, runner
from executor.config import Config
from executor.images import Image, ImageError, Store
from executor.result import Status

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / "var" / "test-cache" / "images"
RECIPE = ROOT / "sandbox_service" / "images" / "recipes" / "python3.13.toml"


@pytest.fixture(scope="session")
def built() -> tuple[Store, Image]:
    store = Store(str(CACHE))
    lines: list[str] = []
    image = recipes.build(store, recipes.Recipe.load(str(RECIPE)), log=lines.append)
    store.gc()  # the language layers of earlier runs (apt's timestamps make each build's digest new)
    return store, image


def test_a_recipe_builds_an_image_of_a_debootstrap_base_and_a_layer_of_its_packages(built: tuple[Store, Image]) -> None:
    store, image = built
    base = store.get("debian:trixie-minbase")
    assert image.name == "debian-python:3.13" and len(image.layers) == 2
    assert image.layers[0] == base.layers[0]  # the base layer is shared with the base image: built once
    assert image.source == "recipe python3.13.toml" and base.source == "debootstrap trixie minbase"
    language_layer = Path(store.layer_dirs(image)[0])
    assert (language_layer / "usr" / "bin").is_dir() and any((language_layer / "usr" / "bin").glob("python3.13"))
    assert not any((language_layer / "var" / "lib" / "apt" / "lists").iterdir())  # no apt lists in the image
    assert not (language_layer / "etc" / "resolv.conf").exists()


def test_python_313_from_the_image_runs_beside_the_hosts_python(built: tuple[Store, Image], config: Config) -> None:
    store, image = built
    with_store = replace(config, images_dir=store.path)
    host = languages.get("python3")
    on_image = languages.derive(host, id="python3.13", name="Python 3.13", image=image.name)
    assert runner.version(on_image, with_store).startswith("3.13.")
    assert runner.version(host, with_store).startswith("3.11.")
    assert runner.self_test(on_image, with_store) is None
    for language, expected in ((on_image, b"3.13"), (host, b"3.11")):
        outcome = runner.execute(language, b"import sys\nprint('%d.%d' % sys.version_info[:2], input())\n", b"ok\n",
                                 config=with_store)  # fmt: skip
        assert outcome.status is Status.OK and outcome.run is not None
        assert outcome.run.stdout == expected + b" ok\n"
    outcome = runner.execute(on_image, b"1/0\n", config=with_store)
    assert outcome.status is Status.RUNTIME_ERROR and outcome.run is not None
    assert b"ZeroDivisionError" in outcome.run.stderr


@pytest.mark.parametrize(("text", "message"), [
    ('name = "x:1"\nsuite = "trixie"\npackages = ["python3"]\ncolour = "red"\n', "unknown keys"),
    ('name = "x:1"\npackages = ["python3"]\n', "`suite`"),
    ('name = "x:1"\nsuite = "trixie"\npackages = ["python3; rm -rf /"]\n', "plain Debian names"),
    ('name = "x:1"\nsuite = "trixie"\npackages = "python3"\n', "list of strings"),
    ('name = "Not A Name"\nsuite = "trixie"\n', "repository:tag"),
    ("name = \n", "recipe"),
])  # fmt: skip
def test_a_bad_recipe_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ImageError, match=message):
        recipes.Recipe.load(str(path))
