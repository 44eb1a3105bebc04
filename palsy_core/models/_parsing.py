"""Seed 004's face-parsing network with the paralysed region, in PyTorch, small for a CPU.

Architecture ``esc_fpnet`` (section 3 of the seed; "ESC": enhanced stroke category):

1. **Encoder**: four convolution blocks (two 3x3 conv + BatchNorm + ReLU, the first
   strided), each followed by an **ESC block**: 1x1 conv, BatchNorm, ReLU; adaptive
   average pooling to 1x1; three fully connected layers (ReLU, ReLU, sigmoid) giving a
   per-channel gate; the gate upsampled bilinearly to the feature size and multiplied in;
   added to the block's input (a residual, so "no spatial information is lost").
2. **ASPP** on the last block (1x1, 3x3 at dilations 2 and 4, image pooling).
3. A light decoder (bilinear upsampling + skip connections from the ESC outputs) gives
   **coarse logits** at 1/4 resolution: the classes of
   :data:`palsy_core.segmentation.CLASS_NAMES` and one paralysed-region channel.
4. **Foreground attention** (eqs 4-5): one learned query per category attends to the
   1/4-resolution features *only inside that category's predicted mask* (the coarse
   prediction binarised at 0.5: logit bias 0 inside, -inf outside), plus the query
   itself (the residual ``+ I_{-1}``), then a small feed-forward layer. The refined
   queries, dotted with a per-pixel embedding at 1/2 resolution, add to the upsampled
   coarse logits: the final logits.
5. **Depth head** (eqs 1-3, instance-specific kernels): each refined query predicts a
   depth kernel (``e`` numbers) and its depth range ``m^r`` and shift ``m^s`` (``s1 =
   s2 + 2``); the kernel applied to a shared depth embedding, a sigmoid, gives the
   adjusted depth ``M*``; ``M = m_max ((M* - 0.5) m^r + m^s)`` (eq 3) un-adjusts it; the
   per-category maps are combined by the segmentation's class probabilities.

Loss: ``lambda_s * CE + L_best + L_depth + aux`` with the boundary-enhanced term
``L_best`` of eq 7: per image, the class-weighted cross-entropy summed over boundary
pixels (a label change in the 3x3 neighbourhood) divided by their count ``p``. A
boundary pixel thus counts in both terms and weighs more than an interior one.

Where the seed is vague, and what we chose
------------------------------------------
- Channel widths, block count, input size: not given (the paper used 250 px). Ours:
  (16, 32, 48, 64) channels on a 160 px aligned face crop, for < 60 ms on 2 CPU cores.
- The ESC's FC widths and how its output re-enters the network: C -> C/4 -> C/4 -> C,
  gate times the projected features plus the input (residual).
- The decoder: not described; DeepLabv3+-like upsampling with skips from ESC outputs.
- FPP as a category: a paralysed pixel is also skin or an eye, so one label per pixel
  cannot hold it. Ours is a separate sigmoid channel with its own query.
- **Mirror context (not in the seed)**: the bottleneck features are concatenated with
  their left-right mirror before ASPP. The crop is centred on the face, so every
  position sees its counterpart on the other half: the paralysed side is the one that
  *differs*, and a plain CNN cannot compare halves it never sees together.
- Eq 4's ``R_c K_c`` and the source of the foreground mask: queries are learned
  embeddings, keys and values 1x1 projections of the decoder features; masks come from
  the coarse logits of the same pass (one attention layer). An empty mask falls back to
  attending everywhere (as Mask2Former does), else softmax over all -inf is undefined.
- Depth: no depth data here; the target is the MediaPipe mesh's z made unit-free
  (:func:`palsy_core.segmentation.mesh_depth_map`), so ``m_max`` = 1, not 80 m.
  ``L_D`` (undefined "allocation loss") is an L1 depth loss over the face.
- The HIST hypergraph loss (eq 6) is defined for metric learning on embeddings, not for
  pixels; left out. Eq 8 multiplies ``CE`` by ``L_best``; their product vanishes when
  either does and rescales the other's gradient, so we add them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..segmentation import (CLASS_NAMES, FaceParsing, affected_side_of,
                            lateral_map, pixel_shares)
from .._threads import model_threads
from ._registry import AnalyzedFace, ModelCard, register_loader

ARCHITECTURE = "esc_fpnet"
IGNORE_INDEX = 255
#: Crop logits are enlarged this many times before being mapped back to the photo.
_UPSAMPLE = 2
#: Input normalisation: (rgb / 255 - 0.5) / 0.25.
_MEAN, _STD = 0.5, 0.25


@dataclass
class ParsingConfig:
    """Everything needed to rebuild the network (saved in the model card)."""

    input_size: int = 160
    channels: tuple[int, ...] = (16, 32, 48, 64)
    decoder_channels: int = 32
    query_dim: int = 32
    depth_embedding: int = 8
    esc_reduction: int = 4
    aspp_rates: tuple[int, ...] = (2, 4)
    mirror_context: bool = True
    class_names: tuple[str, ...] = CLASS_NAMES
    depth_max: float = 1.0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        data["aspp_rates"] = list(self.aspp_rates)
        data["class_names"] = list(self.class_names)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ParsingConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("channels", "aspp_rates", "class_names"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1,
                  dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ConvBlock(nn.Sequential):
    """Two 3x3 conv + BN + ReLU; the first one strided."""

    def __init__(self, cin: int, cout: int, stride: int = 2):
        super().__init__(_conv_bn_relu(cin, cout, stride=stride), _conv_bn_relu(cout, cout))


class ESCBlock(nn.Module):
    """Enhanced stroke category block (seed 004 section 3.1, Fig. 2).

    1x1 conv -> BN -> ReLU; adaptive average pool to 1x1; FC-ReLU-FC-ReLU-FC-sigmoid; the
    gate upsampled bilinearly to the map's size multiplies the projected features, which
    are added to the input.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(4, channels // reduction)
        self.project = _conv_bn_relu(channels, channels, kernel=1)
        self.excite = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(x)
        gate = self.excite(F.adaptive_avg_pool2d(y, 1).flatten(1))[:, :, None, None]
        gate = F.interpolate(gate, size=y.shape[-2:], mode="bilinear", align_corners=False)
        return x + y * gate


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1, dilated 3x3s and image pooling, projected."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...] = (2, 4)):
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_bn_relu(cin, cout, kernel=1)]
            + [_conv_bn_relu(cin, cout, dilation=r) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1), nn.ReLU())
        self.project = _conv_bn_relu(cout * (len(rates) + 2), cout, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


class ForegroundAttention(nn.Module):
    """Category queries attending only inside their predicted masks (eqs 4-5).

    Parameters
    ----------
    channels : int
        Channels of the pixel features the queries attend to.
    num_queries : int
        One per category (the classes and the paralysed region).
    dim : int
        Query/key/value width.
    """

    def __init__(self, channels: int, num_queries: int, dim: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, dim) * 0.5)
        self.keys = nn.Conv2d(channels, dim, 1)
        self.values = nn.Conv2d(channels, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(inplace=True),
                                 nn.Linear(2 * dim, dim))
        self.dim = dim

    def forward(self, features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Refined queries ``(B, Q, dim)``.

        ``masks``: ``(B, Q, H, W)`` bool, the binarised coarse prediction of each
        category at the features' size.
        """
        batch = features.shape[0]
        keys = self.keys(features).flatten(2)                      # B, d, N
        values = self.values(features).flatten(2).transpose(1, 2)  # B, N, d
        queries = self.queries.unsqueeze(0).expand(batch, -1, -1)  # B, Q, d
        logits = queries @ keys / math.sqrt(self.dim)              # B, Q, N
        flat = masks.flatten(2)
        # Eq 5: 0 inside the foreground, -inf outside; an empty mask attends everywhere.
        flat = flat | ~flat.any(dim=-1, keepdim=True)
        logits = logits.masked_fill(~flat, float("-inf"))
        attended = torch.softmax(logits, dim=-1) @ values          # B, Q, d
        refined = self.norm(queries + attended)                    # eq 4's "+ I_{-1}"
        return refined + self.ffn(refined)


@dataclass
class ParsingOutput:
    """Network outputs at input resolution (coarse ones at 1/4)."""

    logits: torch.Tensor            # B, K, H, W
    paralysed_logit: torch.Tensor   # B, 1, H, W
    depth: torch.Tensor             # B, 1, H, W
    coarse_logits: torch.Tensor     # B, K + 1, H/4, W/4


class FaceParsingNet(nn.Module):
    """``esc_fpnet``: see the module docstring."""

    def __init__(self, config: ParsingConfig | None = None):
        super().__init__()
        self.config = config = config or ParsingConfig()
        chans = config.channels
        if len(chans) != 4:
            raise ValueError("esc_fpnet has four encoder blocks: give four channel widths.")
        self.blocks = nn.ModuleList()
        self.escs = nn.ModuleList()
        cin = 3
        for cout in chans:
            self.blocks.append(ConvBlock(cin, cout))
            self.escs.append(ESCBlock(cout, config.esc_reduction))
            cin = cout
        bottleneck = chans[3] * (2 if config.mirror_context else 1)
        dec = config.decoder_channels
        self.aspp = ASPP(bottleneck, dec, config.aspp_rates)
        self.fuse3 = _conv_bn_relu(dec + chans[2], dec)
        self.fuse2 = _conv_bn_relu(dec + chans[1], dec)
        self.fuse1 = _conv_bn_relu(dec + chans[0], dec // 2)  # half resolution: kept narrow
        k = config.num_classes
        self.coarse_head = nn.Conv2d(dec, k + 1, 1)
        self.attention = ForegroundAttention(dec, k + 1, config.query_dim)
        self.pixel_embedding = nn.Conv2d(dec // 2, config.query_dim, 1)
        self.depth_embedding = nn.Conv2d(dec // 2, config.depth_embedding, 1)
        self.depth_kernels = nn.Linear(config.query_dim, config.depth_embedding + 2)

    def forward(self, x: torch.Tensor) -> ParsingOutput:
        size = x.shape[-2:]
        skips = []
        for block, esc in zip(self.blocks, self.escs):
            x = esc(block(x))
            skips.append(x)
        if self.config.mirror_context:
            x = torch.cat([x, torch.flip(x, dims=[-1])], dim=1)
        y = self.aspp(x)
        y = self.fuse3(torch.cat([_up(y, skips[2]), skips[2]], dim=1))
        quarter = self.fuse2(torch.cat([_up(y, skips[1]), skips[1]], dim=1))
        half = self.fuse1(torch.cat([_up(quarter, skips[0]), skips[0]], dim=1))
        coarse = self.coarse_head(quarter)
        k = self.config.num_classes
        with torch.no_grad():
            masks = torch.cat([F.softmax(coarse[:, :k], dim=1) >= 0.5, coarse[:, k:] >= 0], dim=1)
        queries = self.attention(quarter, masks)                      # B, K+1, d
        embedding = self.pixel_embedding(half)                        # B, d, H/2, W/2
        refined = torch.einsum("bqd,bdhw->bqhw", queries, embedding) / math.sqrt(queries.shape[-1])
        logits = _up(coarse, refined) + refined
        # Depth (eqs 1-3): a kernel, range and shift per category from its query.
        params = self.depth_kernels(queries[:, :k])                   # B, K, e + 2
        kernels, m_range, m_shift = params[..., :-2], params[..., -2], params[..., -1]
        adjusted = torch.sigmoid(torch.einsum("bke,behw->bkhw", kernels,
                                              self.depth_embedding(half)))
        per_class = self.config.depth_max * ((adjusted - 0.5) * m_range[..., None, None]
                                             + m_shift[..., None, None])
        depth = (F.softmax(logits[:, :k], dim=1) * per_class).sum(dim=1, keepdim=True)
        full = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=False)  # noqa: E731
        return ParsingOutput(logits=full(logits[:, :k]), paralysed_logit=full(logits[:, k:]),
                             depth=full(depth), coarse_logits=coarse)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


# -- loss -----------------------------------------------------------------------------------
def boundary_map(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Pixels with another label in their 3x3 neighbourhood, ``(B, H, W)`` bool."""
    lab = labels.float().unsqueeze(1)
    high = F.max_pool2d(lab, 3, stride=1, padding=1)
    low = -F.max_pool2d(-lab, 3, stride=1, padding=1)
    return ((high != low) & (labels != ignore_index).unsqueeze(1)).squeeze(1)


@dataclass
class LossWeights:
    """Weights of the loss terms. ``class_weights``: eq 7's ``w`` per class."""

    ce: float = 1.0                  # lambda_s
    boundary: float = 1.0
    paralysed: float = 1.0
    depth: float = 1.0
    aux: float = 0.4
    class_weights: tuple[float, ...] = (1.0, 1.0, 2.0, 2.0, 1.5)


def boundary_enhanced_ce(logits: torch.Tensor, labels: torch.Tensor, *,
                         class_weights: torch.Tensor | None = None,
                         lambda_s: float = 1.0, boundary_weight: float = 1.0) -> torch.Tensor:
    """``lambda_s * CE + L_best`` (eq 7): boundary pixels count twice.

    ``L_best`` is, per image, the class-weighted cross-entropy summed over its boundary
    pixels and divided by their number, averaged over the batch.
    """
    ce = F.cross_entropy(logits, labels, reduction="none", ignore_index=IGNORE_INDEX)
    valid = (labels != IGNORE_INDEX).float()   # masked sums: no boolean indexing (slow backward)
    plain = (ce * valid).sum() / valid.sum().clamp(min=1)
    weights = (class_weights[labels.clamp(max=logits.shape[1] - 1)]
               if class_weights is not None else torch.ones_like(ce))
    edge = boundary_map(labels).float()
    per_image = (ce * weights * edge).flatten(1).sum(1) / edge.flatten(1).sum(1).clamp(min=1)
    return lambda_s * plain + boundary_weight * per_image.mean()


def boundary_enhanced_bce(logit: torch.Tensor, target: torch.Tensor, *,
                          boundary_weight: float = 1.0) -> torch.Tensor:
    """Binary version for the paralysed channel; ``target`` -1 marks unlabelled images."""
    labelled = (target >= 0).float()
    bce = F.binary_cross_entropy_with_logits(logit, target.clamp(min=0).float(), reduction="none")
    edge = boundary_map(target.long().clamp(min=0)).float() * labelled
    per_image = (bce * edge).flatten(1).sum(1) / edge.flatten(1).sum(1).clamp(min=1)
    return ((bce * labelled).sum() / labelled.sum().clamp(min=1)
            + boundary_weight * per_image.mean())


def parsing_loss(output: ParsingOutput, labels: torch.Tensor, paralysed: torch.Tensor,
                 depth: torch.Tensor, weights: LossWeights | None = None) -> dict[str, torch.Tensor]:
    """All terms and their sum (``"total"``).

    Parameters
    ----------
    labels : (B, H, W) long, class indices, 255 = ignore
    paralysed : (B, H, W) long, 1/0, -1 = image without paralysis labels
    depth : (B, H, W) float, NaN where unknown
    """
    w = weights or LossWeights()
    class_weights = torch.tensor(w.class_weights, device=labels.device, dtype=torch.float32)
    seg = boundary_enhanced_ce(output.logits, labels, class_weights=class_weights,
                               lambda_s=w.ce, boundary_weight=w.boundary)
    par = boundary_enhanced_bce(output.paralysed_logit[:, 0], paralysed,
                                boundary_weight=w.boundary)
    known = torch.isfinite(depth)
    error = (output.depth[:, 0] - torch.where(known, depth, torch.zeros_like(depth))).abs()
    dep = (error * known).sum() / known.sum().clamp(min=1)
    k = output.logits.shape[1]
    small = output.coarse_logits.shape[-2:]
    small_labels = F.interpolate(labels[:, None].float(), size=small, mode="nearest")[:, 0].long()
    small_par = F.interpolate(paralysed[:, None].float(), size=small, mode="nearest")[:, 0]
    aux = F.cross_entropy(output.coarse_logits[:, :k], small_labels, ignore_index=IGNORE_INDEX)
    if (small_par >= 0).any():
        aux = aux + F.binary_cross_entropy_with_logits(
            output.coarse_logits[:, k][small_par >= 0], small_par[small_par >= 0])
    total = seg + w.paralysed * par + w.depth * dep + w.aux * aux
    return {"total": total, "segmentation": seg, "paralysed": par, "depth": dep, "aux": aux}


# -- inference ------------------------------------------------------------------------------
def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) or (H, W, 3) uint8 RGB -> normalised (B, 3, H, W) float."""
    array = np.asarray(crops)
    if array.ndim == 3:
        array = array[None]
    x = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float()
    return (x / 255.0 - _MEAN) / _STD


class ParsingPredictor:
    """A trained ``esc_fpnet``: ``predict(AnalyzedFace) -> FaceParsing`` (photo-sized masks)."""

    def __init__(self, net: FaceParsingNet, card: ModelCard):
        self.net = net.eval()
        self.card = card
        self.config = net.config

    def predict_crop(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class logits ``(K, S, S)``, paralysed logit ``(S, S)`` and depth of an aligned crop.

        Runs on one CPU thread: this small network takes ~12 ms p50 on one thread but
        130-380 ms on two when anything else uses the CPU (measured with
        benchmarks/bench_segmentation.py on the 2-core machine). The same counted setting
        as the Analyzer's, so calls from two analyses overlap instead of queueing.
        """
        with model_threads(), torch.inference_mode():
            out = self.net(to_tensor(crop))
        return (out.logits[0].numpy(), out.paralysed_logit[0, 0].numpy(), out.depth[0, 0].numpy())

    def predict(self, face: AnalyzedFace) -> FaceParsing:
        from ..face.frame import face_alignment

        size = self.config.input_size
        logits, paralysed_logit, _ = self.predict_crop(face.crop(size))
        matrix = face_alignment(face.landmarks, size)
        crop_labels = logits.argmax(axis=0).astype(np.uint8)
        crop_paralysed = paralysed_logit > 0
        side, shares = affected_side_of(crop_paralysed, crop_labels,
                                        lateral_map(face.landmarks, (size, size), matrix))
        labels, paralysed, box = _to_photo(logits, paralysed_logit, matrix, face.image.shape[:2])
        return FaceParsing(
            labels=labels, paralysed=paralysed, class_names=tuple(self.config.class_names),
            pixel_share=pixel_shares(labels[box], paralysed[box], total=labels.size),
            affected_side=side,
            hemiface_share=shares, model=self.card.name, trained_on=self.card.trained_on,
            simulated=self.card.trained_on_simulated_data)


