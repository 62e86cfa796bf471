from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sandbox_service.web"
