"""Errors every layer shares."""


class FieldError(ValueError):
    """Bad input; `field` names what is wrong (the APIs answer 4xx naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
