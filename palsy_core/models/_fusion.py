"""Early and late fusion of one image model and one structured-data FNN (seed 000, 3.2).

Early fusion: the intermediate embeddings of two independently trained single-modality
models are concatenated and classified by four fully connected layers with BatchNorm
and LeakyReLU. Late fusion: the two models' palsy probabilities are averaged.

:class:`PalsyNet` is the one network type a weight file holds: a single FNN, a single
image classifier, or one of each joined by early or late fusion. Its
:meth:`~PalsyNet.predict_proba` maps prepared tensors to palsy probabilities.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ._fnn import FeedForwardClassifier, blendshape_fnn, coordinate_fnn, handcrafted_fnn
from ._geometry import geometry_fnn
from ._image import ImageClassifier
from ._registry import register_model

#: Structured modality -> FNN builder (seed 000).
STRUCTURED_FNNS = {
    "blendshapes": blendshape_fnn,
    "coordinates": coordinate_fnn,
    "handcrafted": handcrafted_fnn,
    "geometry": geometry_fnn,
}
#: Widths of the early-fusion head after the concatenated embedding (authors' code:
#: 256, 128, 64, then the two-logit output: four fully connected layers).
EARLY_FUSION_WIDTHS = (256, 128, 64)
#: Negative slope of the head's LeakyReLU (authors' code).
LEAKY_SLOPE = 0.2

FusionKind = Literal["fnn", "image", "early", "late"]


class EarlyFusionHead(nn.Module):
    """Four fully connected layers on concatenated embeddings: in -> 256 -> 128 -> 64 -> 2.

    Each hidden layer is linear -> BatchNorm1d -> LeakyReLU(0.2).

    Parameters
    ----------
    in_dim : int
        Width of the two embeddings together.
    modality_dropout : float
        While training, the probability that a sample loses one branch's embedding
        (zeroed), the image or the structured one with equal chance, never both. It
        keeps the head from leaning on whichever branch fits the training set best
        (not in the paper; 0 disables).
        Inference never drops anything.
    """

    def __init__(self, in_dim: int, modality_dropout: float = 0.0):
        super().__init__()
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), not {modality_dropout}.")
        self.in_dim = in_dim
        self.modality_dropout = modality_dropout
        layers: list[nn.Module] = []
        for width in EARLY_FUSION_WIDTHS:
            layers += [nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.LeakyReLU(LEAKY_SLOPE)]
            in_dim = width
        layers.append(nn.Linear(in_dim, 2))
        self.layers = nn.Sequential(*layers)

    def forward(self, image_embedding: torch.Tensor,
                structured_embedding: torch.Tensor) -> torch.Tensor:
        """Logits (N, 2) from embeddings (N, d_image) and (N, d_structured)."""
        if self.training and self.modality_dropout > 0:
            image_embedding, structured_embedding = self._drop(image_embedding,
                                                               structured_embedding)
        return self.layers(torch.cat([image_embedding, structured_embedding], dim=1))

    def _drop(self, image_embedding, structured_embedding):
        n = len(image_embedding)
        device = image_embedding.device
        dropped = torch.rand(n, device=device) < self.modality_dropout
        drop_image = torch.rand(n, device=device) < 0.5
        keep = torch.stack([~(dropped & drop_image), ~(dropped & ~drop_image)], dim=1)
        keep = keep.to(image_embedding.dtype)
        return image_embedding * keep[:, :1], structured_embedding * keep[:, 1:]


def palsy_probability(logits: torch.Tensor) -> torch.Tensor:
    """p(palsy), shape (N,), from two-class logits (N, 2)."""
    return torch.softmax(logits.float(), dim=1)[:, 1]


def late_fusion_probability(p_image: torch.Tensor, p_structured: torch.Tensor) -> torch.Tensor:
    """Mean of the two models' palsy probabilities (the class with the higher mean wins)."""
    return (p_image + p_structured) / 2


class PalsyNet(nn.Module):
    """A complete palsy classifier: one model, or two joined by early or late fusion.

    Parameters
    ----------
    kind : {"fnn", "image", "early", "late"}
    image : ImageClassifier, optional
        Needed for "image", "early" and "late".
    structured : FeedForwardClassifier, optional
        Needed for "fnn", "early" and "late".
    head : EarlyFusionHead, optional
        Needed for "early".
    """

    def __init__(self, kind: FusionKind, image: ImageClassifier | None = None,
                 structured: FeedForwardClassifier | None = None,
                 head: EarlyFusionHead | None = None):
        super().__init__()
        needs = {"fnn": (False, True, False), "image": (True, False, False),
                 "early": (True, True, True), "late": (True, True, False)}
        if kind not in needs:
            raise ValueError(f"Unknown model kind {kind!r}; choose fnn, image, early or late.")
        given = (image is not None, structured is not None, head is not None)
        if given != needs[kind]:
            raise ValueError(f"A {kind!r} PalsyNet takes (image, structured, head) = "
                             f"{needs[kind]} present; got {given}.")
        self.kind = kind
        self.image = image
        self.structured = structured
        self.head = head

    def predict_proba(self, image_x: torch.Tensor | None = None,
                      structured_x: torch.Tensor | None = None) -> torch.Tensor:
        """Palsy probabilities (N,) from normalised images and standardised features."""
        if self.kind == "fnn":
            return palsy_probability(self.structured(structured_x))
        if self.kind == "image":
            return palsy_probability(self.image(image_x))
        if self.kind == "late":
            return late_fusion_probability(palsy_probability(self.image(image_x)),
                                           palsy_probability(self.structured(structured_x)))
        return palsy_probability(self.head(self.image.embed(image_x),
                                           self.structured.embed(structured_x)))

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """What a weight file stores: every trained tensor, no frozen backbone layer."""
        out = {}
        if self.image is not None:
            out["image"] = self.image.tuned_state_dict()
        if self.structured is not None:
            out["structured"] = self.structured.state_dict()
        if self.head is not None:
            out["head"] = self.head.state_dict()
        return out

    def load_weights(self, weights: dict[str, dict[str, torch.Tensor]]) -> None:
        """Inverse of :meth:`weights`."""
        if self.image is not None:
            self.image.load_tuned_state_dict(weights["image"])
        if self.structured is not None:
            self.structured.load_state_dict(weights["structured"])
        if self.head is not None:
            self.head.load_state_dict(weights["head"])


for _modality, _builder in STRUCTURED_FNNS.items():
    register_model(f"fnn_{_modality}")(_builder)
