from typing import Any

from django.core.management.base import BaseCommand

from sandbox_service.webhooks.signing import webhook_secret


class Command(BaseCommand):
    help = "Print the key of the X-Sandbox-Signature header (WEBHOOK_SECRET, or the one derived from SECRET_KEY)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(webhook_secret())
