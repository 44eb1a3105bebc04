"""Patient records: visits saved from the Assess page, trends across visits, deletion, CSV export.

Every view, change, export and deletion is written to the audit trail under the signed-in
account. Stored text (notes, codes) is shown as plain text; a stored photo is sent inside
this signed-in session's page (a data URL), never as a /media URL another browser could open.
"""

from __future__ import annotations

import base64

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from palsy_core.export_xlsx import visits_to_xlsx
from palsy_core.face.normal_range import REGION_MEASURES
from palsy_core.records import PHOTO_SET, region_measure, weaker_side_label
from palsy_core.report import MEASUREMENT_LABELS, REGION_LABELS
from palsy_core.visit import MOVEMENT_TITLES
from app_pages.ui import auth, services, widgets
from app_pages.ui.errors import attempt
from app_pages.ui.text import plain


def audit_view(patient: str, visit_id: int | None = None) -> None:
    """Log a view once per session and record (reruns of the page are not new views)."""
    seen = st.session_state.setdefault("records_viewed", set())
    if (patient, visit_id) not in seen:
        seen.add((patient, visit_id))
        attempt("writing the audit trail", store.log, auth.actor(), "view", patient, visit_id,
                "visit opened" if visit_id is not None else "visit list opened")


def _xlsx(patient: str, who: str) -> bytes:
    """One patient's visits as Excel (Emotrics' layout: one row per visit and expression), audited."""
    records = store.list_visits(patient)
    store.log(who, "export", patient, None, f"Excel of patient {patient}, {len(records)} visit(s)")
    return visits_to_xlsx(records)


st.title("Patient records")
user = auth.require_user(announce_demo=False)  # the entry file announced demo mode
flash = st.session_state.pop("records_flash", None)
if flash:
    st.success(flash, icon=":material/check:")

store = attempt("opening the patient records", services.record_store)
if store is None:
    st.stop()
# No database address or file path is shown to users (the administrator knows it).
st.caption("Visits are saved from the *Assess a photo* and *Visit: photo set* pages. "
           "Opening, exporting and deleting records is logged with your account name.")

patients = attempt("listing the patients", store.list_patients)
if patients is None:
    st.stop()
if not patients:
    st.info("No visits saved yet. Assess a photo, enter a patient code in the sidebar and press *Save visit*.",
            icon=":material/info:")
    st.stop()

codes = [patient.code for patient in patients]
wanted = (st.session_state.get("patient_code") or "").strip()
patient = st.selectbox(
    "Patient", codes, index=codes.index(wanted) if wanted in codes else 0, key="records_patient",
    format_func=lambda code: next(f"{p.code}  ({p.visits} visit{'s' if p.visits != 1 else ''})"
                                  for p in patients if p.code == code),
)
visits = attempt("reading the visits", store.list_visits, patient) or []
audit_view(patient)

st.subheader("Visits")
st.dataframe(pd.DataFrame({
    "Visit": [visit.visit_id for visit in visits],
    "Date": [visit.visit_date for visit in visits],
    "Expression": [visit.expression for visit in visits],
    "Weaker side": [weaker_side_label(visit) for visit in visits],
    "Headline": [visit.assessment.get("headline", "") for visit in visits],
    "Photo stored": ["yes" if visit.has_photo else "no" for visit in visits],
    "Note": [visit.note for visit in visits],
}), hide_index=True, width="stretch")

