"""HMAC-SHA256 signatures on broker messages, with a key schedulers and workers share.

With ``executor.signing_key`` set, schedulers sign every attempt message and workers
reject (and fail the attempt of) any message whose signature is missing or wrong, so
write access to the broker alone no longer chooses what workers run.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from runner.secret import Secret
from runner.store.spine_sql import to_json

SIGNATURE_KEY = "sig"
MIN_KEY_LENGTH = 32
"""Characters; a shorter shared secret is refused at startup."""


def _digest(payload: Mapping[str, Any], key: Secret) -> str:
    body = {k: v for k, v in payload.items() if k != SIGNATURE_KEY}
    text = to_json(body)
    return hmac.new(key.reveal().encode(), text.encode(), hashlib.sha256).hexdigest()


def sign(payload: Mapping[str, Any], key: Secret) -> dict[str, Any]:
    """``payload`` with its signature added."""
    return {**payload, SIGNATURE_KEY: _digest(payload, key)}


def signature_problem(payload: Mapping[str, Any], key: Secret) -> str | None:
    """Why ``payload``'s signature is not valid for ``key``; None when it is."""
    given = payload.get(SIGNATURE_KEY)
    if not isinstance(given, str):
        return "the message has no signature (executor.signing_key is set on this worker)"
    if not hmac.compare_digest(given, _digest(payload, key)):
        return "the message's signature is wrong (a different executor.signing_key, or edited)"
    return None
