"""Reads for the Judge0 API: only submissions the user may see (a student's own; see submissions.selectors)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from sandbox_service.submissions import selectors as submission_selectors
from sandbox_service.submissions.models import Submission


def _uuid(token: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(token)
    except (ValueError, AttributeError, TypeError):
        return None


def _visible(user: AbstractBaseUser) -> QuerySet[Submission]:
    return submission_selectors.submissions_visible_to(user)


def judge0_submission_get(token: str, user: AbstractBaseUser) -> Submission | None:
    key = _uuid(token)
    return None if key is None else _visible(user).filter(token=key).first()


def judge0_submissions_by_tokens(tokens: Sequence[str], user: AbstractBaseUser) -> list[Submission | None]:
    """One entry per token, in the tokens' order; None for a token that names nothing the user may see."""
    keys = [_uuid(token) for token in tokens]
    found = {s.token: s for s in _visible(user).filter(token__in={key for key in keys if key is not None})}
    return [None if key is None else found.get(key) for key in keys]


@dataclass(frozen=True)
class Page:
    submissions: list[Submission]
    meta: dict[str, Any]


def judge0_submissions_page(user: AbstractBaseUser, page: int, per_page: int) -> Page:
    """will_paginate's page and pagination_dict: newest first, as Judge0's default scope orders them."""
    queryset = _visible(user).order_by("-created_at", "-id")
    total = queryset.count()
    pages = math.ceil(total / per_page) if per_page else 0
    offset = (page - 1) * per_page
    rows = list(queryset[offset:offset + per_page]) if per_page else []
    meta = {
        "current_page": page,
        "next_page": page + 1 if page < pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": pages,
        "total_count": total,
    }
    return Page(rows, meta)