history = pd.DataFrame(attempt("reading the measurements", store.measurement_history, patient) or [])
if not history.empty:
    st.subheader("Across visits")
    expressions = sorted(history["expression"].unique())
    choices = st.columns(2)
    shown = choices[0].selectbox("Compare visits with the expression", ["all"] + expressions,
                                 key="records_expression",
                                 help="Compare like with like: a smile with a smile, rest with rest.")
    if shown != "all":
        history = history[history["expression"] == shown]
    keys = [key for key in MEASUREMENT_LABELS if f"measurements.{key}.left" in set(history["name"])]
    measure = choices[1].selectbox("Measurement", keys, format_func=MEASUREMENT_LABELS.get, key="records_measure")
    dates = pd.to_datetime(history["visit_date"])
    # One visit alone would make plotly zoom into milliseconds around it.
    date_axis = {"tickformat": "%Y-%m-%d", "type": "date"}
    if dates.nunique() <= 1 and not dates.empty:
        date_axis["range"] = [dates.min() - pd.Timedelta(days=15), dates.max() + pd.Timedelta(days=15)]
    charts = st.columns(2)
    figure = go.Figure()
    for side, colour in (("left", "#2e86c1"), ("right", "#e67e22")):
        rows = history[history["name"] == f"measurements.{measure}.{side}"]
        figure.add_trace(go.Scatter(x=rows["visit_date"], y=rows["value"], mode="lines+markers",
                                    name=f"Subject's {side}", line={"color": colour},
                                    customdata=rows["expression"],
                                    hovertemplate="%{x}: %{y:.1f} (%{customdata})<extra></extra>"))
    unit = "deg" if measure == "smile_angle" else "mm"
    figure.update_layout(title=f"{MEASUREMENT_LABELS[measure]} ({unit})", height=320, xaxis=date_axis,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.2})
    charts[0].plotly_chart(figure, width="stretch", key="records_measure_chart")
    figure = go.Figure()
    # An eye scored from the landmarks (visits before the eye was read from the pixels, or
    # too soft a photo) is not on the same scale: its own trace, not one line through both.
    eye_measure = {visit.visit_id: region_measure(visit.assessment, "eye") for visit in visits}
    from_landmarks = history["visit_id"].map(eye_measure).isin(REGION_MEASURES["eye"])
    for region, label in REGION_LABELS.items():
        rows = history[history["name"] == f"region_asymmetry.{region}.score"]
        if region == "eye":
            earlier = rows[from_landmarks.loc[rows.index]]
            if not earlier.empty:
                figure.add_trace(go.Scatter(x=earlier["visit_date"], y=earlier["value"],
                                            mode="markers", marker={"symbol": "x", "color": "#888"},
                                            name=f"{label} (from the landmarks)"))
            rows = rows[~from_landmarks.loc[rows.index]]
        figure.add_trace(go.Scatter(x=rows["visit_date"], y=rows["value"], mode="lines+markers", name=label))
    figure.add_hline(y=1.0, line_dash="dash", line_color="#333", annotation_text="edge of normal")
    figure.update_layout(title="Region asymmetry score (1.0 = edge of normal)", height=320, xaxis=date_axis,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.2})
    charts[1].plotly_chart(figure, width="stretch", key="records_region_chart")
    if from_landmarks.any():
        charts[1].caption("Eye scores marked x were read from the landmarks (visits saved "
                          "before the eye was read from the pixels, or photos too soft for "
                          "it): they follow about a fifth of a lid's movement, so they are "
                          "not comparable with the others.")

st.subheader("One visit")
labels = {visit.visit_id: f"Visit {visit.visit_id}: {visit.visit_date} ({visit.expression})" for visit in visits}
chosen = st.selectbox("Visit", list(labels), format_func=labels.get, index=len(labels) - 1 if labels else None,
                      key="records_visit")
