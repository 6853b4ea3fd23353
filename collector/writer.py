"""Line protocol -> VictoriaMetrics /api/v2/write, with a bounded on-disk buffer for outages.

`MetricsWriter` posts one body with influxdb-client (synchronous API: no background
batching thread whose close() could block shutdown for minutes; its own urllib3 retries
are off and the timeout is ours), retrying a few times with backoff. `Sink` is what
ingest uses: it writes straight through while the database answers, and otherwise
appends the body to `DiskBuffer`, a directory of fsynced segment files that a drain
thread writes back oldest first once the database returns. While anything is buffered
new bodies are buffered too, so data reaches the database in the order it arrived.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Final, Protocol

import msgspec
import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from collector.bounds import NonNegativeInt, Positive, PositiveInt
from collector.errors import BufferUnusable, WriteError, WriteRejected
from collector.selfmetrics import SelfMetrics

log = logging.getLogger(__name__)

_SUFFIX: Final = ".lp"
# 408 and 429 say "later", 5xx say "not now": worth retrying. 401, 403 and 404 say the
# collector's settings are wrong (token, URL), which an operator fixes while the bodies
# wait in the buffer. Any other 4xx is about the data itself and would fail again.
_RETRYABLE_4XX: Final = frozenset({401, 403, 404, 408, 429})


class MetricsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The metrics database (VictoriaMetrics or InfluxDB 2) and the writer's buffer."""

    url: str = "http://127.0.0.1:8428"
    bucket: str = "deskwatch"
    org: str = "deskwatch"
    token_env: str = ""
    gzip: bool = False
    batch_lines: PositiveInt = 20_000
    flush_interval_seconds: Positive = 0.2
    timeout_seconds: Positive = 10.0
    retries: NonNegativeInt = 2
    retry_backoff_seconds: Positive = 0.2
    max_backoff_seconds: Positive = 10.0
    buffer_dir: str = "var/deskwatch/write-buffer"
    buffer_max_bytes: PositiveInt = 2 * 1024**3
    shutdown_timeout_seconds: Positive = 10.0


class MetricsWriter:
    """Posts line-protocol bodies to one write endpoint with bounded retries."""

    def __init__(self, settings: MetricsSettings, metrics: SelfMetrics, token: str = "") -> None:
        self._settings = settings
        self._metrics = metrics
        self._client = InfluxDBClient(
            url=settings.url,
            token=token or None,  # type: ignore[arg-type]  # None: no Authorization header
            org=settings.org,
            timeout=int(settings.timeout_seconds * 1000),
            enable_gzip=settings.gzip,
            retries=False,
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, body: bytes, attempts: int | None = None) -> None:
        """Write `body`, trying up to `attempts` times with backoff; raise WriteError if it never lands."""
        tries = attempts if attempts is not None else 1 + self._settings.retries
        delay = self._settings.retry_backoff_seconds
        for attempt in range(tries):
            try:
                self._post(body)
                return
            except WriteRejected:
                raise
            except WriteError:
                if attempt + 1 == tries:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, self._settings.max_backoff_seconds)

    def _post(self, body: bytes) -> None:
        started = time.perf_counter()
        try:
            self._api.write(bucket=self._settings.bucket, org=self._settings.org, record=body)
        except ApiException as err:
            self._metrics.write_errors.labels(kind=str(err.status)).inc()
            status = err.status or 0
            if 400 <= status < 500 and status not in _RETRYABLE_4XX:
                raise WriteRejected(f"{self._settings.url} refused the write: {status} {err.reason}") from err
            raise WriteError(f"{self._settings.url} answered {status} {err.reason}") from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            self._metrics.write_errors.labels(kind="connection").inc()
            raise WriteError(f"cannot reach {self._settings.url}: {err}") from err
        self._metrics.write_seconds.observe(time.perf_counter() - started)

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]


