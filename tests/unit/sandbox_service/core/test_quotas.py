"""Quotas: submissions per hour and the largest limits a request may ask for, per account and per group, and the
answers the APIs give when one is exceeded (429 with Retry-After, 400 naming the limit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.test import APIClient

from sandbox_service.core.models import Quota
from sandbox_service.core.selectors import quota_for
from sandbox_service.languages.models import Language
from sandbox_service.submissions import services
from sandbox_service.submissions.models import Submission

pytestmark = pytest.mark.django_db
URL = "/api/v1/submissions/"



@pytest.fixture
def course(student: User) -> Group:
    group = Group.objects.create(name="cs101")
    student.groups.add(group)
    return group


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def submit(client: APIClient, **extra: Any) -> Any:
    return client.post(URL, {"language": "python3", "source": "print(1)", "stdin": "", **extra}, format="json")


def test_students_have_the_default_hourly_quota_and_staff_none(languages: Any, student: User, settings: Any) -> None:
    staff = User.objects.create_user("teacher", is_staff=True)
    assert quota_for(student).submissions_per_hour == settings.SUBMISSIONS["PER_USER_PER_HOUR"]
    assert quota_for(staff).submissions_per_hour is None


def test_an_exceeded_hourly_quota_answers_429_with_retry_after(languages: Any, student: User) -> None:
    Quota.objects.create(user=student, submissions_per_hour=2)
    client = api_as(student)
    assert [submit(client).status_code for _ in range(2)] == [201, 201]
    refused = submit(client)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 3601
    assert "hourly quota" in refused.json()["detail"] and Submission.objects.count() == 2


def test_the_hourly_quota_counts_only_the_last_hour(languages: Any, student: User) -> None:
    Quota.objects.create(user=student, submissions_per_hour=1)
    old = services.submission_create(owner=student, language_id="python3", source="1")
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=61))
    assert submit(api_as(student)).status_code == 201


def test_a_course_quota_gives_its_students_more_and_an_own_quota_wins(
        languages: Any, student: User, course: Group, settings: Any) -> None:  # fmt: skip
    settings.SUBMISSIONS = {**settings.SUBMISSIONS, "PER_USER_PER_HOUR": 1}
    Quota.objects.create(group=course, submissions_per_hour=1000, max_cpu_time=10.0)
    other = Group.objects.create(name="cs102")
    student.groups.add(other)
    Quota.objects.create(group=other, submissions_per_hour=50, max_cpu_time=15.0, max_memory=512)
    quota = quota_for(student)
    assert quota.submissions_per_hour == 1000 and quota.ceilings == {"cpu_time": 15.0}  # memory: cs101 has no cap
    Quota.objects.create(user=student, submissions_per_hour=3)
    assert quota_for(student).submissions_per_hour == 3 and quota_for(student).source == "user"


def test_a_request_above_the_quotas_maximum_limit_is_refused_naming_the_limit(languages: Any, student: User,
                                                                              course: Group) -> None:  # fmt: skip
    Quota.objects.create(group=course, max_cpu_time=1.0, max_memory=64)
    client = api_as(student)
    refused = submit(client, limits={"cpu_time": 1.5})
    assert refused.status_code == 400 and "limits.cpu_time" in str(refused.json())
    assert "quota" in str(refused.json())
    assert submit(client, limits={"cpu_time": 1.0, "memory": 64}).status_code == 201


def test_a_request_above_the_languages_maximum_is_refused(languages: Any, student: User) -> None:
    Language.objects.filter(pk="python3").update(max_memory=128)
    refused = submit(api_as(student), limits={"memory": 200})
    assert refused.status_code == 400 and "limits.memory" in str(refused.json()) and "python3" in str(refused.json())


def test_a_quota_belongs_to_one_user_or_one_group(student: User, course: Group) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Quota.objects.create(user=student, group=course)
    with pytest.raises(IntegrityError), transaction.atomic():
        Quota.objects.create()
