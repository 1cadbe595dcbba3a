"""Headers on every answer (OWASP Secure Headers): a Content-Security-Policy the console
meets (its scripts and styles are files of its own, nothing inline), no framing, no MIME
sniffing, no referrer, HSTS when served over https, `no-store` on API answers (they
carry residents' data: no cache, shared or private, may keep them), and a Server header
that names no software version."""

from __future__ import annotations

from aiohttp import web

from api.context import CONTEXT

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the console's empty favicon is a data: URL
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# Two years, the HSTS preload list's minimum; sent only when cookies are Secure (https).
HSTS = "max-age=63072000; includeSubDomains"
SERVER = "eldercare"
NO_STORE_PREFIXES = ("/api/", "/metrics")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: set the headers just before the answer goes out."""
    headers = response.headers
    headers.update(SECURITY_HEADERS)
    headers["Server"] = SERVER
    context = request.app.get(CONTEXT)  # none in a lone process's metrics-only app
    if context is not None and context.secure_cookies:
        headers["Strict-Transport-Security"] = HSTS
    if request.path.startswith(NO_STORE_PREFIXES):
        headers["Cache-Control"] = "no-store"
