from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "sandbox_service.webhooks"
