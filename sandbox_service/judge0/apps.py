from django.apps import AppConfig


class Judge0Config(AppConfig):
    name = "sandbox_service.judge0"
