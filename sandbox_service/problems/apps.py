from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    name = "sandbox_service.problems"
