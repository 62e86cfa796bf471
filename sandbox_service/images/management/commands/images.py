"""`python manage.py images ...`: the runtime images' lifecycle — import, pull, build, list, inspect, tag, export,
push, remove, collect garbage. Every subcommand calls one service; a failure is one line on stderr and exit 1."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from executor.images import ImageError
from executor.registry import RegistryError
from sandbox_service.images import services
from sandbox_service.images.selectors import image_users


class Command(BaseCommand):
    help = "Manage the runtime images languages run on (see the README's 'Images')."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("list", help="the images in the store")
        inspect = sub.add_parser("inspect", help="one image as JSON: layers, environment, size, languages")
        inspect.add_argument("name")
        imported = sub.add_parser("import", help="import a `docker save` or OCI layout tarball")
        imported.add_argument("file")
        imported.add_argument("--tag", help="the name to give the (only) image in the file, repository:tag")
        build = sub.add_parser("build", help="build an image from a recipe (a Debian base and packages)")
        build.add_argument("recipe", help="a recipe file, e.g. sandbox_service/images/recipes/python3.13.toml")
        export = sub.add_parser("export", help="write an image as an OCI layout tarball")
        export.add_argument("name")
        export.add_argument("file")
        for verb, text in (("pull", "pull an image (linux/amd64) from a registry"),
                           ("push", "push an image to a registry")):  # fmt: skip
            action = sub.add_parser(verb, help=text)
            if verb == "push":
                action.add_argument("name")
            action.add_argument("reference", help="[registry/]repository[:tag], e.g. localhost:5000/course/py:3.12")
            if verb == "pull":
                action.add_argument("--tag", help="the name in the store (default: repository:tag)")
            action.add_argument("--insecure", action="store_true", help="plain HTTP (a registry on this host)")
            action.add_argument("--username")
            action.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        tag = sub.add_parser("tag", help="give an image another name")
        tag.add_argument("source")
        tag.add_argument("target")
        remove = sub.add_parser("rm", help="remove images (refused while a language runs on one)")
        remove.add_argument("names", nargs="+")
        sub.add_parser("gc", help="remove the layers no image uses")
        sub.add_parser("sync", help="refresh the admin's view of the store")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "do_" + options["action"])(options)
        except (ImageError, RegistryError, OSError) as e:
            raise CommandError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None

    def do_list(self, options: dict[str, Any]) -> None:
        rows = services.images_sync()
        if not rows:
            self.stdout.write("no images (the built-in `host` image is the host's own runtime)")
        for row in rows:
            users = ", ".join(image_users(row.name)) or "-"
            self.stdout.write(f"{row.name:40} {row.size_mib:>9} MiB  {row.layer_count:>3} layers  "
                              f"{row.config_digest[7:19]}  {row.created[:19]:19}  languages: {users}")  # fmt: skip

    def do_inspect(self, options: dict[str, Any]) -> None:
        image = services.store().get(options["name"])
        data = {"name": image.name, "id": image.id, "size": image.size, "created": image.created,
                "imported": image.imported, "source": image.source, "env": list(image.env), "workdir": image.workdir,
                "layers": [vars(layer) for layer in image.layers], "languages": image_users(image.name)}  # fmt: skip
        self.stdout.write(json.dumps(data, indent=2))

    def do_import(self, options: dict[str, Any]) -> None:
        for row in services.image_import(options["file"], options["tag"]):
            self.stdout.write(f"imported {row.name} ({row.size_mib} MiB, {row.layer_count} layers)")

    def do_build(self, options: dict[str, Any]) -> None:
        row = services.image_build(options["recipe"], log=self.stdout.write)
        self.stdout.write(f"built {row.name} ({row.size_mib} MiB, {row.layer_count} layers)")

    def do_export(self, options: dict[str, Any]) -> None:
        image = services.image_export(options["name"], options["file"])
        self.stdout.write(f"exported {image.name} to {options['file']}")

    def _credentials(self, options: dict[str, Any]) -> dict[str, Any]:
        password = sys.stdin.readline().rstrip("\n") if options["password_stdin"] else None
        return {"insecure": options["insecure"], "username": options["username"], "password": password}

    def do_pull(self, options: dict[str, Any]) -> None:
        row = services.image_pull(options["reference"], options["tag"], **self._credentials(options))
        self.stdout.write(f"pulled {row.name} ({row.size_mib} MiB, {row.layer_count} layers)")

    def do_push(self, options: dict[str, Any]) -> None:
        digest = services.image_push(options["name"], options["reference"], **self._credentials(options))
        self.stdout.write(f"pushed {options['name']} to {options['reference']} ({digest})")

    def do_tag(self, options: dict[str, Any]) -> None:
        row = services.image_tag(options["source"], options["target"])
        self.stdout.write(f"tagged {options['source']} as {row.name}")

    def do_rm(self, options: dict[str, Any]) -> None:
        for name in options["names"]:
            services.image_remove(name)
            self.stdout.write(f"removed {name} (its layers stay until `images gc`)")

    def do_gc(self, options: dict[str, Any]) -> None:
        removed = services.images_gc()
        self.stdout.write(f"removed {len(removed)} unused layers and blobs")

    def do_sync(self, options: dict[str, Any]) -> None:
        self.stdout.write(f"{len(services.images_sync())} images")
