"""The three feed-forward networks of seed 000 (section 3.2) for the structured modalities.

Each network is a ``body`` (the hidden layers) followed by a ``head`` (the last linear
layer, two logits: healthy, palsy). The body's output is the intermediate embedding the
early-fusion model concatenates with an image embedding (seed 000, Fig. 1).

The paper ends each network with a sigmoid over two units and trains with binary
cross-entropy; we keep the two output units and train with the two-class cross-entropy
of their softmax, which is the binary cross-entropy of ``p(palsy)``. Probabilities are
``softmax(logits)[:, 1]``.
"""

from __future__ import annotations

import torch
from torch import nn

#: Unit counts of the blendshape FNN, input to output (seed 000: 52, 32, 10, 2).
BLENDSHAPE_LAYER_SIZES = (52, 32, 10, 2)
#: Unit counts of the coordinate FNN, input (478 x 2 pixels, flattened) to output.
COORDINATE_LAYER_SIZES = (956, 512, 256, 128, 64, 32, 2)
#: Dropout after the first four hidden layers of the coordinate FNN (seed 000).
COORDINATE_DROPOUT = (0.25, 0.3, 0.5, 0.1)
#: Inputs, hidden width and hidden depth of the handcrafted-feature FNN (seed 000).
HANDCRAFTED_INPUTS = 29
HANDCRAFTED_WIDTH = 59
HANDCRAFTED_HIDDEN_LAYERS = 15


class FeedForwardClassifier(nn.Module):
    """Hidden layers (``body``) plus a two-logit linear ``head``.

    Parameters
    ----------
    body : nn.Module
        Maps (N, input_dim) to the embedding (N, embedding_dim).
    input_dim, embedding_dim : int
    """

    def __init__(self, body: nn.Module, input_dim: int, embedding_dim: int):
        super().__init__()
        self.input_dim = input_dim
        self.embedding_dim = embedding_dim
        self.body = body
        self.head = nn.Linear(embedding_dim, 2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Intermediate embedding (N, embedding_dim) used by early fusion."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 2): healthy, palsy."""
        return self.head(self.body(x))


def blendshape_fnn() -> FeedForwardClassifier:
    """FNN on the 52 blendshape scores: 52-32-10-2, BatchNorm + ReLU between layers."""
    sizes = BLENDSHAPE_LAYER_SIZES
    body = nn.Sequential(
        nn.Linear(sizes[0], sizes[1]), nn.BatchNorm1d(sizes[1]), nn.ReLU(),
        nn.Linear(sizes[1], sizes[2]), nn.BatchNorm1d(sizes[2]), nn.ReLU(),
    )
    return FeedForwardClassifier(body, sizes[0], sizes[2])


def coordinate_fnn() -> FeedForwardClassifier:
    """FNN on the 478 landmark coordinates: 956-512-256-128-64-32-2.

    BatchNorm + ReLU after each hidden linear layer; dropout 0.25, 0.3, 0.5, 0.1 after
    the first four hidden layers.
    """
    sizes = COORDINATE_LAYER_SIZES
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1])):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
        if i < len(COORDINATE_DROPOUT):
            layers.append(nn.Dropout(COORDINATE_DROPOUT[i]))
    return FeedForwardClassifier(nn.Sequential(*layers), sizes[0], sizes[-2])


def handcrafted_fnn() -> FeedForwardClassifier:
    """FNN on the 29 handcrafted features: 15 hidden layers of width 59, ReLU + BatchNorm.

    Layer order (linear, ReLU, BatchNorm) follows the authors' published code.
    """
    layers: list[nn.Module] = []
    n_in = HANDCRAFTED_INPUTS
    for _ in range(HANDCRAFTED_HIDDEN_LAYERS):
        layers += [nn.Linear(n_in, HANDCRAFTED_WIDTH), nn.ReLU(),
                   nn.BatchNorm1d(HANDCRAFTED_WIDTH)]
        n_in = HANDCRAFTED_WIDTH
    return FeedForwardClassifier(nn.Sequential(*layers), HANDCRAFTED_INPUTS, HANDCRAFTED_WIDTH)
