from django.apps import AppConfig


class LanguagesConfig(AppConfig):
    name = "sandbox_service.languages"
