from django.apps import AppConfig


class PistonConfig(AppConfig):
    name = "sandbox_service.piston"
