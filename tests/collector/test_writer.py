"""The writer: its disk buffer (durable, oldest first, bounded), refusals by the database."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

import urllib3

from collector.selfmetrics import SelfMetrics
from collector.writer import DiskBuffer, MetricsSettings, MetricsWriter, Sink
from tests.support import fake_agents
from tests.support.services import VictoriaMetrics
from tests.support.waiting import wait_until


def test_buffer_keeps_order_across_a_restart_and_drops_oldest_beyond_its_bound(tmp_path: Path) -> None:
    metrics = SelfMetrics()
    buffer = DiskBuffer(tmp_path, max_bytes=25, metrics=metrics)
    for body in (b"a 1\nb 2", b"c 3", b"d 4"):
        buffer.append(body)
    reopened = DiskBuffer(tmp_path, max_bytes=25, metrics=metrics)
    assert len(reopened) == 3 and reopened.size_bytes == 13
    reopened.append(b"e" * 10)  # 23 bytes: still fits
    reopened.append(b"f" * 10)  # 33 bytes: the two oldest bodies (three lines) go
    assert metrics.buffer_dropped_lines._value.get() == 3
    bodies = []
    while (item := reopened.oldest()) is not None:
        bodies.append(item[1])
        reopened.remove(item[0])
    assert bodies == [b"d 4", b"e" * 10, b"f" * 10]
    assert reopened.size_bytes == 0 and metrics.buffer_bytes._value.get() == 0


def _settings(url: str, tmp_path: Path) -> MetricsSettings:
    return MetricsSettings(
        url=url,
        buffer_dir=str(tmp_path / "buffer"),
        retries=0,
        retry_backoff_seconds=0.05,
        max_backoff_seconds=0.2,
        timeout_seconds=2.0,
    )


def _sink(settings: MetricsSettings, metrics: SelfMetrics) -> Sink:
    buffer = DiskBuffer(Path(settings.buffer_dir), settings.buffer_max_bytes, metrics)
    return Sink(MetricsWriter(settings, metrics), buffer, settings)


class _Auth(VictoriaMetrics):
    """VictoriaMetrics behind basic auth the collector does not have: every write gets 401."""

    def command(self) -> list[str]:
        return [*super().command(), "-httpAuth.username=ops", "-httpAuth.password=secret"]

    def wait_ready(self) -> None:
        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return True
            except urllib.error.HTTPError as err:
                err.close()
                return True  # it answers: up (whether /health itself wants credentials or not)

        wait_until(answers, timeout=20, what="VictoriaMetrics with auth to come up", ignore=(OSError,))


def test_a_refused_token_keeps_bodies_buffered_until_the_database_takes_them(tmp_path: Path) -> None:
    # A real VictoriaMetrics refusing the collector (401), then the same data directory
    # served without auth, as when the operator fixes the credentials.
    data = tmp_path / "vm"
    locked = _Auth(data)
    locked.start()
    metrics = SelfMetrics()
    settings = _settings(locked.url, tmp_path)
    sink = _sink(settings, metrics)
    try:
        sink.start()
        now = time.time_ns()
        sink.store(f"refused,agent_id=pc-1 v=7 {now}".encode())
        assert not sink.healthy
        assert metrics.write_errors.labels(kind="401")._value.get() >= 1
        assert not (tmp_path / "buffer" / "rejected").exists()  # a settings problem, not bad data
        assert metrics.buffer_segments._value.get() == 1
    finally:
        sink.close(timeout=2.0)
        locked.stop()
    opened = VictoriaMetrics(data, port=locked.port)
    opened.start()
    try:
        sink = _sink(settings, metrics)
        sink.start()
        wait_until(lambda: metrics.buffer_segments._value.get() == 0, timeout=15, what="the buffer to drain")
        assert sink.healthy

        def found() -> list[dict[str, Any]]:
            fake_agents.flush_vm(opened.url)
            return fake_agents.query(opened.url, "last_over_time(refused_v[1h])")

        # a new series takes a moment to index
        points = wait_until(found, timeout=30, interval=0.2, what="the buffered point in VictoriaMetrics")
        assert len(points) == 1 and points[0]["value"][1] == "7"
        sink.close(timeout=2.0)
    finally:
        opened.stop()


class _RefusingInflux(http.server.BaseHTTPRequestHandler):
    """Stands in for InfluxDB 2 refusing the data itself (400), which cannot run here and
    which VictoriaMetrics never does (it skips lines it cannot parse and answers 204)."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        payload = b'{"code":"invalid","message":"unable to parse \'bad line\': missing fields"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        pass


def test_data_the_database_refuses_is_kept_aside_not_retried(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingInflux)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    metrics = SelfMetrics()
    sink = _sink(_settings(f"http://127.0.0.1:{server.server_address[1]}", tmp_path), metrics)
    sink.start()
    try:
        sink.store(b"bad line")
        sink.store(b"bad line 2")
    finally:
        server.shutdown()
        server.server_close()
        sink.close(timeout=2.0)
    assert _RefusingInflux.bodies == [b"bad line", b"bad line 2"]  # each tried once, in order
    kept = sorted((tmp_path / "buffer" / "rejected").iterdir())
    assert [path.read_bytes() for path in kept] == [b"bad line", b"bad line 2"]
    assert sink.healthy and metrics.buffer_segments._value.get() == 0
    assert metrics.write_errors.labels(kind="400")._value.get() == 2


def test_the_writer_gets_upstream_urllib3_not_the_fork() -> None:
    """deploy/install-deps.sh keeps urllib3-future (grafana-client -> niquests) beside urllib3.

    Its wheel replaces the urllib3 package; influxdb-client then posts through the fork at
    twice the CPU per write. The fork's versions have a patch number of 900 or more.
    """
    assert int(urllib3.__version__.split(".")[2]) < 900, f"urllib3 is urllib3-future {urllib3.__version__}"
