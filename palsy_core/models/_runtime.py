"""How a loaded model runs at inference time, chosen per model by measurement.

Measured on the 2-core CPU this project targets (benchmarks/bench_analyze.py prints the
figures again), one face per call:

- every model: one torch intra-op thread while it runs (:data:`palsy_core._threads.MODEL_THREADS`);
  with two, the parsing network took 930 ms instead of 9 ms while other work kept the
  cores busy, and gained nothing when they were free (10.6 vs 10.8 ms);
- face parsing (convolutions at 160 px): channels-last memory format, 13.2 -> 12.1 ms
  per crop (p50, interleaved with the contiguous net on a busy machine; 12.0 -> 10.6 ms
  measured alone), outputs equal within 1e-5; dynamic int8 quantisation of its few
  linear layers gained nothing (10.9 ms) and moved logits by 0.02, so it is not used;
- severity (a small geometry MLP in Keras) and the palsy model (a calibrated logistic
  regression): about 2 ms each, called under ``torch.inference_mode``; nothing to gain.

ONNX Runtime or OpenVINO would add a dependency for at most the parsing network's
10 ms; with every target met under plain torch they are not used.
"""

from __future__ import annotations

from typing import Any


def prepare_parsing(predictor: Any) -> Any:
    """Put a parsing predictor's convolutional network in channels-last memory format.

    The trained weights are unchanged (only their layout in memory); the predictor
    still takes and returns the same arrays.
    """
    import torch

    net = getattr(predictor, "net", None)
    if isinstance(net, torch.nn.Module):
        net.to(memory_format=torch.channels_last)
    return predictor
