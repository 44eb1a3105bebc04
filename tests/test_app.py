"""The Streamlit app, page by page, through Streamlit's AppTest (no browser).

Real photos in (the astronaut portrait, the same face with a drooping left mouth corner),
real landmarker and analysis; records in a temporary SQLite file; the palsy model either
absent or a small real network with a model card saying it was trained on simulated data.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from app_testing import jpeg, texts

from palsy_core.models import (FeatureScaler, ModelConfig, build_network, palsy_card, save_model,
                               write_palsy_weights)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
TIMEOUT = 120  # the first run of a session loads torch and the landmarker


@pytest.fixture(scope="module")
def simulated_weights(tmp_path_factory) -> Path:
    """A real blendshape FNN (seeded, a few training steps) whose card says: simulated data."""
    folder = tmp_path_factory.mktemp("simulated_weights")
    torch.manual_seed(0)
    config = ModelConfig("fnn", structured_modality="blendshapes")
    net = build_network(config)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(64, 52)).astype(np.float32)
    scaler = FeatureScaler.fit(x)
    y = torch.from_numpy((x[:, 0] > 0.5).astype(np.int64))
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(3):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(net.structured(torch.from_numpy(scaler.transform(x))), y)
        loss.backward()
        optimiser.step()
    card = palsy_card(
        "demo_blendshape_fnn", config, trained_on="simulated palsy faces (test fixture)",
        trained_on_simulated_data=True, training_data={"samples": 64}, protocol={"steps": 3},
        metrics={"f1": 0.5}, intended_use="tests of the app only", feature_scaler=scaler,
    )
    save_model(card, write_palsy_weights(net.eval()), weights_dir=folder, make_default=True)
    return folder


def app(page: str | None = None) -> AppTest:
    """The app with its models loaded (they load in the background: see
    test_first_page_before_the_models_arrive for the page drawn before that)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    from app_pages.ui import services

    if not services.model_loader().wait(TIMEOUT):
        raise AssertionError("the models did not load")
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def upload_photo(at: AppTest, name: str, data: bytes, mime: str = "image/jpeg",
                 expression: str = "smile") -> AppTest:
    """Upload a photo stating the expression asked for (the astronaut test photos smile)."""
    at.selectbox(key="assess_expression").set_value(expression)
    at.file_uploader(key="assess_upload").set_value((name, data, mime)).run()
    return at


def test_assess_example_photo(env):
    at = app()
    assert "Upload a photo" in texts(at.info)
    at.radio(key="assess_source").set_value("Example photo").run()
    assert not at.exception and not at.error
    # Grace Hopper at rest, as the default expression asked for states.
    assert "**Within normal asymmetry**" in texts(at.success)
    assert "Read as a **rest** photo (as stated)." in texts(at.caption)
    table = at.dataframe[0].value
    assert list(table["Measure"])[:2] == ["Brow height", "MRD1 (pupil to upper lid)"]
    assert "model not installed" in texts(at.markdown)
    assert "Decision support, not a diagnosis" in texts(at.caption)


def test_a_probability_that_disagrees_with_the_verdict_says_why(env, monkeypatch):
    """Grace Hopper at 80 % size is within normal, yet the shipped model reads her well above
    50 % (her eye openings differ by 0.6 mm in the mirror flow; at full size she sits near
    50 %, at 80 % at 63-67 % over JPEG qualities 75-95): the card says why, beside it."""
    from trainers.build_default_weights import source_photo

    monkeypatch.setenv("PALSY_WEIGHTS_DIR", str(Path(__file__).resolve().parents[1] / "weights"))
    photo = cv2.resize(source_photo("grace_hopper"), None, fx=0.8, fy=0.8,
                       interpolation=cv2.INTER_AREA)
    at = app()
    upload_photo(at, "hopper.jpg", jpeg(photo), expression="rest")
    for _ in range(20):  # the models load in the background; their outputs arrive by rerun
        if any(metric.label == "Palsy probability" for metric in at.metric):
            break
        at.run(timeout=60)
    assert not at.exception and not at.error
    assert "**Within normal asymmetry**" in texts(at.success)
    probability = next(m.value for m in at.metric if m.label == "Palsy probability")
    assert int(probability.rstrip("%")) >= 50
    captions = texts(at.caption)
    assert "Why the two differ: every measure is within the limits of healthy people" in captions
    # How often healthy people score this high, from the model card's held-out numbers.
    assert "healthy photos at 50% or more 10%" in captions
    assert "(10% of the healthy photos it was tested on did)" in captions



