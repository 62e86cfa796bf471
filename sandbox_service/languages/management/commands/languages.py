"""`python manage.py languages ...`: list the languages, add one that behaves like an executor language on an image
(Python 3.12 from a Docker image beside the host's Python), remove such a language. One line on failure."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from executor.images import ImageError
from sandbox_service.languages.models import Language
from sandbox_service.languages.services import LanguageError, language_add, language_remove


class Command(BaseCommand):
    help = "List, add (on an image) and remove languages."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("list", help="every language, its image and whether it is available")
        add = sub.add_parser("add", help="a language that behaves like LIKE on IMAGE, self-tested there")
        add.add_argument("id", help="the new language's id, e.g. python3.12")
        add.add_argument("--like", required=True, help="the executor language it behaves like, e.g. python3")
        add.add_argument("--image", required=True, help="the image it runs on (manage.py images list)")
        add.add_argument("--name", default="", help='shown to users, e.g. "Python 3.12"')
        remove = sub.add_parser("remove", help="remove a language added with `add` (none of its submissions kept)")
        remove.add_argument("id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "list":
                for row in Language.objects.all():
                    state = "available" if row.available else f"unavailable: {row.self_test_message}"
                    like = f" (like {row.base})" if row.base else ""
                    self.stdout.write(f"{row.id:14} {row.name} {row.version} on {row.image}{like}: "
                                      f"{state if row.enabled else 'disabled'}")  # fmt: skip
            elif options["action"] == "add":
                row = language_add(id=options["id"], like=options["like"], image=options["image"],
                                   name=options["name"])  # fmt: skip
                if not row.available:
                    raise CommandError(f"added {row.id}, but its self-test failed: {row.self_test_message}")
                self.stdout.write(f"added {row.id}: {row.name} {row.version} on {row.image} (self-test passed)")
            else:
                language_remove(options["id"])
                self.stdout.write(f"removed {options['id']}")
        except (LanguageError, ImageError) as e:
            raise CommandError(str(e)) from None
