from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "sandbox_service.submissions"