def test_a_gauge_that_points_to_the_other_side_says_why(env):
    """Person 001 of the London Set smiling on the image-right half only (a composite of
    the smile and rest photos, made in memory): the resting mouth names the left side, while
    the smiling half's brow sits lower and is past its own limit towards the right. The
    brow's gauge sends the reader below it, where the caption says why the headline names
    the other side; the warnings say which region points where."""
    from trainers._london import load_work_photo
    from trainers.data.simulate import composite_palsy

    london = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
    if not (london / "neutral" / "001_03.jpg").is_file():
        pytest.skip(f"the London Set is not at {london} (a fresh clone has no ../shared)")
    from palsy_core import FaceLandmarker

    rest = load_work_photo(london / "neutral" / "001_03.jpg")
    smile = load_work_photo(london / "smiling" / "001_08.jpg")
    with FaceLandmarker() as landmarker:
        points = [landmarker.detect(photo).landmarks for photo in (rest, smile)]
    composite = composite_palsy(rest, points[0], smile, points[1], side="left").image
    at = app()
    upload_photo(at, "composite.jpg", jpeg(composite), expression="smile")
    assert not at.exception and not at.error
    assert "The subject's left side looks weaker" in texts(at.warning)
    captions = texts(at.caption)
    assert ("**Brow:** beyond its own limit towards the subject's right side, against the "
            "headline") in captions
    assert "the mouth with the largest share of the asymmetry names the left side" in captions
    assert "the brow points to the subject's right side, the mouth to the left" in texts(at.warning)


def test_assess_drooped_photo_headline_measurements_and_downloads(env, drooped_face, analyzer):
    at = app()
    at.sidebar.text_input(key="patient_code").input("P-0042").run()
    upload_photo(at, "drooped.jpg", jpeg(drooped_face))
    assert not at.exception and not at.error
    # The mouth droops; the eye may also cross the (tighter) measured smile limit.
    headline = texts(at.warning)
    assert "The subject's left side looks weaker" in headline and "Mouth" in headline
    assert "mm** (normal up to" in headline  # the worst region in mm against its limit
    table = at.dataframe[0].value
    expected = analyzer.analyze(np.asarray(Image.open(io.BytesIO(jpeg(drooped_face)))))
    row = table[table["Measure"] == "Commissure height"].iloc[0]
    assert list(table.columns[1:3]) == ["Subject's R", "Subject's L"]  # the photo's order
    assert row["Subject's L"] == pytest.approx(expected.measurements["commissure_height"].left, abs=0.05)
    assert row["Beyond limit"] == "YES"

    labels = [button.label for button in at.get("download_button")]
    assert labels == ["PDF report", "CSV table"]
    downloads = at.session_state["session_box"]["assess_downloads"]
    pdf = downloads["pdf"]()  # what the PDF button calls when clicked
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1 and "P-0042" in reader.pages[0].extract_text()
    rows = list(csv.DictReader(io.StringIO(downloads["csv"])))
    assert {row["name"] for row in rows if row["section"] == "measurement"} >= {"brow_height", "smile_angle"}

    # Overlay toggles re-draw without analysing again.
    before = at.session_state["analyses_run"]
    at.pills(key="assess_layers").set_value(["Landmarks"]).run()
    assert at.session_state["analyses_run"] == before and not at.exception


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.jpg", b"these are my notes, not a photo" * 10, "This file is not a photo"),
        ("empty.png", b"", "The file is empty"),
        ("grey.png", None, "No face found"),
    ],
)
def test_assess_bad_files_give_specific_errors(env, name, data, message):
    if data is None:
        buffer = io.BytesIO()
        Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(buffer, format="PNG")
        data = buffer.getvalue()
    at = app()
    upload_photo(at, name, data, "image/png")
    assert not at.exception
    assert message in texts(at.error)
    assert "Traceback" not in texts(at.error)
    assert not at.get("download_button")


def test_known_scale_changes_the_millimetres(env, face_photo):
    at = app()
    upload_photo(at, "face.jpg", jpeg(face_photo))
    iris = at.dataframe[0].value.set_index("Measure")["Subject's L"]
    iris_scale = at.session_state["session_box"]["assessment"].result.face.mm_per_pixel
    at.number_input(key="assess_scale").set_value(0.1).run()
    known = at.dataframe[0].value.set_index("Measure")["Subject's L"]
    assert at.session_state["session_box"]["assessment"].result.face.scale_source == "user"
    assert known["Brow height"] == pytest.approx(iris["Brow height"] * 0.1 / iris_scale, rel=0.01)
    assert known["Smile angle"] == pytest.approx(iris["Smile angle"])  # degrees do not scale
    assert "as entered by the clinician" in texts(at.caption)


