"""Posting JSON with the standard library, and turning HTTP outcomes into results."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from alerting.notification import DeliveryResult

_RETRIABLE_4XX = frozenset({408, 409, 425, 429})


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


def classify(
    status: int, what: str, body: str = "", headers: Mapping[str, Any] | None = None
) -> DeliveryResult:
    """The result of an HTTP answer: 2xx ok; 429, 408 and 5xx retried; other 4xx permanent."""
    if 200 <= status < 300:
        return DeliveryResult.success()
    detail = f"{what}: HTTP {status}" + (f": {body.strip()[:200]}" if body.strip() else "")
    permanent = 400 <= status < 500 and status not in _RETRIABLE_4XX
    return DeliveryResult.failure(
        detail, permanent=permanent, retry_after_seconds=retry_after(headers)
    )


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
    the URL, which may hold a secret)."""
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked at config load
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "runwatch", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return classify(response.status, what)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace") if exc.fp else ""
        return classify(exc.code, what, text, dict(exc.headers or {}))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return DeliveryResult.failure(f"{what}: cannot connect: {type(reason).__name__}")
