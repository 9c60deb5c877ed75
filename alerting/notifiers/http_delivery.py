"""Posting JSON with the standard library, and turning HTTP outcomes into results."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from alerting.notification import DeliveryResult

_RETRIABLE_4XX = frozenset({408, 409, 425, 429})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """A verifying TLS context, trusting ``ca_bundle`` when given."""
    return (
        ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    )


def retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), if present."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                return None
    return None


def is_permanent(status: int) -> bool:
    """Whether an HTTP error ``status`` is permanent: a 4xx other than 408, 409, 425 and
    429 (the request itself is wrong; sending it again cannot help). 5xx and the listed
    4xx are worth retrying. The one rule every notifier uses."""
    return 400 <= status < 500 and status not in _RETRIABLE_4XX


def classify(
    status: int, what: str, body: str = "", headers: Mapping[str, Any] | None = None
) -> DeliveryResult:
    """The result of an HTTP answer: 2xx ok; 429, 408 and 5xx retried; other 4xx permanent."""
    if 200 <= status < 300:
        return DeliveryResult.success()
    detail = f"{what}: HTTP {status}" + (f": {body.strip()[:200]}" if body.strip() else "")
    return DeliveryResult.failure(
        detail, permanent=is_permanent(status), retry_after_seconds=retry_after(headers)
    )


class RedirectRefusedError(urllib.error.URLError):
    """A redirect runwatch will not follow (from https to plain http)."""


def origin(url: str) -> tuple[str, str, int | None]:
    """The scheme, host and port of ``url`` (default ports filled in)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


class _CredentialSafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does, except that the caller's headers (which carry
    credentials) and any Authorization or Cookie go only to the original origin, and a
    redirect from https to http is refused."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._private = {name.lower() for name in headers} | _CREDENTIAL_HEADERS

    def redirect_request(  # noqa: PLR0917 - the signature urllib calls
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        """The request to send to ``newurl``, without credentials when it is elsewhere."""
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        before, after = origin(req.full_url), origin(new.full_url)
        if before[0] == "https" and after[0] != "https":
            raise RedirectRefusedError(
                f"HTTP {code} redirect from https to {after[0] or 'another scheme'} refused "
                "(no downgrade): configure the https URL the endpoint uses"
            )
        if after != before:
            new.headers = {k: v for k, v in new.headers.items() if k.lower() not in self._private}
            new.unredirected_hdrs = {}
        return new


def post_json(
    url: str,
    body: Any,
    *,
    what: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """POST ``body`` as JSON; never raises. ``what`` names the receiver in errors (never
    the URL, which may hold a secret). Redirects keep ``headers`` only within the URL's
    origin and never go from https to http."""
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked at config load
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "runwatch", **(headers or {})},
    )
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context or ssl.create_default_context()),
        _CredentialSafeRedirects(headers or {}),
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return classify(response.status, what)
    except RedirectRefusedError as exc:
        return DeliveryResult.failure(f"{what}: {exc.reason}", permanent=True)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace") if exc.fp else ""
        return classify(exc.code, what, text, dict(exc.headers or {}))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return DeliveryResult.failure(f"{what}: cannot connect: {type(reason).__name__}")
