"""Example photos that ship with the dependencies: public-domain faces, no download.

The speed benchmark (benchmarks/bench_analyze.py) and the one-pass golden
(tests/data/one_pass_golden.json) measure the same photos, so they are made here once.
"""

from __future__ import annotations

import numpy as np


def astronaut_photo_set() -> list[np.ndarray]:
    """Five 512 px RGB face photos: the astronaut, mirrored, a face close-up, rotated, darker.

    scikit-image's ``data.astronaut()`` (Eileen Collins, NASA, public domain); the close-up
    is rotated 8 degrees about its centre and darkened to 60 % of its brightness.
    """
    import cv2
    from skimage import data

    astronaut = data.astronaut()
    closeup = cv2.resize(astronaut[20:300, 90:370], (512, 512), interpolation=cv2.INTER_CUBIC)
    rotated = cv2.warpAffine(closeup, cv2.getRotationMatrix2D((256, 256), 8, 1.0), (512, 512),
                             borderMode=cv2.BORDER_REFLECT)
    return [astronaut, astronaut[:, ::-1].copy(), closeup, rotated, (closeup * 0.6).astype(np.uint8)]
