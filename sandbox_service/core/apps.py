from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "sandbox_service.core"
