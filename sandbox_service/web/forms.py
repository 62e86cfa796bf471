"""The code form of the problem page and the playground: one form, posted by a plain HTML form (no JavaScript) or
by the editor's script (fetch, answered with JSON); the button pressed (`action`) says Run or Submit."""

from __future__ import annotations

from typing import Any

from django import forms

from sandbox_service.languages.models import Language
from sandbox_service.problems.models import Problem

RUN, SUBMIT = "run", "submit"
EXAMPLES, CUSTOM = "examples", "custom"
DEFAULT_LANGUAGE = "python3"  # preselected where allowed (the editor then remembers each student's last choice)


class CodeForm(forms.Form):
    language = forms.ChoiceField(label="Language")
    source = forms.CharField(label="Source code", strip=False,
                             widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code-input",
                                                          "autocapitalize": "off", "autocomplete": "off"}))  # fmt: skip
    run_on = forms.ChoiceField(label="Run on", choices=[(EXAMPLES, "the examples"), (CUSTOM, "my input")],
                               widget=forms.RadioSelect, initial=EXAMPLES, required=False)  # fmt: skip
    stdin = forms.CharField(label="Input (stdin)", required=False, strip=False,
                            widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "stdin-input"}))
    action = forms.ChoiceField(choices=[(RUN, "Run"), (SUBMIT, "Submit")], initial=RUN, required=False)

    def __init__(self, *args: Any, problem: Problem | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.problem = problem
        languages = Language.objects.filter(enabled=True, available=True).order_by("name")
        if problem is not None and problem.allowed_languages.exists():
            languages = languages.filter(pk__in=problem.allowed_languages.all())
        field = self.fields["language"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(lang.pk, str(lang)) for lang in languages]
        ids = [lang.pk for lang in languages]
        field.initial = DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in ids else next(iter(ids), None)
        if problem is None:  # the playground: its own input, nothing to submit
            del self.fields["run_on"]
            self.fields["stdin"].label = "Input (stdin)"

    # Browsers send a textarea's line breaks as CRLF (the HTML form submission rules): a shell script or a program's
    # input would then see a \r at the end of every line. What a student typed had plain line breaks.
    def clean_source(self) -> str:
        return _plain_newlines(self.cleaned_data["source"])

    def clean_stdin(self) -> str:
        return _plain_newlines(self.cleaned_data.get("stdin", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["action"] = data.get("action") or RUN
        if self.problem is None:
            data["action"], data["run_on"] = RUN, CUSTOM
        data["run_on"] = data.get("run_on") or EXAMPLES
        return data

    def run_stdin(self) -> str | None:
        """The input of a Run: None for the problem's examples."""
        return self.cleaned_data.get("stdin", "") if self.cleaned_data["run_on"] == CUSTOM else None


def _plain_newlines(text: str) -> str:
    return text.replace("\r\n", "\n")
