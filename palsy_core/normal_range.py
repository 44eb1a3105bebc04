"""Where "normal asymmetry" ends: the one place these limits are defined.

No face is perfectly symmetric. We call a left-right difference *within normal
asymmetry* while it stays at or below the limit below; the region asymmetry score is the
difference divided by its limit, so 1.0 is the edge of normal.

Where the numbers come from
---------------------------
They are provisional engineering defaults, not values validated on a cohort:

- They sit at the upper end of the left-right differences that photo-based studies of
  healthy adults with Emotrics-style measures (Guarin et al., JAMA Facial Plast Surg
  2018, and the normative work built on it) typically report: one to two millimetres for
  brow and commissure height, about a millimetre for the palpebral fissure.
- They are wider than the landmarker's own repeatability on one photo (a few tenths of
  a millimetre on a 512 px face), so landmark noise alone does not cross them.

Calibrate them on healthy photos from your own clinic before relying on the
"within normal asymmetry" verdict; change them here and only here.
"""

from __future__ import annotations

#: Largest left-right difference considered normal, per measurement (millimetres,
#: except degrees for the smile angle).
NORMAL_LIMITS: dict[str, float] = {
    "brow_height": 2.0,
    "palpebral_fissure_height": 1.5,
    "commissure_height": 2.0,
    "commissure_excursion": 3.0,
    "smile_angle": 6.0,
}

#: Blendshape level above which we treat the photo as showing that expression.
EXPRESSION_THRESHOLDS: dict[str, float] = {
    "smile": 0.30,        # mean of mouthSmileLeft / mouthSmileRight
    "eyes_closed": 0.50,  # mean of eyeBlinkLeft / eyeBlinkRight
    "brow_raise": 0.40,   # max of browInnerUp and mean browOuterUp
}

#: Head turn (|yaw|) and nod (|pitch|) in degrees beyond which left-right comparisons are
#: unreliable: the far side of the face is foreshortened.
MAX_RELIABLE_YAW = 12.0
MAX_RELIABLE_PITCH = 20.0
