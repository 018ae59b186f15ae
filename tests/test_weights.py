"""Checkpoint download against a local HTTP server (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hm_annotate import weights
from hm_annotate.weights import SAM_CHECKPOINTS, WeightsError, download, find_checkpoint

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: more than one read chunk
SHA = hashlib.sha256(PAYLOAD).hexdigest()
NAME = SAM_CHECKPOINTS["vit_b"][0]


@dataclass
class ServerState:
    payload: bytes = PAYLOAD
    honour_range: bool = True
    cut_after: int | None = None  # close the connection after this many body bytes
    fail_with: int | None = None  # answer every request with this HTTP error
    ranges: list[str | None] = field(default_factory=list)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``state.payload`` at any path, with optional ``Range: bytes=N-`` support."""

    state: ServerState

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state = self.state
        header = self.headers.get("Range")
        state.ranges.append(header)
        if state.fail_with is not None:
            self.send_error(state.fail_with)
            return
        body, status = state.payload, 200
        if header and state.honour_range:
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(state.payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(state.payload)}")
                self.end_headers()
                return
            body, status = state.payload[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(state.payload) - 1}/{len(state.payload)}")
        self.end_headers()
        if state.cut_after is not None:
            body = body[: state.cut_after]
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    handler = type("Handler", (RangeHandler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{NAME}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def fetch(url: str, dest: Path, sha: str = SHA, size: int = len(PAYLOAD)) -> Path:
    return download("vit_b", dest, url=url, expected_sha256=sha, expected_size=size)


def test_full_download(server, tmp_path):
    url, state = server
    path = fetch(url, tmp_path)
    assert path == tmp_path / NAME
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / (NAME + ".part")).exists()
    assert state.ranges == [None]
    assert find_checkpoint("vit_b", tmp_path) is None  # wrong size for the real vit_b file


def test_present_file_is_not_downloaded_again(server, tmp_path):
    url, state = server
    fetch(url, tmp_path)
    fetch(url, tmp_path)
    assert len(state.ranges) == 1


def test_resume_sends_range_and_completes(server, tmp_path):
    url, state = server
    (tmp_path / (NAME + ".part")).write_bytes(PAYLOAD[:1000])
    path = fetch(url, tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert state.ranges == ["bytes=1000-"]


def test_server_ignoring_range_restarts(server, tmp_path):
    url, state = server
    state.honour_range = False
    (tmp_path / (NAME + ".part")).write_bytes(PAYLOAD[:1000])
    path = fetch(url, tmp_path)
    assert path.read_bytes() == PAYLOAD  # not 1000 bytes of prefix followed by the whole file
    assert state.ranges == ["bytes=1000-"]


def test_oversized_part_is_replaced(server, tmp_path):
    url, state = server
    (tmp_path / (NAME + ".part")).write_bytes(PAYLOAD + b"junk")
    assert fetch(url, tmp_path).read_bytes() == PAYLOAD
    assert state.ranges == [None]


def test_range_refused_restarts(server, tmp_path):
    url, state = server
    (tmp_path / (NAME + ".part")).write_bytes(PAYLOAD)  # the mirror's file is shorter than expected
    with pytest.raises(WeightsError, match=f"after {len(PAYLOAD)} of {len(PAYLOAD) + 4} bytes"):
        fetch(url, tmp_path, size=len(PAYLOAD) + 4)
    assert state.ranges == [f"bytes={len(PAYLOAD)}-", None]  # 416, then a fresh full request


def test_interrupted_download_keeps_part_then_resumes(server, tmp_path):
    url, state = server
    state.cut_after = 5000
    with pytest.raises(WeightsError, match="run again to resume"):
        fetch(url, tmp_path)
    part = tmp_path / (NAME + ".part")
    assert part.read_bytes() == PAYLOAD[:5000]
    assert not (tmp_path / NAME).exists()
    state.cut_after = None
    assert fetch(url, tmp_path).read_bytes() == PAYLOAD
    assert state.ranges == [None, "bytes=5000-"]


def test_bad_checksum_leaves_nothing_under_final_name(server, tmp_path):
    url, _state = server
    with pytest.raises(WeightsError, match="SHA-256 .* does not match"):
        fetch(url, tmp_path, sha="0" * 64)
    assert not (tmp_path / NAME).exists()
    assert not (tmp_path / (NAME + ".part")).exists()


def test_size_only_verification(server, tmp_path):
    url, _state = server
    assert fetch(url, tmp_path, sha="").read_bytes() == PAYLOAD  # "" = no hash known: size only


def test_http_error_is_reported(server, tmp_path):
    url, state = server
    state.fail_with = 404
    with pytest.raises(WeightsError, match="HTTP 404"):
        fetch(url, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no file, no empty .part


def test_unknown_model(tmp_path):
    with pytest.raises(WeightsError, match="unknown Segment Anything model 'vit_x'.*vit_b, vit_h, vit_l"):
        download("vit_x", tmp_path)
    with pytest.raises(WeightsError, match="unknown"):
        find_checkpoint("vit_x", tmp_path)


def test_table_matches_design_sizes():
    assert SAM_CHECKPOINTS["vit_h"][2] == 2_564_550_879
    assert SAM_CHECKPOINTS["vit_b"][2] == 375_042_383
    for name, url, _size, sha in SAM_CHECKPOINTS.values():
        assert url == weights.SAM_BASE_URL + name
        assert sha is None or len(sha) == 64


def test_default_cache_dir_and_find(monkeypatch, tmp_path):
    monkeypatch.setenv("HM_ANNOTATE_CACHE", str(tmp_path))
    assert weights.default_cache_dir() == tmp_path
    assert find_checkpoint("vit_b") is None
    monkeypatch.setattr(weights, "SAM_CHECKPOINTS", {"vit_b": (NAME, "unused", len(PAYLOAD), SHA)})
    (tmp_path / NAME).write_bytes(PAYLOAD)
    assert find_checkpoint("vit_b") == tmp_path / NAME
    monkeypatch.delenv("HM_ANNOTATE_CACHE")
    assert weights.default_cache_dir() == Path.home() / ".cache" / "hm-annotate" / "checkpoints"