def test_save_list_plot_and_delete_visits(env, drooped_face, face_photo):
    at = app()
    upload_photo(at, "face.jpg", jpeg(face_photo))
    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    assert "Enter a pseudonymous patient code" in texts(at.error)

    at.sidebar.text_input(key="patient_code").input("P-0042").run()
    at.date_input(key="assess_date").set_value("2024-01-10").run()
    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    assert "Saved as visit 1 of patient P-0042 (without the photo)" in texts(at.success)
    upload_photo(at, "drooped.jpg", jpeg(drooped_face))
    at.date_input(key="assess_date").set_value("2024-03-02").run()
    at.checkbox(key="assess_store_photo").check()
    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    assert "Saved as visit 2 of patient P-0042 with the photo" in texts(at.success)

    at.switch_page("app_pages/records.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="records_patient").value == "P-0042"
    visits = at.dataframe[0].value
    assert list(visits["Visit"]) == [1, 2] and list(visits["Photo stored"]) == ["no", "yes"]
    assert list(visits["Weaker side"]) == ["none", "left"]
    assert len(at.get("plotly_chart")) == 2
    assert at.selectbox(key="records_visit").value == 2
    assert len(at.get("image")) == 1  # the stored photo of visit 2

    at.checkbox(key="records_confirm_visit").check().run()
    at.button(key="records_delete_visit").click().run()
    assert "Visit 2 of P-0042 deleted." in texts(at.success)
    assert list(at.dataframe[0].value["Visit"]) == [1]

    at.text_input(key="records_confirm_patient").input("P-0042").run()
    at.button(key="records_delete_patient").click().run()
    assert "Patient P-0042 and 1 visit(s) deleted." in texts(at.success)
    assert "No visits saved yet" in texts(at.info)


def test_records_csv_export(env, face_photo):
    at = app()
    at.sidebar.text_input(key="patient_code").input("P-7").run()
    upload_photo(at, "face.jpg", jpeg(face_photo))
    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    at.switch_page("app_pages/records.py").run()
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["CSV of P-7", "Excel of P-7", "CSV of all patients"]
    # The page checks the sign-in again but does not repeat the entry file's demo warning.
    assert sum("Sign-in is OFF" in warning.value for warning in at.warning) == 1
    from palsy_core.records import RecordStore, default_db_url

    rows = list(csv.DictReader(io.StringIO(RecordStore(default_db_url()).export_csv("P-7"))))
    assert rows[0]["patient"] == "P-7" and rows[0]["photo_stored"] == "no"


def test_records_mark_eye_scores_read_from_the_landmarks(env, face_photo):
    """A photo too soft for the flow scores the eye from the landmarks: across visits that
    score gets its own trace and a caption, not one line through both scales."""
    at = app()
    at.sidebar.text_input(key="patient_code").input("P-8").run()
    upload_photo(at, "soft.jpg", jpeg(cv2.GaussianBlur(face_photo, (0, 0), 4.0)))
    assert "soft around the eyes" in texts(at.warning)
    at.date_input(key="assess_date").set_value("2024-03-01").run()
    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    upload_photo(at, "sharp.jpg", jpeg(face_photo))
    at.date_input(key="assess_date").set_value("2024-04-01").run()
    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    at.switch_page("app_pages/records.py").run()
    assert not at.exception
    chart = at.get("plotly_chart")[1].proto.spec
    assert "Eye (from the landmarks)" in chart
    assert "Eye scores marked x were read from the landmarks" in texts(at.caption)


def test_explorer_page(env, drooped_face):
    at = app("explorer")
    assert "No photo assessed" in texts(at.info)
    at.button(key="explorer_example").click().run()
    assert not at.exception and "Within normal asymmetry" in texts(at.success)
    assert len(at.get("plotly_chart")) == 5  # four regions and the blendshape pairs

    at = app()
    upload_photo(at, "drooped.jpg", jpeg(drooped_face))
    at.switch_page("app_pages/explorer.py").run()
    assert not at.exception
    assert "The subject's left side looks weaker" in texts(at.warning)
    assert "Photo: drooped.jpg" in texts(at.caption)


def test_video_page(env, tmp_path, face_photo, drooped_face):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (512, 512))
    for frame in [face_photo] * 15 + [np.full_like(face_photo, 90)] * 9 + [drooped_face] * 24:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()

    at = app("video")
    at.file_uploader(key="video_upload").set_value(("clip.mp4", path.read_bytes(), "video/mp4")).run()
    assert not at.exception and not at.error
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Frames sampled"] == "10" and metrics["Frames without a face"] == "2"
    assert "In this frame: **The subject's left side looks weaker" in texts(at.warning)
    assert [button.label for button in at.get("download_button")] == ["Per-frame scores (CSV)"]

    at.file_uploader(key="video_upload").set_value(("broken.mp4", b"\x00" * 2000, "video/mp4")).run()
    assert not at.exception
    assert "The video cannot be analysed" in texts(at.error)


def test_models_page_without_models(env):
    at = app("models")
    assert not at.exception and not at.error
    assert texts(at.info).count("Model not installed") == 3
    assert "face_landmarker.task" in texts(at.caption)


