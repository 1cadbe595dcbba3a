"""The language of one answer: the request's Accept-Language (the console sends its own
choice), Chinese unless English is preferred."""

from __future__ import annotations

from aiohttp import web

from core.contacts import Language


def _quality(part: str) -> float:
    for param in part.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def request_language(request: web.BaseRequest) -> Language:
    """Simplified Chinese or English, whichever the request ranks first."""
    ranked: list[tuple[float, int, Language]] = []
    for index, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            ranked.append((-_quality(part), index, Language.EN))
        elif tag.startswith("zh"):
            ranked.append((-_quality(part), index, Language.ZH))
    return min(ranked)[2] if ranked else Language.ZH
