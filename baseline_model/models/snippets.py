"""Cutting a clip into the N overlapping snippets the paper feeds to the I3D (Sec. 3.2)."""

from __future__ import annotations

import torch


def snippet_starts(num_snippets: int, stride: int) -> list[int]:
    """First frame of each snippet: every ``stride`` (alpha) frames from frame 0."""
    return [i * stride for i in range(num_snippets)]


def snippet_centres(num_snippets: int, snippet_len: int, stride: int) -> torch.Tensor:
    """Central frame (a half-integer for even lengths) of each snippet, in clip frame indices."""
    return torch.tensor(snippet_starts(num_snippets, stride), dtype=torch.float64) + (snippet_len - 1) / 2


def cut_snippets(video: torch.Tensor, num_snippets: int, snippet_len: int, stride: int) -> torch.Tensor:
    """B x C x T x H x W -> B x N x C x snippet_len x H x W (overlapping views copied once)."""
    needed = (num_snippets - 1) * stride + snippet_len
    if video.shape[2] < needed:
        raise ValueError(f"clip has {video.shape[2]} frames; {num_snippets} snippets of {snippet_len} "
                         f"at stride {stride} need {needed}")
    windows = video[:, :, :needed].unfold(2, snippet_len, stride)  # B x C x N x H x W x L
    return windows.permute(0, 2, 1, 5, 3, 4).contiguous()
