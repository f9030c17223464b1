"""A small JSON-over-HTTP client with retries, shared by the Perspective scorer and the
chat-endpoint judge. Standard library only (urllib), so no extra dependency.

Retries: HTTP 429 and 5xx, and connection errors, with exponential backoff
(``backoff_s * 2**attempt``, or the server's ``Retry-After`` seconds when given). Other
4xx are the caller's fault (bad key, bad request) and raise at once with the server's
message, since retrying cannot fix them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Callable


class HTTPError(RuntimeError):
    """A request failed for good. ``status`` is the last HTTP status (None: no response)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float = 60.0,
    max_retries: int = 5,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """POST ``payload`` as JSON, return the decoded JSON reply (see module doc for retries)."""
    body = json.dumps(payload).encode("utf-8")
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    last = ""
    status: int | None = None
    for attempt in range(max_retries + 1):
        req = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
        wait = backoff_s * (2**attempt)
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            status = e.code
            detail = e.read().decode("utf-8", errors="replace")[:500]
            last = f"HTTP {e.code}: {detail}"
            if e.code != 429 and e.code < 500:
                raise HTTPError(f"POST {_redact(url)} failed with {last}", status=e.code) from None
            retry_after = e.headers.get("Retry-After") if e.headers else None
            if retry_after is not None:
                try:
                    wait = float(retry_after)
                except ValueError:
                    pass
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            status = None
            last = f"connection error: {e}"
        except json.JSONDecodeError as e:
            raise HTTPError(f"POST {_redact(url)}: reply is not JSON ({e.msg})", status=200) from None
        if attempt < max_retries:
            sleep(wait)
    raise HTTPError(f"POST {_redact(url)} failed after {max_retries + 1} attempts; last: {last}", status=status)


def _redact(url: str) -> str:
    """Drop the query string (Perspective takes its API key as ``?key=``)."""
    return url.split("?", 1)[0]
