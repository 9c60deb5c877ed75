"""Headless Chromium driven over the DevTools protocol: open a page, run JavaScript in
it, wait for what it shows. For the browser tests that must click and type (a login);
those that only look at pages use ``tests.e2e.dashboard.Browser``."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.e2e.dashboard import chromium

START_TIMEOUT = 60.0
_LISTENING = "DevTools listening on "


class Page:
    """One browser tab."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a DevTools command and return its result (events in between are dropped)."""
        call_id = next(self._ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def go(self, url: str) -> None:
        """Navigate to ``url``."""
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (None while it navigates)."""
        try:
            result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        except AssertionError:
            return None  # the page's context went away mid-navigation
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 120.0) -> None:
        """Poll ``expression`` until it is truthy; fail naming ``what`` and the page's text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"!!({expression})"):
                return
            time.sleep(0.25)
        text = self.evaluate("document.location.href + '\\n' + document.body.innerText")
        pytest.fail(f"the page never showed {what}:\n{str(text)[-3000:]}")


@contextmanager
def chromium_page(profile: Path) -> Iterator[Page]:
    """A headless Chromium with its own profile, and its first tab."""
    process = subprocess.Popen(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    drain: threading.Thread | None = None
    try:
        endpoint = _endpoint(process)
        assert process.stderr is not None  # drained, so a chatty Chromium never blocks
        drain = threading.Thread(target=process.stderr.read, daemon=True)
        drain.start()
        with urllib.request.urlopen(f"http://{endpoint}/json/list", timeout=10) as response:
            targets = json.load(response)
        tab = next(t for t in targets if t["type"] == "page")
        with connect(tab["webSocketDebuggerUrl"], max_size=None) as socket:
            page = Page(socket)
            page.call("Page.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drain is not None:
            drain.join(timeout=15)
        if process.stderr is not None:
            process.stderr.close()


def _endpoint(process: subprocess.Popen[str]) -> str:
    """``host:port`` of the DevTools server, from the line Chromium prints on stderr."""
    assert process.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if line.startswith(_LISTENING):
            url = line[len(_LISTENING) :].strip()  # ws://127.0.0.1:PORT/devtools/browser/…
            return url.split("/")[2]
    pytest.fail("Chromium did not start its DevTools server:\n" + "".join(seen[-20:]))
