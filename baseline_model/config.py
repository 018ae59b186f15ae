"""Trainer configuration: three dataclasses (model, data, train) read from one YAML file.

The YAML has exactly the sections ``model``, ``data`` and ``train``; an unknown section or key, or a
value of the wrong type, raises :class:`TrainConfigError` naming the file and the key, because a typo in
an ablation switch would otherwise silently train the wrong model.

The snippet geometry (``num_frames``, ``num_snippets``, ``snippet_len``, ``snippet_stride``) and the
input normalisation are set once, in ``data``; :class:`Config` mirrors them into :class:`ModelConfig`
(the model cuts snippets and converts inputs for the ResNet34 itself), so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hm_annotate.errors import HMError

NORMALISATIONS = ("i3d_rgb_imagenet", "model_rgb")
AMP_MODES = ("off", "auto", "bf16", "fp16")
RESIZE_MODES = ("reference", "aspect")
MIRRORED = {  # ModelConfig field -> DataConfig field it mirrors
    "num_frames": "num_frames",
    "num_snippets": "num_snippets",
    "snippet_len": "snippet_len",
    "snippet_stride": "snippet_stride",
    "input_normalisation": "normalisation",
}


class TrainConfigError(HMError, ValueError):
    """A configuration file or value the trainer cannot use."""


@dataclass
class ModelConfig:
    """Uni-FineParser architecture (paper Sec. 3, Table 1) and its ablation switches (Tables 6, 7, 9, 10)."""

    # I3D backbone B1..B4; width scales every I3D channel count (1.0 = Inception-I3D).
    i3d_width: float = 1.0
    i3d_weights: str | None = None  # model_rgb.pth or piergiaj rgb_imagenet.pt
    i3d_bn_momentum: float = 0.01  # BatchNorm running-stat momentum; ~0.1 when training from scratch
    i3d_freeze_bn: bool = False  # keep the I3D's BatchNorm statistics as loaded (the reference's eval mode)
    # Spatial action parsing (SAP): mask-guided attention after stage sap_stage (Table 9).
    sap: bool = True
    sap_stage: int = 2
    sap_plus_one: bool = True  # features x (A + 1) (Eq. 5) rather than x A (Table 10)
    # Static visual encoding (SVE): ResNet on the two central frames of each snippet.
    sve: bool = True
    sve_layers: list[int] = field(default_factory=lambda: [3, 4, 6, 3])  # ResNet34
    sve_width: float = 1.0  # scales the ResNet widths 64/128/256/512
    sve_weights: str | None = None  # torchvision resnet34 state dict
    sve_weights_required: bool = False  # refuse a random ResNet34 (the reference starts from ImageNet)
    # Temporal action parsing (TAP): cross-attn -> MHSA -> cross-attn with L_q learnable queries.
    tap: bool = True
    num_queries: int = 6  # L_q (Table 5)
    query_dim: int = 256  # C_q
    num_heads: int = 8  # heads of the self-attention layer (cross-attentions are single-head)
    tau_init: float = 0.07 * 256  # learnable softmax temperature tau
    # Fine-grained contrastive regression: E_S (2-layer MLP) and E_R (3-layer MLP, last layer -> 1).
    encoder_dims: list[int] = field(default_factory=lambda: [512, 512])
    regressor_dims: list[int] = field(default_factory=lambda: [512, 256])
    # Losses L = L_A + L_T + L_E (Table 7 switches) and the temporal soft labels.
    loss_attention: bool = True
    loss_temporal: bool = True
    soft_label_sigma: float = 1.3
    soft_label_anchor: str = "middle"  # left | middle | right (Table 11)
    # Mirrored from DataConfig by Config; set them in the data section.
    num_frames: int = 103
    num_snippets: int = 20
    snippet_len: int = 8
    snippet_stride: int = 5
    input_normalisation: str = "i3d_rgb_imagenet"

    def __post_init__(self) -> None:
        _require(self.i3d_width > 0, "model.i3d_width must be > 0")
        _require(0 < self.i3d_bn_momentum <= 1, "model.i3d_bn_momentum must be in (0, 1]")
        _require(self.sve_width > 0, "model.sve_width must be > 0")
        _require(self.sap_stage in (1, 2, 3), f"model.sap_stage must be 1, 2 or 3, not {self.sap_stage}")
        _require(len(self.sve_layers) == 4 and min(self.sve_layers) >= 1,
                 "model.sve_layers must be four block counts >= 1")
        _require(self.num_queries >= 1, "model.num_queries must be >= 1")
        _require(self.query_dim % self.num_heads == 0, "model.query_dim must be divisible by model.num_heads")
        _require(self.tau_init > 0, "model.tau_init must be > 0")
        _require(len(self.encoder_dims) == 2, "model.encoder_dims must list the 2 widths of E_S")
        _require(len(self.regressor_dims) == 2, "model.regressor_dims must list the 2 hidden widths of E_R")
        _require(self.soft_label_sigma > 0, "model.soft_label_sigma must be > 0")
        _require(self.soft_label_anchor in ("left", "middle", "right"),
                 "model.soft_label_anchor must be left, middle or right")
        _check_geometry(self.num_frames, self.num_snippets, self.snippet_len, self.snippet_stride, "model")
        _require(self.input_normalisation in NORMALISATIONS,
                 f"normalisation must be one of {NORMALISATIONS}, not {self.input_normalisation!r}")


@dataclass
class DataConfig:
    """What the data pipeline feeds the model: clips, snippets, masks, exemplars."""

    dataset: str = "finediving"  # hm_annotate adapter name (finediving, mtl-aqa, aqa7, videos) or synthetic
    data_root: str | None = None
    mask_store: str | None = None  # hm-annotate HDF5 mask store
    mask_layer: str = "curated"  # curated (GTM) | corrected | pseudo (PM)
    use_masks: bool = True  # False trains without L_A (no masks at all)
    aqa7_class: str | None = None  # AQA-7 trains one model per sport
    num_frames: int = 103
    num_snippets: int = 20  # N
    snippet_len: int = 8  # beta (T in Table 1)
    snippet_stride: int = 5  # alpha
    image_size: int = 224
    resize: list[int] = field(default_factory=lambda: [455, 256])  # (width, height) before cropping
    # reference: the reference transform's swap, frames become resize[1] wide x resize[0] high;
    # aspect: resize[0] wide x resize[1] high (FineDiving's 16:9 frames keep their shape)
    resize_mode: str = "aspect"
    horizontal_flip: bool = True
    temporal_shift: list[int] = field(default_factory=lambda: [-3, 0])  # clip start jitter (frames)
    num_exemplars_train: int = 1
    num_exemplars_vote: int = 10  # M
    exemplar_mode: str = "an"  # an: same action number; dd: same difficulty, regress score/difficulty
    normalisation: str = "i3d_rgb_imagenet"  # [-1, 1] (piergiaj); model_rgb: ImageNet mean/std

    def __post_init__(self) -> None:
        _check_geometry(self.num_frames, self.num_snippets, self.snippet_len, self.snippet_stride, "data")
        _require(self.image_size >= 32, "data.image_size must be >= 32")
        _require(len(self.resize) == 2 and min(self.resize) >= self.image_size,
                 "data.resize must be [width, height], each >= data.image_size")
        _require(len(self.temporal_shift) == 2 and self.temporal_shift[0] <= self.temporal_shift[1],
                 "data.temporal_shift must be [min, max]")
        _require(self.resize_mode in RESIZE_MODES, f"data.resize_mode must be one of {RESIZE_MODES}")
        _require(self.mask_layer in ("curated", "corrected", "pseudo"),
                 "data.mask_layer must be curated, corrected or pseudo")
        _require(self.num_exemplars_train >= 1, "data.num_exemplars_train must be >= 1")
        _require(self.num_exemplars_vote >= 1, "data.num_exemplars_vote must be >= 1")
        _require(self.exemplar_mode in ("an", "dd"), "data.exemplar_mode must be an or dd")
        _require(self.normalisation in NORMALISATIONS,
                 f"data.normalisation must be one of {NORMALISATIONS}, not {self.normalisation!r}")


@dataclass
class TrainConfig:
    """Optimisation. Learning rates of the I3D, the ResNet34 and tau are multiples of ``lr`` (Sec. 4.3)."""

    epochs: int = 400
    batch_size: int = 2
    eval_batch_size: int = 1
    grad_accum: int = 2
    effective_batch: int | None = None  # pairs per optimizer step over all GPUs; sets the accumulation
    optimizer: str = "adam"
    lr: float = 1e-3  # heads (SAP, TAP, E_S, E_R)
    lr_backbone: float = 0.1  # I3D: 1e-4
    lr_sve: float = 1.0  # ResNet34: 1e-3
    lr_tau: float = 0.1  # tau: 1e-4
    weight_decay: float = 0.0
    warmup_epochs: int = 5
    warmup_lr: float | None = None  # where the warm-up starts, every group (None: from zero)
    lr_min: float = 0.0  # floor of the cosine decay, every group
    amp: bool | str = "off"  # off | auto (bf16 where supported, else fp16) | bf16 | fp16; CUDA only
    seed: int = 0
    num_workers: int = 4

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size", "grad_accum"):
            _require(getattr(self, name) >= 1, f"train.{name} must be >= 1")
        _require(self.optimizer in ("adam", "adamw", "sgd"), "train.optimizer must be adam, adamw or sgd")
        for name in ("lr", "lr_backbone", "lr_sve", "lr_tau"):
            _require(getattr(self, name) >= 0, f"train.{name} must be >= 0")
        _require(self.weight_decay >= 0, "train.weight_decay must be >= 0")
        _require(self.warmup_epochs >= 0 and self.num_workers >= 0,
                 "train.warmup_epochs and train.num_workers must be >= 0")
        _require(self.lr_min >= 0 and (self.warmup_lr is None or self.warmup_lr >= 0),
                 "train.lr_min and train.warmup_lr must be >= 0")
        if self.effective_batch is not None:
            _require(self.effective_batch >= 1, "train.effective_batch must be >= 1")
            _require(self.grad_accum == 1, "set train.effective_batch or train.grad_accum, not both "
                                           "(the accumulation follows from the effective batch)")
        if isinstance(self.amp, bool):  # older configs: true meant fp16 with a GradScaler
            self.amp = "fp16" if self.amp else "off"
        _require(self.amp in AMP_MODES, f"train.amp must be one of {AMP_MODES}, not {self.amp!r}")

    def accumulation(self, world: int) -> int:
        """Batches accumulated per optimizer step when ``world`` processes train side by side."""
        if self.effective_batch is None:
            return self.grad_accum
        per_step = self.batch_size * world
        if self.effective_batch % per_step:
            raise TrainConfigError(f"train.effective_batch {self.effective_batch} is not a multiple of "
                              f"batch_size {self.batch_size} x {world} process(es)")
        return self.effective_batch // per_step


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        mirrored = {m: getattr(self.data, d) for m, d in MIRRORED.items()}
        self.model = dataclasses.replace(self.model, **mirrored)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the YAML layout (mirrored model fields left out), e.g. to save with a run."""
        out = dataclasses.asdict(self)
        for name in MIRRORED:
            del out["model"][name]
        return out


