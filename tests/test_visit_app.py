"""The visit (photo set) and comparison pages through Streamlit's AppTest (no browser).

Real photos (a London Set person at rest and smiling; the astronaut portrait and the same
face with its left mouth corner drooping), the real landmarker, records in a temporary
SQLite file. Sign-in is off (PALSY_AUTH=off, the documented demo setting): these tests are
about the pages; tests/test_auth.py signs in through the real forms.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_testing import jpeg, texts

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 180
LONDON = ROOT.parent / "shared" / "faces" / "london"


@pytest.fixture(scope="module")
def london_pair() -> tuple[bytes, bytes]:
    rest, smile = LONDON / "neutral" / "001_03.jpg", LONDON / "smiling" / "001_08.jpg"
    if not (rest.exists() and smile.exists()):
        pytest.skip(f"London Set photos not found under {LONDON} (see /work/shared/faces/README.md)")
    return rest.read_bytes(), smile.read_bytes()


def visit_page(patient: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if patient:
        at.sidebar.text_input(key="patient_code").input(patient).run()
    at.switch_page("app_pages/visit.py").run()
    return at


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    uploader = next(u for u in at.file_uploader if u.key.startswith("visit_uploads"))
    uploader.set_value([(name, data, "image/jpeg") for name, data in files]).run()
    return at


def test_empty_visit_shows_the_checklist(env):
    at = visit_page()
    assert not at.exception and not at.error
    assert "Add the photos of the visit" in texts(at.info)
    assert texts(at.markdown).count("missing") == 8


def test_capture_mode_prompts_for_each_missing_movement(env):
    at = visit_page()
    at.radio(key="visit_mode").set_value("Take them one by one").run()
    assert not at.exception
    assert at.selectbox(key="visit_capture_movement").options == [
        "Rest", "Brow raise", "Gentle eye closure", "Tight eye closure", "Closed-mouth smile",
        "Full smile (teeth)", '"Eee"', "Pucker"]
    assert "Ask the patient: Relax the face" in texts(at.info)
    at.selectbox(key="visit_capture_movement").set_value("pucker").run()
    assert "Ask the patient: Pucker your lips" in texts(at.info)
    assert at.get("camera_input")


def test_photo_set_detects_movements_measures_and_saves_once(env, london_pair):
    rest, smile = london_pair
    at = visit_page("P-0100")
    upload(at, [("rest.jpg", rest), ("smile.jpg", smile)])
    assert not at.exception and not at.error, texts(at.error)
    # The two movements are detected (confirmable in their selectboxes) and ticked off.
    boxes = [box for box in at.selectbox if box.key.startswith("visit_movement_")]
    assert [box.value for box in boxes] == ["rest", "closed_smile"]  # 001 smiles with closed lips
    assert "Detected: Closed-mouth smile" in texts(at.caption)
    boxes[1].set_value("full_smile").run()  # the clinician's word wins
    assert texts(at.markdown).count("missing") == 6
    movement_table = at.dataframe[0].value
    assert list(movement_table["Movement"]) == ["Full smile (teeth)"]
    assert movement_table["Subject's R (mm)"].iloc[0] > 3 and movement_table["Subject's L (mm)"].iloc[0] > 3
    # Both scales are labelled as estimates, with needs-clinician items.
    assert "Estimates from photographs" in texts(at.warning)
    efACE = at.dataframe[1].value
    assert "needs clinician" in set(efACE["Estimate"]) or "photo missing" in set(efACE["Estimate"])

    save = "FormSubmitter:visit_save-Save visit"
    at.button(key=save).click().run()
    assert "Saved as visit 1 of patient P-0100 (2 photo(s), photos not stored)" in texts(at.success)
    at.button(key=save).click().run()
    assert "Already saved as visit 1" in texts(at.info)
    assert at.get("page_link")  # "Open this patient's record"

    from palsy_core.records import PHOTO_SET, RecordStore, default_db_url

    store = RecordStore(default_db_url())
    visits = store.list_visits("P-0100")
    assert len(visits) == 1 and visits[0].expression == PHOTO_SET
    stored = visits[0].assessment
    assert [p["movement"] for p in stored["photos"]] == ["rest", "full_smile"]
    assert all("landmarks" not in p for p in stored["photos"])  # none corrected
    assert stored["efACE"]["total"] is not None

    # Excel beside it; the stored visit exports one row per photo with the subject's L and R.
    assert "Excel (.xlsx) of this visit" in [b.label for b in at.get("download_button")]
    from palsy_core.export_xlsx import visits_to_xlsx

    book = load_workbook(io.BytesIO(visits_to_xlsx(visits)))
    rows = list(book["Visits"].iter_rows(values_only=True))
    assert rows[0][4] == "Expression" and [r[4] for r in rows[1:]] == ["rest", "full smile"]
    assert rows[1][0] == "P-0100"


def test_two_visits_compared_with_statements_pdf_and_excel(env, london_pair, landmarker):
    from conftest import droop_point
    from pypdf import PdfReader

    rest, smile = london_pair
    rgb = np.asarray(Image.open(io.BytesIO(rest)).convert("RGB"))
    points = landmarker.detect(rgb).landmarks
    width = np.linalg.norm(points[291, :2] - points[61, :2])
    drooped = droop_point(rgb, points[291, :2], shift_px=0.2 * width, radius_px=0.35 * width)

    at = visit_page("P-0200")
    upload(at, [("rest.jpg", jpeg(drooped)), ("smile.jpg", smile)])
    at.date_input(key="visit_date").set_value("2024-01-10")
    at.checkbox(key="visit_store_photos").check()
    at.button(key="FormSubmitter:visit_save-Save visit").click().run()
    assert "Saved as visit 1 of patient P-0200" in texts(at.success)
    # A removed photo stays out, although the uploader still holds it.
    at.button(key="visit_remove_" + at.session_state["session_box"]["visit_photos"][0].key[:16]).click().run()
    assert [p.name for p in at.session_state["session_box"]["visit_photos"]] == ["smile.jpg"]
    at.button(key="visit_new").click().run()
    assert "Add the photos of the visit" in texts(at.info)
    upload(at, [("rest.jpg", rest), ("smile.jpg", smile)])
    at.date_input(key="visit_date").set_value("2024-06-10")
    at.checkbox(key="visit_store_photos").check()
    at.button(key="FormSubmitter:visit_save-Save visit").click().run()
    assert "Saved as visit 2 of patient P-0200" in texts(at.success), texts(at.error)

    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert at.selectbox(key="compare_before").value == 1 and at.selectbox(key="compare_after").value == 2
    statements = texts(at.markdown)
    assert "Mouth-corner difference" in statements and "improved, beyond the change that repeat photos" in statements
    assert len(at.get("image")) == 2  # both visits' rest photos with their overlays
    table = at.dataframe[0].value
    assert {"measure", "efACE", "sunnybrook"} <= set(table["Section"])
    assert [b.label for b in at.get("download_button")] == ["PDF of the comparison", "Excel (.xlsx)"]

    from palsy_core.comparison import compare_visits
    from palsy_core.records import RecordStore, default_db_url
    from palsy_core.report import comparison_pdf

    store = RecordStore(default_db_url())
    first, second = (store.get_visit(v.visit_id) for v in store.list_visits("P-0200"))
    pdf = comparison_pdf(compare_visits(first, second), before={"label": "Visit 1", "visit_date": "2024-01-10"},
                         after={"label": "Visit 2", "visit_date": "2024-06-10"}, patient="P-0200",
                         overlays=(drooped, rgb))
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "P-0200" in text and "Mouth-corner difference" in text and "improved" in text
    assert "ESTIMATES FROM PHOTOGRAPHS" in text
    assert [m for _, m, _ in second.set_photos] == ["rest", "closed_smile"]

    # Reopened on the records page: the set's photos, estimates and each photo's table.
    at.switch_page("app_pages/records.py").run()
    assert not at.exception and not at.error, texts(at.error)
    assert list(at.dataframe[0].value["Expression"]) == ["photo set", "photo set"]
    assert "Photo set of 2" in at.dataframe[0].value["Headline"].iloc[1]
    assert len(at.get("image")) == 2 and "(estimate from photographs" in texts(at.caption)
    assert "records.sqlite3" not in texts(at.caption)  # no database address shown


def test_landmark_correction_recomputes_and_is_stored_marked(env, london_pair):
    rest, smile = london_pair
    at = visit_page("P-0300")
    upload(at, [("rest.jpg", rest), ("smile.jpg", smile)])
    assert at.selectbox(key="visit_correct_photo").value == at.session_state["session_box"]["visit_photos"][0].key
    before = at.dataframe[-1].value.set_index("Measure")
    photo = at.session_state["session_box"]["visit_photos"][0]
    corner_y = float(photo.detected.landmarks[291, 1])
    at.selectbox(key="visit_numbers_handle").set_value("mouth_corner_L").run()
    at.number_input(key="visit_numbers_y_mouth_corner_L").set_value(corner_y + 12).run()
    at.button(key="visit_numbers_apply").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert "landmarks corrected" in texts(at.caption) and "Corrected: 1 landmark(s) moved" in texts(at.caption)
    after = at.dataframe[-1].value.set_index("Measure")
    row = "Commissure height"
    # 12 px lower is millimetres lower on the subject's left; the right is untouched.
    assert after.loc[row].iloc[1] != before.loc[row].iloc[1] or after.loc[row].iloc[0] != before.loc[row].iloc[0]
    at.button(key="FormSubmitter:visit_save-Save visit").click().run()
    from palsy_core.records import RecordStore, default_db_url

    stored = RecordStore(default_db_url()).list_visits("P-0300")[0].assessment["photos"]
    assert stored[0]["landmarks_corrected"] is True and len(stored[0]["landmarks"]) == 478
    assert stored[0]["landmark_moves"]["mouth_corner_L"]["y"] == pytest.approx(corner_y + 12, abs=0.01)
    assert stored[1]["landmarks_corrected"] is False and "landmarks" not in stored[1]

    at.button(key="visit_undo_correction").click().run()
    assert "Corrected:" not in texts(at.caption)


def test_explorer_shows_codes_plain_labels_and_healthy_bands(env):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/explorer.py").run()
    at.button(key="explorer_example").click().run()
    assert not at.exception and not at.error
    brow = at.dataframe[0].value
    assert list(brow.columns[:3]) == ["Code", "Feature", "What it compares"]
    assert brow["Code"].iloc[0] == "f0" and (brow["Healthy up to"] > 0).all()
    assert set(brow["Beyond the healthy band"]) <= {"YES", "no"}
    assert "Face Research Lab London Set" in texts(at.caption)


def test_video_names_the_side_splits_movements_and_saves(env, tmp_path, face_photo, drooped_face):
    import cv2

    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (512, 512))
    for frame in [drooped_face] * 30:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.sidebar.text_input(key="patient_code").input("P-0400").run()
    at.switch_page("app_pages/video.py").run()
    at.file_uploader(key="video_upload").set_value(("clip.mp4", path.read_bytes(), "video/mp4")).run()
    assert not at.exception and not at.error, texts(at.error)
    segments = at.dataframe[0].value
    assert len(segments) == 1 and segments["Frames"].iloc[0] == 6  # one held movement, 6 frames at 6 fps
    assert "The subject's left side looks weaker in 6 of 6 frames" in texts(at.warning)
    at.button(key="FormSubmitter:video_save-Save visit").click().run()
    assert "Saved as visit 1 of patient P-0400" in texts(at.success), texts(at.error)
    at.button(key="FormSubmitter:video_save-Save visit").click().run()
    assert "Already saved as visit 1" in texts(at.success)
    from palsy_core.records import PHOTO_SET, RecordStore, default_db_url
    from palsy_core.visit import MOVEMENT_TITLES

    stored = RecordStore(default_db_url()).list_visits("P-0400")
    assert len(stored) == 1 and stored[0].expression == PHOTO_SET
    photos = stored[0].assessment["photos"]
    assert len(photos) == 1 and MOVEMENT_TITLES[photos[0]["movement"]] == segments["Movement"].iloc[0]
