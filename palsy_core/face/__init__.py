"""One face: its landmarks, its frame, its features, its measurements and their normal range.

The lowest layer of the library: everything here reads a photo's landmarks (pixels of the
EXIF-oriented photo, x right, y down; "left"/"right" are the subject's sides) and imports
nothing from the rest of ``palsy_core`` except the shared vocabulary, errors and logging.
Models, analysis, drawing, reports, video and the app build on it.

- :mod:`~palsy_core.face.landmarks`: the MediaPipe face landmarker, mesh indices, mirroring.
- :mod:`~palsy_core.face.frame`: the one face frame (eye line, down the face), the aligned
  crop the models read and the face's box for zoomed views.
- :mod:`~palsy_core.face.pose`: head pose; undoing the head's turn (``frontalize``).
- :mod:`~palsy_core.face.features`: the 29 handcrafted asymmetry features
  (Parra-Dominguez et al. 2022).
- :mod:`~palsy_core.face.measurements`: millimetre measures per side, region asymmetry.
- :mod:`~palsy_core.face.mirror_flow`: left-right drops read from the pixels (optical
  flow between the face and its mirror image), for the palsy model and the verdict's eye.
- :mod:`~palsy_core.face.normal_range`: the healthy limits the measures are judged by.
"""