if chosen is not None:
    visit = attempt("reading the visit", store.get_visit, chosen)
    if visit is not None:
        audit_view(patient, visit.visit_id)
        columns = st.columns([2, 3], gap="large")
        with columns[0]:
            if visit.set_photos:
                # A photo set: each stored photo with its movement, as data URLs like the single photo.
                for _, movement, jpeg in visit.set_photos:
                    st.image("data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"),
                             caption=MOVEMENT_TITLES.get(movement, movement), width=160)
            elif visit.photo_jpeg:
                # A data URL: the decrypted photo goes only to this signed-in session.
                st.image("data:image/jpeg;base64," + base64.b64encode(visit.photo_jpeg).decode("ascii"),
                         width="stretch")
            else:
                st.caption("No photo stored with this visit.")
        with columns[1]:
            st.markdown(f"**{plain(visit.assessment.get('headline', ''))}**")
            st.caption(f"Saved {visit.saved_at:%Y-%m-%d %H:%M} UTC. Note:")
            st.text(visit.note or "-")  # plain text, never Markdown
            palsy_model = (visit.provenance or {}).get("palsy_model")
            if palsy_model and palsy_model.get("simulated"):
                widgets.simulated_data_warning(palsy_model.get("name", "palsy model"))
            palsy = visit.assessment.get("palsy")
            if palsy:
                st.metric("Probability of facial palsy (at the time)", f"{palsy['probability']:.0%}")
        if visit.expression == PHOTO_SET:
            for scale in ("efACE", "sunnybrook"):
                estimate = visit.assessment.get(scale) or {}
                if estimate.get("total") is not None:
                    st.caption(f"{plain(estimate.get('scale', scale))}: {estimate['total']:g} (estimate from "
                               "photographs; see the Visit page for its items)")
            photos = [p for p in visit.assessment.get("photos") or [] if p.get("measurements")]
            for photo in photos:
                corrected = " (landmarks corrected by the clinician)" if photo.get("landmarks_corrected") else ""
                st.markdown(f"**{MOVEMENT_TITLES.get(photo.get('movement'), plain(photo.get('movement')))}**"
                            f"{corrected}")
                widgets.measurement_table(photo)
        else:
            widgets.measurement_table(visit.assessment)
        with st.expander("Delete this visit"):
            confirm = st.checkbox(f"Yes, delete visit {visit.visit_id} of {plain(patient)} for good",
                                  key="records_confirm_visit")
            if st.button("Delete visit", disabled=not confirm, key="records_delete_visit", icon=":material/delete:"):
                if attempt("deleting the visit",
                           lambda: store.delete_visit(visit.visit_id, actor=auth.actor()) or True):
                    st.session_state["records_flash"] = f"Visit {visit.visit_id} of {patient} deleted."
                    st.session_state.pop("records_confirm_visit", None)
                    st.session_state.pop("records_visit", None)
                    st.rerun()

st.subheader("Export and delete")
exports = st.columns([1, 1, 1])
# Built (and logged as an export) only when the button is pressed.
who = auth.actor()
exports[0].download_button(f"CSV of {plain(patient)}", lambda: store.export_csv(patient, actor=who),
                           file_name=f"visits-{patient}.csv", mime="text/csv",
                           icon=":material/download:", key="records_csv_patient", on_click="ignore")
exports[1].download_button(f"Excel of {plain(patient)}",
                           lambda: _xlsx(patient, who), file_name=f"visits-{patient}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           icon=":material/table:", key="records_xlsx_patient", on_click="ignore")
if user.is_admin:
    exports[2].download_button("CSV of all patients", lambda: store.export_csv(actor=who),
                               file_name="visits-all.csv", mime="text/csv",
                               icon=":material/download:", key="records_csv_all", on_click="ignore")
else:
    exports[2].caption("The export of all patients is for administrators.")
with st.expander(f"Delete patient {plain(patient)} and all their visits"):
    typed = st.text_input(f"Type {plain(patient)} to confirm", key="records_confirm_patient")
    if st.button("Delete patient", disabled=typed.strip() != patient, key="records_delete_patient",
                 icon=":material/delete_forever:"):
        deleted = attempt("deleting the patient", store.delete_patient, patient, actor=auth.actor())
        if deleted is not None:
            st.session_state["records_flash"] = f"Patient {patient} and {deleted} visit(s) deleted."
            st.session_state.pop("records_confirm_patient", None)
            st.session_state.pop("records_patient", None)
            st.rerun()