def _to_photo(logits: np.ndarray, paralysed_logit: np.ndarray, matrix: np.ndarray,
              shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """Crop logits -> photo-sized label map and paralysed mask (inverse alignment), and
    the box of the photo the crop covers (outside it everything is background).

    The logits are first enlarged bilinearly :data:`_UPSAMPLE` times in the crop (so
    edges follow the logits, not the crop's pixel grid), decided there, and the decided
    maps warped back by nearest neighbour: two uint8 warps, a few ms even at 1350 px.
    Outside the crop the photo is background.
    """
    size = logits.shape[-1] * _UPSAMPLE
    planes = cv2.resize(np.ascontiguousarray(logits.transpose(1, 2, 0)), (size, size),
                        interpolation=cv2.INTER_LINEAR)
    crop_labels = np.argmax(planes, axis=-1).astype(np.uint8)
    crop_paralysed = (cv2.resize(paralysed_logit, (size, size), interpolation=cv2.INTER_LINEAR)
                      > 0).astype(np.uint8)
    # cv2 puts pixel centres on integers: crop pixel j is enlarged pixel s*j + (s-1)/2.
    enlarged = np.asarray(matrix, dtype=np.float64) * _UPSAMPLE
    enlarged[:, 2] += (_UPSAMPLE - 1) / 2
    inverse = cv2.invertAffineTransform(enlarged)
    height, width = shape
    labels = np.zeros(shape, dtype=np.uint8)
    paralysed = np.zeros(shape, dtype=bool)
    # Only the crop's footprint in the photo can hold a face: warp that box, not the photo.
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64) - 0.5
    footprint = corners @ inverse[:, :2].T + inverse[:, 2]
    x0, y0 = np.clip(np.floor(footprint.min(axis=0)).astype(int), 0, [width, height])
    x1, y1 = np.clip(np.ceil(footprint.max(axis=0)).astype(int) + 1, 0, [width, height])
    box = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
    if x1 <= x0 or y1 <= y0:
        return labels, paralysed, box
    inverse[:, 2] -= (x0, y0)
    warp = lambda a: cv2.warpAffine(a, inverse, (int(x1 - x0), int(y1 - y0)),  # noqa: E731
                                    flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=0)
    labels[y0:y1, x0:x1] = warp(crop_labels)
    paralysed[y0:y1, x0:x1] = (warp(crop_paralysed) > 0) & (labels[y0:y1, x0:x1] > 0)
    return labels, paralysed, box


@register_loader("parsing", ARCHITECTURE)
def _load(folder: Path, card: ModelCard) -> ParsingPredictor:
    net = FaceParsingNet(ParsingConfig.from_dict(card.config))
    state = torch.load(folder / card.weights_file, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return ParsingPredictor(net, card)
