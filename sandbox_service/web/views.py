"""The student's pages: problems, a problem with its editor (Run and Submit), the playground, the submission history
and a submission's live result.

Every page works without JavaScript (plain forms, a result page that refreshes itself); with it, the editor posts
the same forms with fetch and gets JSON back, and the result updates in place by long polling `submission_state`,
which answers as soon as the worker says the submission moved. Everything a program printed is rendered as text by
Django's autoescaping, and the pages forbid inline scripts (Content-Security-Policy) as a second line of defence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from sandbox_service.problems import selectors as problem_selectors
from sandbox_service.problems.models import Problem
from sandbox_service.problems.statements import statement_html
from sandbox_service.submissions import selectors, services, waiting
from sandbox_service.submissions.models import Submission
from sandbox_service.web import selectors as web_selectors
from sandbox_service.web.forms import SUBMIT, CodeForm

# Scripts and styles from this origin only: a program's output that slipped through as markup still could not run.
# Inline styles stay allowed: the editor sets element styles, which cannot run code.
LONG_POLL_SECONDS = 20.0  # how long a live result waits for a change before answering "no change"
HISTORY_PAGE_SIZE = 50
RECENT_ON_PROBLEM_PAGE = 10


def csp(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

    return wrapped


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@csp
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    problems = problem_selectors.problems_with_progress(request.user)
    return render(request, "web/home.html", {"problems": problems})


@csp
@login_required
@require_http_methods(["GET", "POST"])
def problem_detail(request: HttpRequest, slug: str) -> HttpResponse:
    problem = problem_selectors.problem_get(slug, request.user)
    if problem is None:
        raise Http404("no such problem")
    form = CodeForm(request.POST or None, problem=problem)
    if request.method == "POST":
        response = _create_from(request, form)
        if response is not None:
            return response
    context = {
        "problem": problem, "form": form, "statement": statement_html(problem.statement),
        "examples": problem.test_cases.filter(visible=True).order_by("order", "id"),
        "recent": selectors.submissions_of(request.user).filter(problem=problem)[:RECENT_ON_PROBLEM_PAGE],
        "draft_key": f"problem:{problem.slug}",
    }  # fmt: skip
    return render(request, "web/problem.html", context, status=400 if form.errors else 200)


@csp
@login_required
@require_http_methods(["GET", "POST"])
def playground(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST or None, problem=None)
    if request.method == "POST":
        response = _create_from(request, form)
        if response is not None:
            return response
    return render(request, "web/playground.html", {"form": form, "draft_key": "playground"},
                  status=400 if form.errors else 200)  # fmt: skip


def _create_from(request: HttpRequest, form: CodeForm) -> HttpResponse | None:
    """Run or Submit the posted form: a redirect to the result (JSON with its address for the editor's script),
    or None after adding the errors to the form (the caller renders it again; the script gets them as JSON)."""
    retry_after = None
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == SUBMIT:
                submission = services.submission_create(owner=request.user, language_id=data["language"],
                                                        source=data["source"], problem=form.problem)  # fmt: skip
            else:
                submission = services.submission_run_create(owner=request.user, language_id=data["language"],
                                                            source=data["source"], problem=form.problem,
                                                            stdin=form.run_stdin())  # fmt: skip
        except services.SubmissionError as e:
            form.add_error(e.field if e.field in form.fields else None, e.message)
        except (services.QueueFull, services.RateLimited) as e:
            form.add_error(None, str(e))
            retry_after, status = e.retry_after, 503 if isinstance(e, services.QueueFull) else 429
        else:
            url = reverse("web-submission", args=[submission.token])
            if _wants_json(request):
                return JsonResponse({"token": str(submission.token), "url": url,
                                     "state_url": reverse("web-submission-state", args=[submission.token])},
                                    status=201)  # fmt: skip
            return redirect(url)
    if _wants_json(request):
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        response = JsonResponse({"errors": errors}, status=status)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    return None


@csp
@login_required
@require_GET
def submission_list(request: HttpRequest) -> HttpResponse:
    submissions = selectors.submissions_of(request.user)
    problem: Problem | None = None
    if slug := request.GET.get("problem"):
        problem = problem_selectors.problem_get(slug, request.user)
        if problem is None:
            raise Http404("no such problem")
        submissions = submissions.filter(problem=problem)
    page = Paginator(submissions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/submissions.html", {"page": page, "problem": problem})


def _own_submission(request: HttpRequest, token: str) -> Submission:
    submission = selectors.submission_get(token, request.user)
    if submission is None:
        raise Http404("no such submission")
    return submission


@csp
@login_required
@require_GET
def submission_detail(request: HttpRequest, token: str) -> HttpResponse:
    submission = _own_submission(request, token)
    view = web_selectors.submission_view(submission)
    return render(request, "web/submission.html", {"submission": submission, "view": view})


@login_required
@require_GET
def submission_state(request: HttpRequest, token: str) -> HttpResponse:
    """The live result: answers at once if what is shown changed since `seen`, else waits (up to LONG_POLL_SECONDS)
    for the worker's next notice. JSON: key, finished, html (the result fragment), diagnostics (for the editor)."""
    submission = _own_submission(request, token)
    seen = request.GET.get("seen", "")
    if seen and seen == web_selectors.view_key(submission):
        submission = waiting.wait_until(submission, lambda s: web_selectors.view_key(s) != seen, LONG_POLL_SECONDS)
    view = web_selectors.submission_view(submission)
    html = render_to_string("web/_result.html", {"view": view, "submission": submission}, request=request)
    return JsonResponse({"key": view.key, "finished": view.finished, "html": html,
                         "diagnostics": view.diagnostics_json()})  # fmt: skip
