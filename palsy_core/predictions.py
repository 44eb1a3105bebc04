"""What a model says about one face, as plain typed data: the palsy model's probability.

Torch-free, so the analysis, the reports and the app name it without loading a model
framework; the model code (:mod:`palsy_core.models`) makes it. The other tasks' results
live with their concepts: the severity grade with its model (``palsy_core/models/_severity.py``),
the face regions in :class:`palsy_core.segmentation.FaceParsing`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PalsyPrediction:
    """The fusion model's output for one face.

    Attributes
    ----------
    probability : float
        Probability of facial palsy, 0..1.
    model : str
        Registered name (and version) of the model that produced it.
    trained_on : str
        What the model was trained on, in words (from its model card).
    simulated : bool
        True when the training data were simulated, not real patients: the number is
        then a demonstration, not a clinical estimate.
    """

    probability: float
    model: str
    trained_on: str
    simulated: bool

    def to_dict(self) -> dict:
        return {"probability": self.probability, "model": self.model,
                "trained_on": self.trained_on, "simulated": self.simulated}
