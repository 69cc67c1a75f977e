"""One shape for every refusal: a sentence, and the fields it concerns.

{"message": "...", "errors": [{"field": "gateway", "key": "network.gateway",
"message": "..."}]}: the pages put each error beside its field; API clients get the same.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tandem.config import ConfigIssue
from tandem.web.context import translator
from tandem.web.forms import field_for


def issue_text(issue: ConfigIssue) -> str:
    # A regular expression helps nobody at a form; what is expected says it in words.
    problem = "not allowed here" if "should match pattern" in issue.problem else issue.problem
    return f"{problem}; expected {issue.expected}"


def invalid(
    _: gettext.NullTranslations, issues: Iterable[ConfigIssue], fields: dict[str, str]
) -> JSONResponse:
    errors = []
    for issue in issues:
        errors.append(
            {"field": field_for(issue.key, fields), "key": issue.key, "message": issue_text(issue)}
        )
    return JSONResponse(
        {"message": _.gettext("Nothing was saved: please correct the marked fields."),
         "errors": errors},
        status_code=422,
    )  # fmt: skip


def field_error(
    _: gettext.NullTranslations, field: str, message: str, status: int = 422
) -> JSONResponse:
    return JSONResponse(
        {"message": _.gettext("Nothing was saved: please correct the marked fields."),
         "errors": [{"field": field, "key": field, "message": message}]},
        status_code=status,
    )  # fmt: skip


async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own checks of the request shape, in the same form as ours."""
    assert isinstance(exc, RequestValidationError)
    _ = translator(request)
    errors: list[dict[str, Any]] = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        field = loc[0] if loc else None
        errors.append({"field": field, "key": ".".join(loc), "message": str(error.get("msg"))})
    return JSONResponse(
        {"message": _.gettext("Nothing was saved: please correct the marked fields."),
         "errors": errors},
        status_code=422,
    )  # fmt: skip
