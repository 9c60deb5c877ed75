"""The client `runwatch wrap --server URL` reports through: urllib, a short timeout.

It authenticates with the job's own token (`runwatch ping-url JOB` prints it) and, for
``https://`` URLs, verifies the server's certificate against the system's CAs, or a CA
bundle given with ``--ca-file``. A failure says which of three it is: unauthorised (the
token is wrong for this job), refused (the server said no, or nothing listens), or
unreachable (timeouts, DNS) — only the last may come right by itself.
"""

from __future__ import annotations

import json

from runner.wrap.report import RUNNING, SUCCESS, Report, SkipReport

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    import ssl

TIMEOUT_SECONDS = 5.0
UNAUTHORISED = "unauthorised"
REFUSED = "refused"
UNREACHABLE = "unreachable"


class PingClientError(Exception):
    """A ping that was not recorded; ``kind`` is unauthorised, refused or unreachable,
    and ``permanent`` when sending it again cannot help."""

    def __init__(self, message: str, *, kind: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.permanent = permanent


class PingClient:
    """Sends reports to `runwatch serve`'s ping API."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        ca_file: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.ca_file = ca_file
        self.timeout = timeout

    def send(self, report: Report) -> int | None:
        """Ping with the report; the run's id. PingClientError when it was not recorded."""
        if isinstance(report, SkipReport):
            kind = "skip"
        else:
            kind = {RUNNING: "start", SUCCESS: "success"}.get(report.state, "fail")
        body = json.dumps({"report": report.to_json()}).encode()
        answer = self._post(f"/api/v1/jobs/{report.job.name}/{kind}", body)
        run_id = answer.get("run_id")
        return run_id if isinstance(run_id, int) else None

    def _context(self) -> ssl.SSLContext | None:
        if not self.base_url.startswith("https://"):
            return None
        import ssl

        return ssl.create_default_context(cafile=self.ca_file)

    def _post(self, path: str, body: bytes) -> dict[str, object]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - the URL is the user's --server
            self.base_url + path,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout, context=self._context()
            ) as response:
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise _answered(self.base_url, exc.code, exc.read()[:300]) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise _not_answered(self.base_url, exc) from None
        return data if isinstance(data, dict) else {}


def _answered(url: str, status: int, raw: bytes) -> PingClientError:
    try:
        detail = json.loads(raw).get("error") or ""
    except (ValueError, AttributeError):
        detail = raw.decode("utf-8", "replace").strip()
    if status in (401, 403):
        reason = "the token is not this job's" if status == 401 else detail
        return PingClientError(
            f"{url} refused the ping as unauthorised ({status}): {reason}",
            kind=UNAUTHORISED,
            permanent=status == 403,  # a fixed token lets a 401's report through later
        )
    if 400 <= status < 500:
        return PingClientError(
            f"{url} refused the ping ({status}): {detail}",
            kind=REFUSED,
            permanent=status not in (408, 409, 429),
        )
    return PingClientError(f"{url} failed the ping ({status}): {detail}", kind=UNREACHABLE)


def _not_answered(url: str, exc: BaseException) -> PingClientError:
    import ssl
    import urllib.error

    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        message = f"{url}: the server's certificate is not trusted ({reason.verify_message})"
        return PingClientError(message, kind=REFUSED)
    if isinstance(reason, ConnectionRefusedError):
        return PingClientError(f"{url} refused the connection: nothing listens", kind=REFUSED)
    return PingClientError(f"{url} unreachable: {reason}", kind=UNREACHABLE)
