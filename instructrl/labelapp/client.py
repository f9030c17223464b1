"""``HttpLabelers``: the training loop's ``LabelerBackend`` for the labeling web app.

Needs only httpx. ``submit`` is idempotent on ``batch.id`` (sent as the Idempotency-Key),
so a resumed run that submits the same batch re-attaches to it instead of queueing a
second copy. ``wait`` polls with back-off and can proceed with a partial batch at a
deadline (``min_fraction`` < 1), cancelling the unfinished rest.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from instructrl.labelers.base import BatchStatus, LabelBatch, LabelerBackend, LabelResults
from instructrl.labelapp.wire import batch_to_json, results_from_json, status_from_json


def _q(batch_id: str) -> str:
    from urllib.parse import quote

    return quote(batch_id, safe="/")


class LabelAppError(RuntimeError):
    """The server refused a request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"labelapp HTTP {status}: {message}")


class IncompleteBatch(LabelAppError):
    pass


class HttpLabelers:
    """Label batches through a running ``instructrl labelapp serve`` (an admin API token
    with scopes ``batches:write`` and ``results:read``)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0, retries: int = 4, client: Any = None) -> None:
        if not token:
            raise ValueError("HttpLabelers needs an API token (create one on /admin/tokens or with "
                             "`instructrl labelapp token`)")
        import httpx

        self.url = url.rstrip("/")
        self.retries = retries
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def _request(self, method: str, path: str, **kw: Any):
        """One request, retried on connection errors (every call here is safe to repeat)."""
        import httpx

        headers = {**self._headers, **kw.pop("headers", {})}
        for attempt in range(self.retries + 1):
            try:
                r = self._client.request(method, self.url + path, headers=headers, **kw)
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                time.sleep(min(2.0 ** attempt, 30.0))
                continue
            if r.status_code >= 500 and attempt < self.retries:
                time.sleep(min(2.0 ** attempt, 30.0))
                continue
            if r.status_code >= 400:
                try:
                    message = r.json().get("error", r.text)
                except ValueError:
                    message = r.text
                cls = IncompleteBatch if r.status_code == 409 and "incomplete" in message else LabelAppError
                raise cls(r.status_code, message)
            return r
        raise AssertionError("unreachable")

    def submit(self, batch: LabelBatch) -> str:
        """Queue ``batch``; submitting the same id again re-attaches (no duplicate work)."""
        self._request("POST", "/api/v1/batches", json=batch_to_json(batch), headers={"Idempotency-Key": batch.id})
        return batch.id

    def progress(self, batch_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/batches/{_q(batch_id)}").json()

    def status(self, batch_id: str) -> BatchStatus:
        return status_from_json(self.progress(batch_id))

    def results(self, batch_id: str, *, partial: bool = False) -> LabelResults:
        params = {"partial": "true"} if partial else {}
        return results_from_json(self._request("GET", f"/api/v1/batches/{_q(batch_id)}/results", params=params).json())

    def cancel(self, batch_id: str) -> BatchStatus:
        return status_from_json(self._request("POST", f"/api/v1/batches/{_q(batch_id)}/cancel").json())

    def agreement(self, batch_id: str | None = None) -> dict[str, Any]:
        return self._request("GET", "/api/v1/agreement", params={"batch": batch_id} if batch_id else {}).json()

    def export(self, what: str, include: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        import json

        r = self._request("GET", f"/api/v1/export/{what}.jsonl", params={"include": ",".join(include)})
        for line in r.text.splitlines():
            if line.strip():
                yield json.loads(line)


def wait(
    backend: LabelerBackend, batch_id: str, *, deadline_s: float | None = None, min_fraction: float = 1.0,
    poll_s: float = 30.0, max_poll_s: float = 300.0, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic, on_poll: Callable[[BatchStatus], None] | None = None,
) -> BatchStatus:
    """Poll until the batch is complete, backing off from ``poll_s`` to ``max_poll_s``.

    At ``deadline_s`` (seconds from now): if at least ``min_fraction`` of the items are done,
    return the status (fetch with ``results(..., partial=True)``; a backend with ``cancel``
    has its unfinished items cancelled first); otherwise raise ``TimeoutError``.
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    end = None if deadline_s is None else clock() + deadline_s
    delay = poll_s
    while True:
        st = backend.status(batch_id)
        if on_poll is not None:
            on_poll(st)
        if st.complete:
            return st
        if end is not None and clock() >= end:
            frac = st.n_done / st.n_items if st.n_items else 1.0
            if frac >= min_fraction:
                if hasattr(backend, "cancel"):
                    backend.cancel(batch_id)
                return st
            raise TimeoutError(f"batch {batch_id!r}: {st.n_done}/{st.n_items} done at the deadline, "
                               f"below min_fraction={min_fraction}")
        pause = delay if end is None else max(0.0, min(delay, end - clock()))
        sleep(pause)
        delay = min(delay * 1.5, max_poll_s)
