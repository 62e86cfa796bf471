from typing import Any

from django.core.management.base import BaseCommand

from sandbox_service.languages.services import language_sync


class Command(BaseCommand):
    help = "Mirror the executor's languages into the database, running each self-test in the sandbox."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-self-test", action="store_true", help="only check that toolchains exist")

    def handle(self, *args: Any, **options: Any) -> None:
        for row in language_sync(self_test=not options["no_self_test"]):
            state = "available" if row.available else f"UNAVAILABLE ({row.self_test_message})"
            self.stdout.write(f"{row.id:12} {row.name} {row.version}: {state}")
