"""Download and verify Segment Anything checkpoints.

Checkpoints are large (375 MB to 2.5 GB), so a download writes to ``<file>.part``, resumes a broken
transfer with an HTTP Range request (restarting when the server ignores Range), verifies size and
SHA-256, and only then renames the file into place. A file under the final name has therefore
always been verified, which is why ``find_checkpoint`` checks only its size.

The six hex digits in Meta's file names are the start of each file's MD5, not its SHA-256; the
SHA-256 values below are the ones published for these files by several independent projects.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from hm_annotate.errors import HMError
from hm_annotate.reporting import Reporter

SAM_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything/"

# model -> (file name, url, size in bytes, sha256 or None when only the size can be checked)
SAM_CHECKPOINTS: dict[str, tuple[str, str, int, str | None]] = {
    "vit_h": (
        "sam_vit_h_4b8939.pth",
        SAM_BASE_URL + "sam_vit_h_4b8939.pth",
        2_564_550_879,
        "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
    ),
    "vit_l": (
        "sam_vit_l_0b3195.pth",
        SAM_BASE_URL + "sam_vit_l_0b3195.pth",
        1_249_524_607,
        "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
    ),
    "vit_b": (
        "sam_vit_b_01ec64.pth",
        SAM_BASE_URL + "sam_vit_b_01ec64.pth",
        375_042_383,
        "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
    ),
}

CHUNK = 1 << 20
TIMEOUT_S = 60.0


class WeightsError(HMError):
    """A checkpoint cannot be downloaded or does not verify."""


def default_cache_dir() -> Path:
    """Where checkpoints live: ``$HM_ANNOTATE_CACHE`` or ``~/.cache/hm-annotate/checkpoints``."""
    env = os.environ.get("HM_ANNOTATE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hm-annotate" / "checkpoints"


def checkpoint_info(model: str) -> tuple[str, str, int, str | None]:
    """The table row of a model name, or a WeightsError listing the known names."""
    try:
        return SAM_CHECKPOINTS[model]
    except KeyError:
        known = ", ".join(sorted(SAM_CHECKPOINTS))
        raise WeightsError(f"unknown Segment Anything model {model!r} (known: {known})") from None


def find_checkpoint(model: str, dir: str | Path | None = None) -> Path | None:
    """The downloaded checkpoint of ``model`` in ``dir`` (default cache) if present with the right size."""
    name, _url, size, _sha = checkpoint_info(model)
    path = Path(dir if dir is not None else default_cache_dir()) / name
    return path if path.is_file() and path.stat().st_size == size else None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    model: str,
    dest_dir: str | Path | None = None,
    *,
    url: str | None = None,
    reporter: Reporter | None = None,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
) -> Path:
    """Download ``model``'s checkpoint into ``dest_dir`` and return its verified path.

    ``url`` replaces the official address (a mirror); ``expected_sha256`` / ``expected_size``
    replace the table's values (for mirrors of other files, and tests). A verified file already in
    place is returned without touching the network. A checksum mismatch deletes the partial file
    (resuming it would only repeat the mismatch) and raises.
    """
    name, official_url, size, sha = checkpoint_info(model)
    size = expected_size if expected_size is not None else size
    sha = (expected_sha256 if expected_sha256 is not None else sha) or None
    dest_dir = Path(dest_dir if dest_dir is not None else default_cache_dir())
    dest = dest_dir / name
    if dest.is_file():
        if dest.stat().st_size == size:
            return dest
        raise WeightsError(
            f"{dest} exists but is {dest.stat().st_size} bytes, expected {size}; delete it to download again"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(name + ".part")
    source = url or official_url
    try:
        _fetch(source, part, size, reporter or Reporter())
    finally:
        if part.exists() and part.stat().st_size == 0:  # nothing arrived: leave no empty part behind
            part.unlink()
    got_size = part.stat().st_size
    if got_size < size:
        raise WeightsError(
            f"{source}: connection closed after {got_size} of {size} bytes; run again to resume"
        )
    if got_size > size:
        part.unlink()
        raise WeightsError(f"{source}: got {got_size} bytes, expected {size}; deleted the download")
    if sha is not None:
        got = sha256_file(part)
        if got != sha.lower():
            part.unlink()
            raise WeightsError(
                f"{source}: SHA-256 {got} does not match the expected {sha}; deleted the download"
            )
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, size: int, reporter: Reporter) -> None:
    """Bring ``part`` towards ``size`` bytes from ``url``, resuming what is already there."""
    import fcntl

    with open(part, "ab") as out:  # append mode: every write lands at the current end
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WeightsError(f"{part} is being downloaded by another process") from None
        have = out.seek(0, os.SEEK_END)
        if have > size:  # not a prefix of this file: start over
            out.truncate(0)
            have = 0
        if have == size:
            return
        response = _open(url, have)
        if response is None:  # 416: the server will not serve our offset, start over
            response = _open(url, 0)
        if have and response.status != 206:  # Range refused or ignored: the body is the whole file
            out.truncate(0)
            have = 0
        elif have:
            _check_content_range(url, response.headers.get("Content-Range"), have)
        with (
            response,
            reporter.bar(
                total=size,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
            ) as bar,
        ):
            _copy(url, response, out, bar, have)


def _open(url: str, offset: int) -> http.client.HTTPResponse | None:
    """GET ``url`` from byte ``offset``; None when the server refuses the range (416)."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None
        raise WeightsError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise WeightsError(f"{url}: {getattr(exc, 'reason', exc)}") from exc


def _check_content_range(url: str, header: str | None, have: int) -> None:
    """A 206 must continue exactly where our part ends (``bytes <start>-<end>/<total>``)."""
    try:
        start = int(header.split()[1].split("-")[0]) if header else -1
    except (IndexError, ValueError):
        start = -1
    if start != have:
        raise WeightsError(f"{url}: asked for bytes from {have}, server sent Content-Range {header!r}")


def _copy(url: str, response: IO[bytes], out: IO[bytes], bar, have: int) -> None:
    """Stream the body to ``out``; a broken connection keeps the part for the next run to resume."""
    written = have
    try:
        for block in iter(lambda: response.read(CHUNK), b""):
            out.write(block)
            written += len(block)
            bar.update(len(block))
    except (OSError, http.client.HTTPException) as exc:
        out.flush()
        raise WeightsError(
            f"{url}: download interrupted after {written} bytes ({exc}); run again to resume"
        ) from exc
    out.flush()
    os.fsync(out.fileno())
