from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from sandbox_service.core.services import demo_seed


class Command(BaseCommand):
    help = (
        "Create (or bring back) the roles, a demo admin, grader and student, and two demo problems. Idempotent; "
        "the passwords are made once and kept in the credentials file, so every run prints the same ones."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--credentials-file",
            type=Path,
            default=Path(settings.VAR_DIR) / "demo-credentials.txt",
            help="where the demo passwords are kept (default: var/demo-credentials.txt)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["credentials_file"]
        accounts = demo_seed(credentials_file=path)
        self.stdout.write(f"Demo accounts (kept in {path}):")
        for role, (username, password) in accounts.items():
            self.stdout.write(f"  {role:8} username {username:10} password {password}")