def test_simulated_model_is_flagged_wherever_its_output_is_shown(env, monkeypatch, simulated_weights, face_photo):
    monkeypatch.setenv("PALSY_WEIGHTS_DIR", str(simulated_weights))
    at = app()
    assert "`demo_blendshape_fnn` - **simulated data**" in texts(at.sidebar.caption)
    at.sidebar.text_input(key="patient_code").input("P-9").run()
    upload_photo(at, "face.jpg", jpeg(face_photo))
    assert not at.exception and not at.error
    assert "Trained on simulated faces, not on real patients" in texts(at.warning)
    assert "a low probability is no evidence of health" in texts(at.warning)
    # Beside the verdict, in the one headline card, with its held-out performance.
    assert at.metric[0].label == "Palsy probability"
    assert "Person-held-out performance: not measured." in texts(at.caption)
    assert "Within normal asymmetry" in texts(at.success)
    pdf = PdfReader(io.BytesIO(at.session_state["session_box"]["assess_downloads"]["pdf"]())).pages[0].extract_text()
    assert "SIMULATED" in pdf

    at.button(key="FormSubmitter:assess_save-Save visit").click().run()
    at.switch_page("app_pages/records.py").run()
    assert "Trained on simulated faces" in texts(at.warning)

    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert "Trained on simulated faces" in texts(at.warning)
    assert "simulated palsy faces (test fixture)" in texts(at.markdown)


def test_ten_sessions_at_once_share_the_pool_safely(astronaut, drooped_face, face_photo):
    """Ten threads (as ten browser sessions) analyse through one pool: every result is right."""
    from concurrent.futures import ThreadPoolExecutor

    from palsy_core import Analyzer, AnalyzerOptions
    from app_pages.ui.services import AnalyzerPool

    photos = [astronaut, drooped_face, face_photo] * 3 + [drooped_face]
    with Analyzer(AnalyzerOptions(palsy_model=None)) as reference:
        expected = [reference.analyze(photo).to_dict()["measurements"] for photo in photos]
    pool = AnalyzerPool(2)

    def session(photo):
        with pool.lease() as analyzer:
            return analyzer.analyze(photo).to_dict()["measurements"]

    try:
        with ThreadPoolExecutor(max_workers=10) as sessions:
            results = list(sessions.map(session, photos))
        assert pool.created == 2
    finally:
        pool.close()
    assert results == expected


def test_a_busy_pool_says_so():
    from app_pages.ui.services import AnalyzerPool, BusyError

    pool = AnalyzerPool(1)
    try:
        with pool.lease():
            with pytest.raises(BusyError, match="busy"):
                with pool.lease(timeout_s=0.1):
                    pass
    finally:
        pool.close()


def test_headline_card_shows_each_status(env, face_photo, drooped_face):
    """One card above the fold: within normal, asymmetry (side, region in mm), not assessable."""
    at = app()
    upload_photo(at, "face.jpg", jpeg(face_photo))
    assert not at.exception and not at.error
    assert "**Within normal asymmetry**" in texts(at.success)
    assert "Read as a **smile** photo (as stated)." in texts(at.caption)
    upload_photo(at, "drooped.jpg", jpeg(drooped_face))
    assert "The subject's left side looks weaker" in texts(at.warning)
    upload_photo(at, "drooped.jpg", jpeg(drooped_face), expression="brow raise")
    card = texts(at.error)
    assert "**Not assessable**" in card and "has no normal limits" in card
    assert "Visit: photo set" in card  # where a brow raise is graded instead
    upload_photo(at, "drooped.jpg", jpeg(drooped_face), expression="rest")
    card = texts(at.error)  # a broad smile stated as rest: flagged once, with what to retake
    assert card.count("Stated expression 'rest', but the face shows 'smile'.") == 1
    assert "Retake with the face relaxed" in card
    # A gauge beyond its limit is not left to contradict the card: it says why it is unused.
    assert "Not used for the verdict" in texts(at.caption)


def test_headline_card_names_no_side_when_only_the_eye_differs_in_a_smile(env, face_photo,
                                                                          analyzer):
    from trainers.data.simulate import simulate_palsy

    warped = simulate_palsy(face_photo, analyzer.analyze(face_photo).landmarks, side="left",
                            region="eye", severity="moderate", seed=0).image
    at = app()
    upload_photo(at, "eye.jpg", jpeg(warped))
    assert not at.exception and not at.error
    card = texts(at.warning)
    assert "**Asymmetry beyond normal; the weaker side is unclear**" in card
    assert "points to the subject's" not in card and "looks weaker" not in card
    assert "Take a photo at rest, eyes open, to tell the side." in card
    # The eye's gauge, beyond its limit, does not name a side the headline withholds.
    assert "in a smile that alone cannot tell which side is weaker" in texts(at.caption)
