"""OpenAPI schema hooks: the schema documents the native API only (Judge0's and Piston's are theirs)."""

from __future__ import annotations

from typing import Any


def only_native_api(endpoints: list[tuple[str, str, str, Any]], **_: Any) -> list[tuple[str, str, str, Any]]:
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]
