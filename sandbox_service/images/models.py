"""An Image row mirrors one image of the executor's image store (executor/images.py), for the admin: the store is
the truth, and every change made through the services re-reads it (images_sync)."""

from django.db import models


class Image(models.Model):
    name = models.CharField(primary_key=True, max_length=255, help_text="repository:tag")
    config_digest = models.CharField(max_length=71, help_text="the image's id: sha256 of its config")
    size = models.BigIntegerField(default=0, help_text="bytes of file content, all layers")
    layer_count = models.PositiveIntegerField(default=0)
    layers = models.JSONField(default=list, help_text="layer digests, bottom first")
    env = models.JSONField(default=list, help_text="the image's default environment")
    workdir = models.CharField(max_length=255, blank=True)
    created = models.CharField(max_length=40, blank=True, help_text="when it was built (from its config)")
    imported = models.CharField(max_length=40, blank=True, help_text="when it came into this store")
    source = models.CharField(max_length=500, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def size_mib(self) -> float:
        return round(self.size / 1024 / 1024, 1)
