"""A minimal, JavaScript-free page set: problems, a submit form, a result page that refreshes itself.

The student web UI (editor, live results) is its own issue; these pages let a person solve the demo problems
with nothing but a browser. Everything a program printed is rendered as text (Django autoescapes it).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sandbox_service.languages.models import Language
from sandbox_service.problems.models import Problem
from sandbox_service.submissions import selectors, services


def home(request: HttpRequest) -> HttpResponse:
    problems = Problem.objects.filter(published=True).only("title", "slug")
    return render(request, "web/home.html", {"problems": problems})


class SubmitForm(forms.Form):
    language = forms.ChoiceField(label="Language")
    source = forms.CharField(label="Source code", widget=forms.Textarea(attrs={"rows": 16, "cols": 80}),
                             strip=False)  # fmt: skip

    def __init__(self, *args: object, problem: Problem, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        allowed = problem.allowed_languages.all() or Language.objects.all()
        self.fields["language"].choices = [(lang.pk, str(lang)) for lang in allowed if lang.usable]


@login_required
def problem_detail(request: HttpRequest, slug: str) -> HttpResponse:
    problem = get_object_or_404(Problem, slug=slug, published=True)
    form = SubmitForm(request.POST or None, problem=problem)
    if request.method == "POST" and form.is_valid():
        try:
            submission = services.submission_create(owner=request.user, language_id=form.cleaned_data["language"],
                                                    source=form.cleaned_data["source"], problem=problem)  # fmt: skip
        except services.SubmissionError as e:
            form.add_error(None, e.message)
        except (services.QueueFull, services.RateLimited) as e:
            form.add_error(None, str(e))
        else:
            return redirect("web-submission", token=submission.token)
    examples = problem.test_cases.filter(visible=True)
    return render(request, "web/problem.html", {"problem": problem, "form": form, "examples": examples})


@login_required
def submission_detail(request: HttpRequest, token: str) -> HttpResponse:
    submission = selectors.submission_get(token, request.user)
    if submission is None:
        raise Http404("no such submission")
    results = submission.results.select_related("test_case")
    return render(request, "web/submission.html", {"submission": submission, "results": results,
                                                   "compile_output": submission.text(submission.compile_output)})
