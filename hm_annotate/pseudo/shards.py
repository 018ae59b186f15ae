"""Split a dataset's videos between independent workers, the same way on every machine.

Shard K of N takes the videos at positions K, K+N, K+2N, ... of the id-sorted list, so the split
depends only on the ids and every video lands in exactly one shard. The shard comes from
``--shard K/N`` or, when a launcher sets them, ``RANK``/``WORLD_SIZE`` (torchrun) or
``SLURM_PROCID``/``SLURM_NTASKS`` (srun).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypeVar

from hm_annotate.errors import HMError

T = TypeVar("T")

_ENV_PAIRS = (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS"))


class ShardError(HMError):
    """A shard specification that cannot be used."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ShardError(f"shard {text!r} is not K/N (e.g. 0/4)") from None
    if n < 1 or not 0 <= k < n:
        raise ShardError(f"shard {text!r}: need 0 <= K < N")
    return k, n


def shard_from_env(environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """(K, N) from a launcher's environment variables, None when none is set."""
    env = os.environ if environ is None else environ
    for rank, size in _ENV_PAIRS:
        if rank in env and size in env:
            return parse_shard(f"{env[rank]}/{env[size]}")
    return None


def select(items: Sequence[T], shard: tuple[int, int], *, key=lambda v: v.id) -> list[T]:
    """The items of shard (K, N), in id order."""
    k, n = shard
    ordered = sorted(items, key=key)
    return ordered[k::n]


def resolve(
    spec: str | None, out: str, *, environ: Mapping[str, str] | None = None
) -> tuple[tuple[int, int] | None, str]:
    """The shard to run, from ``spec`` (``"K/N"``) or else the launcher's environment, and the
    output path with ``{shard}`` replaced by K. A shard taken from the environment must have
    ``{shard}`` in ``out``: every worker would write the same store otherwise."""
    part = parse_shard(spec) if spec else shard_from_env(environ)
    if part is not None and part[1] > 1 and spec is None and "{shard}" not in out:
        raise ShardError(
            f"running as shard {part[0]}/{part[1]} (from the environment): put {{shard}} in out "
            "so each shard writes its own store, then combine them with `hm-annotate merge`"
        )
    return part, out if part is None else out.replace("{shard}", str(part[0]))
