"""Per-job ping credentials: each job's token is HMAC-SHA256(server secret, job name).

As Healthchecks' per-check URLs: the token of one job says nothing about another's, so a
host configured with it can report that job and no other. Only the server (and whoever
holds ``server.token``) can make tokens; nothing about them is stored.
"""

from __future__ import annotations

import hashlib
import hmac

from runner.secret import Secret


def job_token(secret: Secret, job: str) -> Secret:
    """The bearer token that lets a client ping ``job`` (64 lowercase hex characters)."""
    digest = hmac.new(secret.reveal().encode(), job.encode(), hashlib.sha256).hexdigest()
    return Secret(digest)


def token_matches(secret: Secret, job: str, given: str) -> bool:
    """True when ``given`` is ``job``'s token (compared in constant time)."""
    return hmac.compare_digest(job_token(secret, job).reveal().encode(), given.encode())
