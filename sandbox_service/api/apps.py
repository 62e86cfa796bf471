from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sandbox_service.api"
