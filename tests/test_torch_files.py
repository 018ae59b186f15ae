from __future__ import annotations

import numpy as np
import pytest
import torch

from hm_annotate.torch_files import UnreadableTorchFile, load_torch_file


@pytest.mark.parametrize("mmap", [False, True])
def test_reads_zip_and_legacy_files(tmp_path, mmap):
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    zipped, legacy = tmp_path / "zip.pt", tmp_path / "legacy.pt"
    torch.save(state, zipped)
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    for path in (zipped, legacy):
        assert torch.equal(load_torch_file(path, mmap=mmap)["w"], state["w"])


@pytest.mark.parametrize("seed", range(300))
def test_random_bytes_give_one_error_type(tmp_path, seed):
    """Garbage makes torch's unpickler raise KeyError, IndexError, struct.error...: all become one."""
    blob = tmp_path / "blob.pt"
    blob.write_bytes(np.random.default_rng(seed).bytes(2048))
    with pytest.raises(UnreadableTorchFile, match=r"blob.pt: cannot read PyTorch file \(.+\)"):
        load_torch_file(blob, mmap=bool(seed % 2))


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableTorchFile, match="absent.pt: cannot read PyTorch file"):
        load_torch_file(tmp_path / "absent.pt")
