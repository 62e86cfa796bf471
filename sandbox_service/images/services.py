"""Runtime images: import, export, pull, push, tag, remove, collect garbage — the executor's image store does the
work (executor/images.py, executor/oci.py); these keep the Image table (the admin's view of the store) in step and
refuse to remove an image a language runs on."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

from executor import images as store_mod
from executor import oci, recipes, registry
from executor.config import Config
from executor.images import Image as StoredImage
from executor.images import ImageError
from sandbox_service.images.models import Image
from sandbox_service.images.selectors import image_users


class ImageInUse(ImageError):
    """Removing the image would leave languages without their root."""


def store() -> store_mod.Store:
    return store_mod.store_of(Config.from_env())


def images_sync() -> list[Image]:
    """Make the Image table what the store holds."""
    stored = store().images()
    with transaction.atomic():
        rows = [_row(image) for image in stored]
        Image.objects.exclude(name__in=[image.name for image in stored]).delete()
    return rows


def _row(image: StoredImage) -> Image:
    row, _ = Image.objects.update_or_create(name=image.name, defaults={
        "config_digest": image.config_digest, "size": image.size, "layer_count": len(image.layers),
        "layers": [layer.digest for layer in image.layers], "env": list(image.env), "workdir": image.workdir,
        "created": image.created, "imported": image.imported, "source": image.source[:500],
    })  # fmt: skip
    return row


def image_import(path: str, name: str | None = None) -> list[Image]:
    """Import every image of a `docker save` or OCI layout tarball (`name` renames the only one)."""
    imported = oci.import_archive(store(), path, name)
    images_sync()
    return list(Image.objects.filter(name__in=[image.name for image in imported]))


def image_build(recipe_path: str, log: Callable[[str], None] = print) -> Image:
    """Build the image of a recipe (executor/recipes.py): a Debian base by debootstrap (kept, and shared by the
    recipes on its suite), then the recipe's packages as a layer."""
    built = recipes.build(store(), recipes.Recipe.load(recipe_path), log=log)
    images_sync()
    return Image.objects.get(name=built.name)


def image_export(name: str, path: str) -> StoredImage:
    return oci.export_archive(store(), name, path)


def _client(reference: registry.Reference, insecure: bool, username: str | None,
            password: str | None) -> registry.Client:  # fmt: skip
    return registry.Client(reference.registry, insecure=insecure, username=username, password=password)


def image_pull(reference: str, name: str | None = None, *, insecure: bool = False, username: str | None = None,
               password: str | None = None) -> Image:  # fmt: skip
    """Pull an image (linux/amd64) from an OCI registry; `insecure`: plain HTTP (a registry on this host)."""
    ref = _parse(reference)
    pulled = oci.pull(store(), _client(ref, insecure, username, password), ref, name)
    images_sync()
    return Image.objects.get(name=pulled.name)


def image_push(name: str, reference: str, *, insecure: bool = False, username: str | None = None,
               password: str | None = None) -> str:  # fmt: skip
    ref = _parse(reference)
    return oci.push(store(), _client(ref, insecure, username, password), name, ref)


def _parse(reference: str) -> registry.Reference:
    try:
        return registry.Reference.parse(reference)
    except ValueError as e:
        raise ImageError(f"reference {reference!r}: {e}") from None


def image_tag(source: str, target: str) -> Image:
    tagged = store().tag(source, target)
    images_sync()
    return Image.objects.get(name=tagged.name)


def image_remove(name: str) -> None:
    """Forget an image; refused while a language runs on it (change or remove those languages first)."""
    users = image_users(name)
    if users:
        raise ImageInUse(f"image {name!r} is the root of {', '.join(users)}: change or remove "
                         f"{'that language' if len(users) == 1 else 'those languages'} first")  # fmt: skip
    store().remove(name)
    images_sync()


def images_remove(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(removed, refused with the reason) — for the admin's action on many."""
    removed, refused = [], []
    for name in names:
        try:
            image_remove(name)
            removed.append(name)
        except ImageError as e:
            refused.append(str(e))
    return removed, refused


def images_gc() -> list[str]:
    """Remove the layers and blobs no image refers to; their digests."""
    return store().gc()
