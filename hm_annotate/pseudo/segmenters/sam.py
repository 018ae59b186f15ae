"""Segment Anything with box prompts.

Frames go through SAM's image encoder in batches (``prepare``; the expensive part); each
frame's boxes then go through the prompt encoder and mask decoder together (``segment``). With
``multimask`` the decoder proposes three masks per box and the one with the highest predicted IoU
wins, otherwise its single mask is used; either way the predicted IoU is the score.

By default the encoder is the fast one of ``sam_fast`` (fused attention, weights and activations
in ``precision``: bf16 on a GPU that has it, fp32 on the CPU; optionally ``torch.compile``d);
``fast: false`` runs segment_anything's own encoder under autocast at that precision instead.
On a GPU the encoder runs on a stream of its own and the decoder on a high-priority one, so a
batch can be encoded (``prepare`` on the pipeline's worker thread) while the decoder answers
the prompts of the frames before it.

Checkpoints are the official ones (``vit_h``, ``vit_l``, ``vit_b``, built with
``segment_anything.sam_model_registry``), looked up in ``hm-annotate weights``' cache when no
path is given. ``model_config`` builds another SAM architecture from segment_anything's modeling
classes (fine-tuned or distilled variants, and the tiny models the tests use) and loads its
checkpoint into it.

With ``prior`` (``prior_prompts.PriorPrompter``'s parameters; ``{}`` for its defaults) the human
prior adds body points, or the person's box, where the tracker is unsure: see ``prior_prompts``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate.errors import HMError
from hm_annotate.pseudo.segmenters.base import Segmentation, Segmenter
from hm_annotate.pseudo.segmenters.prior_prompts import PriorPrompter, Prompt, decode_in_batches
from hm_annotate.pseudo.segmenters.sam_fast import accelerate, torch_dtype
from hm_annotate.torch_files import UnreadableTorchFile, load_torch_file

# encoder width and depth of the official models, to recognise a checkpoint before loading it
ARCHITECTURES = {"vit_h": (1280, 32), "vit_l": (1024, 24), "vit_b": (768, 12)}

# architecture of a custom SAM; defaults are the official ViT-B's
CUSTOM_DEFAULTS: dict[str, Any] = {
    "image_size": 1024,
    "patch_size": 16,
    "encoder_embed_dim": 768,
    "encoder_depth": 12,
    "encoder_num_heads": 12,
    "encoder_global_attn_indexes": [2, 5, 8, 11],
    "window_size": 14,
    "prompt_embed_dim": 256,
    "decoder_depth": 2,
    "decoder_mlp_dim": 2048,
    "decoder_num_heads": 8,
    "iou_head_hidden_dim": 256,
}

_REQUIRED_KEYS = (
    "image_encoder.patch_embed.proj.weight",
    "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
    "mask_decoder.iou_token.weight",
)


class SamCheckpointError(HMError):
    """A SAM checkpoint that is missing, not SAM, or not the architecture asked for."""


def local_gpu(environ: Mapping[str, str], gpus: int) -> int | None:
    """The GPU of this process when a launcher started one per GPU (torchrun's ``LOCAL_RANK``,
    srun's ``SLURM_LOCALID``), else None (the current GPU)."""
    for name in ("LOCAL_RANK", "SLURM_LOCALID"):
        if name in environ and gpus > 0:
            return int(environ[name]) % gpus
    return None


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; other names pass through checked.
    Under a launcher's per-GPU processes, each process works on its own GPU (``local_gpu``)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise HMError("device 'cuda' was asked for but no CUDA GPU is visible to torch")
    if device not in ("cpu", "cuda"):
        raise HMError(f"unknown device {device!r} (use auto, cpu or cuda)")
    if device == "cuda":
        gpu = local_gpu(os.environ, torch.cuda.device_count())
        if gpu is not None:
            torch.cuda.set_device(gpu)
    return device


def locate_checkpoint(model: str, checkpoint: str | Path | None) -> tuple[Path, str | None]:
    """The checkpoint file to load and its SHA-256 when already verified (cache downloads).

    Without a path, the ``hm-annotate weights`` cache is searched; when the file is not there the
    error says where to get it.
    """
    from hm_annotate import weights

    if checkpoint is not None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise SamCheckpointError(f"SAM checkpoint {path} does not exist")
        return path, None
    if model not in weights.SAM_CHECKPOINTS:
        raise SamCheckpointError(
            f"SAM model {model!r} has no official checkpoint; give its checkpoint path"
        )
    name, url, _size, sha = weights.SAM_CHECKPOINTS[model]
    found = weights.find_checkpoint(model)
    if found is None:
        raise SamCheckpointError(
            f"no SAM {model} checkpoint: {name} is not in {weights.default_cache_dir()}; "
            f"run `hm-annotate weights download {model}`, or download {url} and give its path"
        )
    return found, sha


def read_state_dict(path: Path) -> dict[str, Any]:
    """Open a checkpoint lazily (memory-mapped) and check that it is a SAM state dict."""
    try:
        state = load_torch_file(path, mmap=True)
    except UnreadableTorchFile as exc:
        raise SamCheckpointError(
            f"{path} is not a SAM checkpoint (not a PyTorch state dict: {exc.reason})"
        ) from None
    if not isinstance(state, Mapping) or not all(k in state for k in _REQUIRED_KEYS):
        what = f"keys like {sorted(state)[:3]}" if isinstance(state, Mapping) else type(state).__name__
        raise SamCheckpointError(f"{path} is not a SAM checkpoint (a PyTorch file holding {what})")
    return dict(state)


def architecture_of(state: Mapping[str, Any]) -> tuple[int, int]:
    """(encoder width, encoder depth) of a SAM state dict."""
    width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    depth = len({k.split(".")[2] for k in state if k.startswith("image_encoder.blocks.")})
    return width, depth


def build_custom_sam(config: Mapping[str, Any]):
    """A SAM of any size from segment_anything's modeling classes (keys of ``CUSTOM_DEFAULTS``)."""
    from functools import partial

    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    unknown = sorted(set(config) - set(CUSTOM_DEFAULTS))
    if unknown:
        raise SamCheckpointError(
            f"unknown SAM model_config keys {unknown} (known: {sorted(CUSTOM_DEFAULTS)})"
        )
    c = {**CUSTOM_DEFAULTS, **config}
    grid = c["image_size"] // c["patch_size"]
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=c["encoder_depth"],
            embed_dim=c["encoder_embed_dim"],
            img_size=c["image_size"],
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=c["encoder_num_heads"],
            patch_size=c["patch_size"],
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=tuple(c["encoder_global_attn_indexes"]),
            window_size=c["window_size"],
            out_chans=c["prompt_embed_dim"],
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=c["prompt_embed_dim"],
            image_embedding_size=(grid, grid),
            input_image_size=(c["image_size"], c["image_size"]),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=c["decoder_depth"],
                embedding_dim=c["prompt_embed_dim"],
                mlp_dim=c["decoder_mlp_dim"],
                num_heads=c["decoder_num_heads"],
            ),
            transformer_dim=c["prompt_embed_dim"],
            iou_head_depth=3,
            iou_head_hidden_dim=c["iou_head_hidden_dim"],
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )


