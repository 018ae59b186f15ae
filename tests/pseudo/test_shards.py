from __future__ import annotations

from types import SimpleNamespace

import pytest

from hm_annotate.pseudo.shards import ShardError, parse_shard, resolve, select, shard_from_env


def test_parse():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ShardError):
            parse_shard(bad)


def test_env():
    assert shard_from_env({"RANK": "2", "WORLD_SIZE": "3"}) == (2, 3)
    assert shard_from_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}) == (0, 2)
    assert shard_from_env({"RANK": "2"}) is None


def test_shards_partition_the_videos_whatever_their_order():
    ids = [f"ev{e}/{i}" for e in range(3) for i in range(7)]
    items = [SimpleNamespace(id=i) for i in ids]
    parts = [select(items, (k, 4)) for k in range(4)]
    got = [v.id for p in parts for v in p]
    assert sorted(got) == sorted(ids) and len(got) == len(set(got))
    assert [len(p) for p in parts] == [6, 5, 5, 5]
    assert [v.id for v in select(list(reversed(items)), (1, 4))] == [v.id for v in parts[1]]


def test_resolve_takes_the_option_else_the_environment_and_names_each_shards_store():
    assert resolve(None, "pm.h5", environ={}) == (None, "pm.h5")
    assert resolve("1/4", "pm-{shard}.h5", environ={"RANK": "0", "WORLD_SIZE": "2"}) == ((1, 4), "pm-1.h5")
    assert resolve(None, "pm-{shard}.h5", environ={"RANK": "2", "WORLD_SIZE": "3"}) == ((2, 3), "pm-2.h5")
    assert resolve("0/2", "pm.h5", environ={}) == ((0, 2), "pm.h5")  # asked for by name: the caller's store
    with pytest.raises(ShardError, match=r"shard 2/3 \(from the environment\): put \{shard\} in"):
        resolve(None, "pm.h5", environ={"RANK": "2", "WORLD_SIZE": "3"})
