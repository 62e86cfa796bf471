"""Problem statements: Markdown, rendered to HTML and then sanitised, so that a statement can hold a table or code
but never a script, an event handler, a style or a form (ammonia's allow-list, through nh3)."""

from __future__ import annotations

import markdown
import nh3

EXTENSIONS = ("fenced_code", "tables", "sane_lists")


def statement_html(text: str) -> str:
    """Safe HTML of a statement written in Markdown (raw HTML in it is filtered, not trusted)."""
    html = markdown.markdown(text, extensions=list(EXTENSIONS), output_format="html")
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")