def load_sam(model: str, path: Path, model_config: Mapping[str, Any] | None):
    """Build SAM and load the checkpoint, with a clear error when the file does not fit."""
    state = read_state_dict(path)
    if model_config is not None:
        sam = build_custom_sam(model_config)
        try:
            sam.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise SamCheckpointError(f"{path} does not fit the SAM model_config: {first}") from None
        return sam.eval()
    if model not in ARCHITECTURES:
        raise SamCheckpointError(
            f"unknown SAM model {model!r} (use {', '.join(ARCHITECTURES)} or a model_config)"
        )
    found = architecture_of(state)
    if found != ARCHITECTURES[model]:
        guess = next((m for m, arch in ARCHITECTURES.items() if arch == found), None)
        hint = f"; it is a {guess} checkpoint: use model {guess!r}" if guess else ""
        raise SamCheckpointError(
            f"{path} has a ViT encoder of width {found[0]} and depth {found[1]}, not SAM {model}'s "
            f"{ARCHITECTURES[model][0]} x {ARCHITECTURES[model][1]}{hint}"
        )
    del state
    from segment_anything import sam_model_registry

    return sam_model_registry[model](checkpoint=str(path)).eval()


@dataclass
class _Encoded:
    """One frame after SAM's image encoder."""

    features: Any  # 1 x C x h x w tensor
    input_size: tuple[int, int]
    original_size: tuple[int, int]
    ready: Any = None  # CUDA event: the encoder's stream has made ``features``
    frame: np.ndarray | None = None  # the RGB frame, kept only for the human prior


