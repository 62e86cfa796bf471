"""A Language row mirrors one declaration of the executor's registry; admins may disable it or change its
default limits. The executor stays the source of truth for how a language compiles and runs."""

from django.core.exceptions import ValidationError
from django.db import models

from sandbox_service.core.models import LimitCeilings


class Language(LimitCeilings):
    id = models.CharField(primary_key=True, max_length=32)  # the executor's language id, e.g. "python3"
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=100, blank=True)
    compiled = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True, help_text="Disabled languages refuse new submissions.")
    # The root its programs run on: "host" (the host's runtime) or an image of the store (sandbox_service.images).
    image = models.CharField(max_length=255, default="host")
    # Set for a language an admin added (manage.py languages add): the executor language it behaves like.
    base = models.CharField(max_length=32, blank=True, help_text="the executor language this one behaves like")
    # Default run limits of a submission in this language (a problem's limits take precedence).
    cpu_time = models.FloatField(default=2.0, help_text="seconds")
    wall_time = models.FloatField(default=5.0, help_text="seconds")
    memory = models.PositiveIntegerField(default=256, help_text="MiB")
    processes = models.PositiveIntegerField(default=64)
    output = models.PositiveIntegerField(default=1024, help_text="KiB per stream")
    # The executor's self-test: a language whose toolchain is missing or whose self-test fails is unavailable.
    available = models.BooleanField(default=False)
    self_test_message = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def usable(self) -> bool:
        return self.enabled and self.available

    def clean(self) -> None:
        super().clean()
        for limit, ceiling in self.ceilings().items():
            if getattr(self, limit) > ceiling:
                raise ValidationError({limit: f"above this language's maximum ({ceiling})"})
