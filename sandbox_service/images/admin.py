"""Runtime images in the admin: the store as a list (sizes, layers, the languages on each), an image's layers and
environment, and the lifecycle: import a tarball, tag, remove (refused while a language runs on it), collect
garbage. Every action calls a service; the store is the truth (images_sync)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from executor.images import ImageError, check_name
from sandbox_service.images import services
from sandbox_service.images.models import Image
from sandbox_service.images.selectors import image_users


class ImportForm(forms.Form):
    archive = forms.FileField(help_text="a `docker save` tarball or an OCI image layout tarball")
    tag = forms.CharField(required=False, help_text="repository:tag for the (only) image in it; empty: its own name")


class TagForm(forms.Form):
    target = forms.CharField(help_text="the new name, repository:tag")

    def clean_target(self) -> str:
        try:
            return check_name(self.cleaned_data["target"])
        except ImageError as e:
            raise forms.ValidationError(str(e)) from None


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["name", "size_mib", "layer_count", "created", "imported", "used_by"]
    search_fields = ["name", "source"]
    readonly_fields = ["name", "config_digest", "size", "layer_count", "layers", "env", "workdir", "created",
                       "imported", "source", "used_by", "synced_at"]  # fmt: skip
    actions = ["tag_image", "remove_images"]
    change_list_template = "admin/images/image/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images come from the store: import, pull or build (manage.py images)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # removal goes through the service, which refuses an image a language runs on

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="size (MiB)")
    def size_mib(self, obj: Image) -> float:
        return obj.size_mib

    @admin.display(description="languages")
    def used_by(self, obj: Image) -> str:
        return ", ".join(image_users(obj.name)) or "-"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            services.images_sync()
        except (ImageError, OSError) as e:
            self.message_user(request, f"the image store could not be read: {e}", messages.ERROR)
        context = {**(extra_context or {}), "may_change": self.has_change_permission(request)}
        return super().changelist_view(request, context)

    def get_urls(self) -> list[Any]:
        return [path("import/", self.admin_site.admin_view(self.import_view), name="images_image_import"),
                path("gc/", self.admin_site.admin_view(self.gc_view), name="images_image_gc"),
                *super().get_urls()]  # fmt: skip

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["archive"]
            with tempfile.TemporaryDirectory() as work:
                archive = os.path.join(work, "image.tar")
                with open(archive, "wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
                try:
                    rows = services.image_import(archive, form.cleaned_data["tag"] or None)
                except ImageError as e:
                    form.add_error("archive", str(e))
                else:
                    self.message_user(request, f"Imported {', '.join(row.name for row in rows)}.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:images_image_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": "Import an image"}  # fmt: skip
        return TemplateResponse(request, "admin/images/image/import.html", context)

    def gc_view(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and self.has_change_permission(request):
            removed = services.images_gc()
            self.message_user(request, f"Removed {len(removed)} layers and blobs no image uses.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:images_image_changelist"))

    @admin.action(description="Tag the selected image (give it another name)", permissions=["change"])
    def tag_image(self, request: HttpRequest, queryset: QuerySet[Image]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one image to tag.", messages.WARNING)
            return None
        image = queryset.get()
        form = TagForm(request.POST if "target" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                services.image_tag(image.name, form.cleaned_data["target"])
            except ImageError as e:
                self.message_user(request, str(e), messages.ERROR)
            else:
                self.message_user(request, f"Tagged {image.name} as {form.cleaned_data['target']}.", messages.SUCCESS)
            return None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "image": image,
                   "title": f"Tag {image.name}"}  # fmt: skip
        return TemplateResponse(request, "admin/images/image/tag.html", context)

    @admin.action(description="Remove the selected images (not those a language runs on)", permissions=["change"])
    def remove_images(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        removed, refused = services.images_remove(queryset.values_list("name", flat=True))
        if removed:
            self.message_user(request, f"Removed {', '.join(removed)}; their layers stay until garbage collection.",
                              messages.SUCCESS)  # fmt: skip
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)