def load_config(path: str | Path) -> Config:
    """Read a YAML config; unknown sections/keys and mistyped values raise TrainConfigError."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: not valid YAML ({exc})") from exc
    return config_from_dict(raw if raw is not None else {}, source=str(path))


def config_from_dict(raw: Any, source: str = "<dict>") -> Config:
    """Build a Config from the YAML layout ``{model: {...}, data: {...}, train: {...}}``."""
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{source}: the top level must be a mapping with model/data/train sections")
    sections = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
    unknown = sorted(set(raw) - set(sections))
    if unknown:
        raise TrainConfigError(f"{source}: unknown section(s) {unknown}; expected {sorted(sections)}")
    built = {}
    for name, cls in sections.items():
        values = raw.get(name) or {}
        if not isinstance(values, dict):
            raise TrainConfigError(f"{source}: section {name!r} must be a mapping")
        if name == "model":
            misplaced = sorted(set(values) & set(MIRRORED))
            if misplaced:
                raise TrainConfigError(
                    f"{source}: set {misplaced} in the data section (the model mirrors them)")
        built[name] = _build(cls, values, f"{source}: {name}")
    try:
        return Config(**built)
    except TrainConfigError as exc:
        raise TrainConfigError(f"{source}: {exc}") from None


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise TrainConfigError(f"{where}: unknown key(s) {unknown}")
    for key, value in values.items():
        if not _matches(value, hints[key]):
            raise TrainConfigError(f"{where}.{key}: expected {_type_name(hints[key])}, got {value!r}")
    kwargs = {k: float(v) if hints[k] is float else v for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TrainConfigError as exc:
        raise TrainConfigError(f"{where.split(':')[0]}: {exc}") from None


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return hint.__name__ if typing.get_origin(hint) is None else str(hint).replace("typing.", "")


def _check_geometry(num_frames: int, num_snippets: int, snippet_len: int, stride: int, where: str) -> None:
    _require(num_snippets >= 1 and stride >= 1, f"{where}.num_snippets and snippet_stride must be >= 1")
    _require(snippet_len >= 4,
             f"{where}.snippet_len must be >= 4 (I3D halves time twice; SVE reads two central frames)")
    needed = (num_snippets - 1) * stride + snippet_len
    _require(needed <= num_frames,
             f"{where}: {num_snippets} snippets of {snippet_len} frames at stride {stride} need "
             f"{needed} frames, num_frames is {num_frames}")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise TrainConfigError(message)
