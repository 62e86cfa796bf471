"""Problems and their test cases."""

from django.conf import settings
from django.db import models


class Checker(models.TextChoices):
    WHITESPACE = "whitespace", "Whitespace-tolerant (trailing spaces and blank lines ignored)"
    EXACT = "exact", "Exact bytes"
    TOKENS = "tokens", "Token by token"
    FLOAT = "float", "Tokens, numbers within a tolerance"
    CUSTOM = "custom", "Custom checker program"


class Problem(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    statement = models.TextField(blank=True, help_text="Markdown")
    # Run limits for every test; empty means the language's default.
    cpu_time = models.FloatField(null=True, blank=True, help_text="seconds")
    wall_time = models.FloatField(null=True, blank=True, help_text="seconds")
    memory = models.PositiveIntegerField(null=True, blank=True, help_text="MiB")
    processes = models.PositiveIntegerField(null=True, blank=True)
    output = models.PositiveIntegerField(null=True, blank=True, help_text="KiB per stream")
    allowed_languages = models.ManyToManyField("languages.Language", blank=True, help_text="Empty: all languages.")
    checker = models.CharField(max_length=16, choices=Checker.choices, default=Checker.WHITESPACE)
    float_abs_tolerance = models.FloatField(default=1e-6)
    float_rel_tolerance = models.FloatField(default=1e-6)
    # A custom checker runs in the sandbox as `CHECKER input expected output`: exit code 0 accepts, 1 or 2
    # rejects (testlib's convention), anything else is a failure of the checker; its stdout is the message.
    checker_language = models.ForeignKey("languages.Language", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="checked_problems")  # fmt: skip
    checker_source = models.TextField(blank=True)
    stop_on_first_failure = models.BooleanField(default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                              related_name="owned_problems")  # fmt: skip
    graders = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="graded_problems")
    published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class TestCase(models.Model):
    __test__ = False  # not a pytest class

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="test_cases")
    order = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100, blank=True)
    stdin = models.TextField(blank=True)
    expected_output = models.TextField(blank=True)
    points = models.PositiveIntegerField(default=1)
    visible = models.BooleanField(default=False, help_text="Shown to students with its output.")

    class Meta:
        ordering = ["problem", "order", "id"]

    def __str__(self) -> str:
        return self.name or f"test {self.order}"