class SamSegmenter(Segmenter):
    """Segment Anything, box prompts, image encoder batched over frames."""

    name = "sam"

    def __init__(
        self,
        model: str = "vit_h",
        checkpoint: str | None = None,
        model_config: Mapping[str, Any] | None = None,
        device: str = "auto",
        multimask: bool = True,
        fast: bool = True,
        precision: str = "auto",
        compile: bool = False,
        *,
        prior: Mapping[str, Any] | None = None,
    ) -> None:
        path, sha = locate_checkpoint(model, checkpoint)  # before the heavy imports: fail fast
        self._prior = PriorPrompter(**prior) if prior is not None else None
        if self._prior is not None:
            self._prior.load()  # fail fast where the pose runtime is missing
        self.last_prompts: list[Prompt] = []  # with the prior: the prompts of the last ``segment``
        import torch
        from segment_anything.utils.transforms import ResizeLongestSide

        from hm_annotate import weights

        self.device = resolve_device(device)
        self.dtype = torch_dtype(precision, self.device)  # before loading: fail fast
        self.model_name = model
        self.model_config = dict(model_config) if model_config is not None else None
        self.checkpoint = path
        self.checkpoint_sha256 = sha or weights.sha256_file(path)
        self.multimask = multimask
        self._sam = load_sam(model, path, model_config).to(self.device)
        self._transform = ResizeLongestSide(self._sam.image_encoder.img_size)
        self._torch = torch
        self.fast = fast
        self.compile = compile
        self._encoder = self._sam.image_encoder
        if fast:
            accelerate(self._encoder, self.dtype)
        if compile:
            self._encoder = torch.compile(self._encoder, dynamic=False)
        self._batch = 0  # largest batch encoded so far; a compiled encoder sees only that size
        cuda = self.device == "cuda"
        self._encoder_stream = torch.cuda.Stream() if cuda else None
        self._decoder_stream = torch.cuda.Stream(priority=-1) if cuda else None
        if cuda:  # the weights were moved and cast on the default stream, which the others do not wait for
            torch.cuda.synchronize()

    def describe(self) -> dict[str, Any]:
        return {
            "segmenter": self.name,
            "model": self.model_name,
            "model_config": self.model_config,
            "checkpoint": str(self.checkpoint),
            "checkpoint_sha256": self.checkpoint_sha256,
            "multimask": self.multimask,
            "device": self.device,
            "fast": self.fast,
            "precision": str(self.dtype).removeprefix("torch."),
            "compile": self.compile,
            "prior": self._prior.describe() if self._prior is not None else None,
        }

    def _autocast(self):
        torch = self._torch
        return torch.autocast(self.device, dtype=self.dtype, enabled=self.dtype != torch.float32)

    def encode(self, x: Any) -> Any:
        """Image embeddings of a batch of preprocessed images (n x 3 x S x S float32)."""
        torch = self._torch
        with torch.inference_mode():
            if not self.fast:
                with self._autocast():
                    return self._encoder(x)
            n = len(x)
            if self.compile and n < self._batch:  # one shape, one compilation
                x = torch.cat([x, x[-1:].expand(self._batch - n, -1, -1, -1)])
            self._batch = max(self._batch, n)
            return self._encoder(x.to(self.dtype))[:n]

    def prepare(self, frames: Sequence[np.ndarray]) -> list[_Encoded]:
        torch = self._torch
        if not frames:
            return []
        if len({f.shape for f in frames}) > 1:
            return [e for f in frames for e in self.prepare([f])]
        original = frames[0].shape[:2]
        resized = np.stack([self._transform.apply_image(f) for f in frames])
        ready = None
        with self._on(self._encoder_stream):
            x = torch.as_tensor(resized).to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
            with torch.inference_mode():
                features = self.encode(self._sam.preprocess(x))
            if self._encoder_stream is not None:
                ready = torch.cuda.Event()
                ready.record(self._encoder_stream)
        input_size = tuple(resized.shape[1:3])
        keep = self._prior is not None
        return [
            _Encoded(features[i : i + 1], input_size, original, ready, frames[i] if keep else None)
            for i in range(len(frames))
        ]

    def _on(self, stream: Any) -> Any:
        """Work on ``stream`` (a CUDA stream; None on the CPU)."""
        return self._torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()

    def segment(
        self,
        image: _Encoded,
        boxes_: np.ndarray,
        priors: Sequence[np.ndarray | None],
        seed: int,
        motion: np.ndarray | None = None,
        appearance: Sequence[np.ndarray | None] | None = None,
    ) -> list[Segmentation]:
        boxes = np.asarray(boxes_, np.float64).reshape(-1, 4)
        stream = self._decoder_stream
        if stream is not None:  # wait for the encoder, and keep its memory until the decoder is done
            stream.wait_event(image.ready)
            image.features.record_stream(stream)
        if self._prior is None:
            return self._decode(image, boxes, None)
        self.last_prompts = self._prior.prompts(image.frame, boxes, carried=priors)
        return decode_in_batches(self.last_prompts, lambda group, points: self._decode(image, group, points))

    def _decode(self, image: _Encoded, boxes: np.ndarray, points: np.ndarray | None) -> list[Segmentation]:
        """SAM's masks for k boxes (k x 4 frame pixels), each with n positive points (k x n x 2)
        or none."""
        torch = self._torch
        sam = self._sam
        prompts = self._transform.apply_boxes(boxes, image.original_size)
        device = self.device
        with self._on(self._decoder_stream), torch.inference_mode(), self._autocast():
            clicks = None
            if points is not None:
                coords = self._transform.apply_coords(points, image.original_size)
                coords = torch.as_tensor(coords, dtype=torch.float, device=device)
                clicks = coords, torch.ones(coords.shape[:2], dtype=torch.int, device=device)
            sparse, dense = sam.prompt_encoder(
                points=clicks, boxes=torch.as_tensor(prompts, dtype=torch.float, device=device), masks=None
            )
            low_res, predicted_iou = sam.mask_decoder(
                image_embeddings=image.features,
                image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=self.multimask,
            )
            masks = (
                sam.postprocess_masks(low_res.float(), image.input_size, image.original_size)
                > sam.mask_threshold
            )
            best = predicted_iou.float().argmax(dim=1)
            rows = torch.arange(len(best), device=best.device)
            chosen = masks[rows, best].cpu().numpy()
            scores = predicted_iou.float()[rows, best].cpu().numpy()
        return [Segmentation(m, float(s)) for m, s in zip(chosen, scores, strict=True)]
