"""Assess a photo: upload, camera or the example; headline, overlay, gauges, measurements,
model outputs, report downloads and saving the visit to the patient's record."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from palsy_core.imageio import IMAGE_SUFFIXES
from palsy_core.records import EXPRESSIONS
from palsy_core.report import assessment_csv, assessment_pdf
from palsy_core.safe_text import check_patient_code, is_patient_code
from app_pages.ui import auth, services, widgets
from app_pages.ui.errors import attempt
from app_pages.ui.text import plain

PHOTO_TYPES = [suffix.lstrip(".") for suffix in IMAGE_SUFFIXES]
SOURCES = ("Upload a photo", "Take a photo", "Example photo")
LAYERS = ("Zoom to face", "Contours", "Axes", "Landmarks")

st.title("Assess a photo")

source = st.radio("Photo", SOURCES, horizontal=True, key="assess_source", label_visibility="collapsed")
data = name = None
if source == SOURCES[0]:
    upload = st.file_uploader(
        "Face photo (frontal, whole face visible)", type=PHOTO_TYPES, key="assess_upload",
        help="JPEG, PNG, BMP, WebP or TIFF. The photo stays on this server and is stored only if you "
             "save the visit with 'store the photo' ticked.",
    )
    if upload is not None:
        data, name = upload.getvalue(), upload.name
elif source == SOURCES[1]:
    shot = st.camera_input("Take a frontal photo: face the camera, whole face in the frame", key="assess_camera")
    if shot is not None:
        data, name = shot.getvalue(), "camera photo"
else:
    data, name = services.example_photo(), "example photo"
    st.caption("Built-in example: US Navy portrait of Grace Hopper (public domain), at rest.")

details = st.columns([1, 1, 1.4])
visit_date = details[0].date_input("Visit date", value=dt.date.today(), key="assess_date", format="YYYY-MM-DD")
expression = details[1].selectbox(
    "Expression asked for", EXPRESSIONS, key="assess_expression",
    help="What the patient was asked to do: the verdict uses this expression's normal limits (rest "
         "and smile have them). A face that clearly shows something else is flagged, once, and the "
         "photo is then not assessable.",
)
with details[2].expander("Scale (optional)"):
    mm_per_pixel = st.number_input(
        "Known scale, mm per pixel (0 = from the iris)", min_value=0.0, max_value=10.0, value=0.0,
        step=0.001, format="%.4f", key="assess_scale",
        help="With a ruler in the photo: millimetres divided by the pixels they span. "
             "Leave 0 to scale by the iris (11.77 mm, the adult average).",
    )

if data is None:
    st.info("Upload a photo, take one with the camera, or try the example photo.", icon=":material/info:")
    widgets.disclaimer()
    st.stop()

assessment = attempt("analysing the photo", services.assess, data, name, mm_per_pixel or None, expression)
if assessment is None:
    services.forget_assessment()
    widgets.disclaimer()
    st.stop()
result = assessment.result

statuses = attempt("checking the installed models", services.model_statuses) or []
palsy_card = next((s.card for s in statuses if s.key == "palsy"), None)
# One card above the fold: the verdict, and the palsy probability beside it.
widgets.headline(result, photo=assessment.name, palsy_card=palsy_card)
widgets.photo_warnings(result)

left, right = st.columns([5, 6], gap="large")
with left:
    layers = st.pills("Show", LAYERS, selection_mode="multi", default=LAYERS[:3], key="assess_layers",
                      label_visibility="collapsed")
    widgets.overlay(assessment.rgb, result, zoom="Zoom to face" in layers, contours="Contours" in layers,
                    axes="Axes" in layers, points="Landmarks" in layers)
    if st.toggle("Face parsing overlay", key="assess_parsing",
                 help="Skin, brows, eyes and mouth, and the region the parsing model reads as "
                      "paralysed (red hatching), with a legend."):
        widgets.parsing_overlay(assessment.rgb, result, zoom="Zoom to face" in layers)
with right:
    st.subheader("Asymmetry by region")
    widgets.region_gauges(result)
    widgets.pose_caption(result)
    st.subheader("Model outputs")
    widgets.model_outputs(result, statuses, palsy=False)
    st.subheader("Severity and next steps")
    widgets.severity_panel(result, next((s for s in statuses if s.key == "severity"), None))

st.subheader("Measurements")
widgets.measurement_table(result.to_dict())
widgets.explanation()

st.subheader("Report and patient record")
patient = (st.session_state.get("patient_code") or "").strip()
if patient and not is_patient_code(patient):
    # Never printed into a report, a file name or a record: the same rule everywhere.
    attempt("checking the patient code", check_patient_code, patient)
    patient = ""
downloads_key = (assessment.key, patient, visit_date, expression)
# In the session's box, not st.session_state: the PDF builder holds the photo, and the
# box is released when the browser session ends.
downloads = services.session_box().get("assess_downloads")
if downloads is None or downloads.get("key") != downloads_key:
    # The CSV costs a millisecond; the PDF (chart, fonts) a few hundred, so it is only built
    # when the clinician asks for it (the download button calls this function).
    def build_pdf(result=result, rgb=assessment.rgb, patient=patient, visit_date=visit_date,
                  expression=expression) -> bytes:
        return assessment_pdf(result, rgb, patient=patient or None, visit_date=visit_date, expression=expression)

    downloads = {
        "key": downloads_key,
        "csv": attempt("writing the CSV", assessment_csv, result, patient=patient or None, visit_date=visit_date),
        "pdf": build_pdf,
    }
    services.session_box()["assess_downloads"] = downloads
stem = f"assessment-{patient + '-' if patient else ''}{visit_date.isoformat()}"
buttons = st.columns([1, 1, 3])
buttons[0].download_button("PDF report", downloads["pdf"], file_name=f"{stem}.pdf", mime="application/pdf",
                           icon=":material/picture_as_pdf:", key="assess_pdf", on_click="ignore")
if downloads["csv"] is not None:
    buttons[1].download_button("CSV table", downloads["csv"], file_name=f"{stem}.csv", mime="text/csv",
                               icon=":material/table:", key="assess_csv", on_click="ignore")

with st.form("assess_save", border=True):
    st.markdown(f"Save this assessment to the record of patient **{plain(patient) or '(enter a code in the sidebar)'}**"
                f" · visit date **{visit_date.isoformat()}** · expression **{plain(expression)}** "
                "(change them above, the code in the sidebar).")
    note = st.text_input("Note (optional)", key="assess_note", max_chars=500)
    store_photo = st.checkbox(
        "Also store the photo", value=False, key="assess_store_photo",
        help="Off by default. Stored without its metadata (no GPS, no camera serial). Store photos "
             "only with the patient's consent.",
    )
    save = st.form_submit_button("Save visit", type="primary", icon=":material/save:")
if save:
    # The same analysis (photo, scale, date, expression) saved again is the same visit:
    # a double click or a retry after "try again" never stores it twice.
    visit_id = attempt(
        "saving the visit",
        lambda: services.record_store().save_visit(
            patient, result, visit_date=visit_date, expression=expression,
            photo=assessment.rgb if store_photo else None, note=note,
            provenance=services.provenance(result),
            save_key=f"{assessment.key}:{visit_date.isoformat()}:{expression}", actor=auth.actor(),
        ),
    )
    if visit_id is not None and not getattr(visit_id, "created", True):
        st.info(f"Already saved as visit {visit_id} of patient {plain(patient)}: nothing new was stored.",
                icon=":material/check:")
    elif visit_id is not None:
        st.success(f"Saved as visit {visit_id} of patient {plain(patient)}"
                   f"{' with the photo' if store_photo else ' (without the photo)'}.",
                   icon=":material/check:")
    if visit_id is not None:
        st.page_link("app_pages/records.py", label="Open this patient's record", icon=":material/folder_shared:")

widgets.disclaimer()
# A model still loading: its part above says so; rerun as it arrives (the analysis is
# redone then: its key holds the models' generation), so its output shows with no action.
# Not after a save: the rerun would take its confirmation away.
if not save:
    widgets.rerun_as_models_arrive()