class DiskBuffer:
    """A directory of segment files, each one body, oldest first; bounded by total size."""

    def __init__(self, directory: Path, max_bytes: int, metrics: SelfMetrics) -> None:
        self._dir = directory
        self._max_bytes = max_bytes
        self._metrics = metrics
        self._lock = threading.Lock()
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            for stale in self._dir.glob("*.tmp"):
                stale.unlink()  # a write cut short by a crash; its messages were never acknowledged
            self._segments = sorted(self._dir.glob(f"*{_SUFFIX}"))
            self._bytes = sum(path.stat().st_size for path in self._segments)
        except OSError as err:
            raise BufferUnusable(f"cannot use the write buffer {self._dir}: {err}") from err
        self._next = int(self._segments[-1].stem) + 1 if self._segments else 0
        self._report()

    def __len__(self) -> int:
        return len(self._segments)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, body: bytes) -> None:
        """Store `body` durably (fsync) as the newest segment, dropping the oldest beyond the bound."""
        with self._lock:
            path = self._dir / f"{self._next:020d}{_SUFFIX}"
            self._next += 1
            tmp = path.with_suffix(".tmp")
            try:
                with open(tmp, "wb") as file:
                    file.write(body)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, path)
                fd = os.open(self._dir, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as err:
                raise BufferUnusable(f"cannot write to the write buffer {self._dir}: {err}") from err
            self._segments.append(path)
            self._bytes += len(body)
            while self._bytes > self._max_bytes and len(self._segments) > 1:
                self._drop_oldest()
            self._report()

    def oldest(self) -> tuple[Path, bytes] | None:
        """The oldest segment and its body, or None when the buffer is empty."""
        with self._lock:
            if not self._segments:
                return None
            path = self._segments[0]
        try:
            return path, path.read_bytes()
        except OSError as err:
            raise BufferUnusable(f"cannot read {path}: {err}") from err

    def remove(self, path: Path) -> None:
        """Delete a segment once its body is in the database (or given up on)."""
        with self._lock:
            if path in self._segments:
                self._segments.remove(path)
                self._bytes -= path.stat().st_size
                path.unlink()
            self._report()

    def _drop_oldest(self) -> None:
        path = self._segments.pop(0)
        body = path.read_bytes()
        self._bytes -= len(body)
        path.unlink()
        lines = body.count(b"\n") + 1
        self._metrics.buffer_dropped_lines.inc(lines)
        log.warning("write buffer full (%d bytes): dropped its oldest %d lines", self._max_bytes, lines)

    def _report(self) -> None:
        self._metrics.buffer_bytes.set(self._bytes)
        self._metrics.buffer_segments.set(len(self._segments))


class LineStore(Protocol):
    """Where ingest puts a flush's line protocol: returns once it is safe, raises CollectorError if not."""

    def store(self, body: bytes) -> None: ...


class DirectSink:
    """Straight to the database and nowhere else: for a one-off process (`deadletter replay`)
    that must not share the running collector's disk buffer. WriteError if it is not taken."""

    def __init__(self, writer: MetricsWriter) -> None:
        self._writer = writer

    def store(self, body: bytes) -> None:
        if body:
            self._writer.write(body)


class Sink:
    """Where ingest puts line protocol: the database if it answers, else the disk buffer."""

    def __init__(self, writer: MetricsWriter, buffer: DiskBuffer, settings: MetricsSettings) -> None:
        self._writer = writer
        self._buffer = buffer
        self._settings = settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="writer-drain", daemon=True)
        self._down = False

    @property
    def healthy(self) -> bool:
        """False while writes fail and data waits on disk."""
        return not self._down

    def start(self) -> None:
        self._thread.start()

    def store(self, body: bytes) -> None:
        """Return once `body` is in the database or durably in the buffer; raise BufferUnusable otherwise."""
        if not body:
            return
        if len(self._buffer) == 0:
            try:
                self._writer.write(body)
                return
            except WriteRejected as err:
                self._reject(body, err)
                return
            except WriteError as err:
                self._mark_down(err)
        self._buffer.append(body)
        self._wake.set()

    def _drain(self) -> None:
        delay = self._settings.retry_backoff_seconds
        while not self._stop.is_set():
            try:
                item = self._buffer.oldest()
            except BufferUnusable as err:
                log.error("%s", err)
                self._stop.wait(self._settings.max_backoff_seconds)
                continue
            if item is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            path, body = item
            try:
                self._writer.write(body, attempts=1)
            except WriteRejected as err:
                self._reject(body, err)
            except WriteError as err:
                self._mark_down(err)
                self._stop.wait(delay)
                delay = min(delay * 2, self._settings.max_backoff_seconds)
                continue
            self._buffer.remove(path)
            delay = self._settings.retry_backoff_seconds
            if len(self._buffer) == 0 and self._down:
                self._down = False
                log.info("metrics database writable again; the write buffer is empty")

    def _mark_down(self, err: WriteError) -> None:
        if not self._down:
            self._down = True
            log.warning("%s; buffering on disk in %s", err, self._settings.buffer_dir)

    def _reject(self, body: bytes, err: WriteRejected) -> None:
        rejected = Path(self._settings.buffer_dir) / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        path = rejected / f"{time.time_ns()}{_SUFFIX}"
        path.write_bytes(body)
        log.error("%s; body kept in %s", err, path)

    def close(self, timeout: float) -> None:
        """Stop draining within `timeout` s; whatever is still buffered stays on disk for the next start."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._writer.close()
