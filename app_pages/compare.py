"""Compare visits: two saved visits of a patient side by side (default: the first and the
latest), every measure and scale item with its change, one statement per region judged
against the change repeat photos of one unchanged face show, and the comparison as PDF
and Excel. Viewing and exporting are written to the audit trail."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from palsy_core.comparison import compare_visits
from palsy_core.face.measurements import FLOW_EYE_MEASURE, FLOW_EYE_WORDS
from palsy_core.export_xlsx import visits_to_xlsx
from palsy_core.records import PHOTO_SET
from palsy_core.report import comparison_pdf
from palsy_core.visit import MOVEMENT_TITLES
from app_pages.ui import auth, services, visit_state, widgets
from app_pages.ui.errors import attempt
from app_pages.ui.text import plain

VERDICT_COLOURS = {"improved": "background-color: #d5f5e3", "worse": "background-color: #fadbd8"}

st.title("Compare visits")
store = attempt("opening the patient records", services.record_store)
if store is None:
    st.stop()
patients = attempt("listing the patients", store.list_patients) or []
patients = [p for p in patients if p.visits >= 2]
if not patients:
    st.info("No patient has two saved visits yet. Save visits from *Visit: photo set* or *Assess a photo*.",
            icon=":material/info:")
    st.stop()
codes = [p.code for p in patients]
wanted = (st.session_state.get("patient_code") or "").strip()
patient = st.selectbox("Patient", codes, index=codes.index(wanted) if wanted in codes else 0, key="compare_patient")
visits = attempt("reading the visits", store.list_visits, patient) or []
labels = {v.visit_id: f"Visit {v.visit_id}: {v.visit_date} ({v.expression})" for v in visits}
ids = list(labels)
picks = st.columns(2)
before_id = picks[0].selectbox("Before", ids, index=0, format_func=labels.get, key="compare_before")
after_id = picks[1].selectbox("After", ids, index=len(ids) - 1, format_func=labels.get, key="compare_after")
if before_id == after_id:
    st.info("Choose two different visits.", icon=":material/info:")
    st.stop()
before = attempt("reading the visit", store.get_visit, before_id)
after = attempt("reading the visit", store.get_visit, after_id)
if before is None or after is None:
    st.stop()
seen = st.session_state.setdefault("compare_viewed", set())
if (before_id, after_id) not in seen:
    seen.add((before_id, after_id))
    attempt("writing the audit trail", store.log, auth.actor(), "view", patient, after_id,
            f"visits {before_id} and {after_id} compared")

comparison = attempt("comparing the visits", compare_visits, before, after)
if comparison is None:
    st.stop()


def representative(visit, movement):
    """The stored photo of the comparison's movement (JPEG) and its corrected landmarks, if any."""
    if visit.expression == PHOTO_SET:
        photos = visit.assessment.get("photos") or []
        for position, stored_movement, jpeg in visit.set_photos:
            if stored_movement == movement or movement is None:
                data = photos[position] if position < len(photos) else {}
                return jpeg, data.get("landmarks") if data.get("landmarks_corrected") else None
        return None, None
    return visit.photo_jpeg, None


st.subheader("Change by region")
if comparison.basis_movement:
    st.caption(f"From the {MOVEMENT_TITLES.get(comparison.basis_movement, comparison.basis_movement).lower()} "
               "photos of both visits; sides are the subject's.")
for region, statement in comparison.statements.items():
    icon = (":material/trending_up:" if ": improved" in statement else
            ":material/trending_down:" if ": worse" in statement else ":material/trending_flat:")
    st.markdown(f"{icon} **{region.replace('_', ' ').capitalize()}**: {plain(statement)}")
for note in comparison.notes:
    st.caption(plain(note))

overlays = []
columns = st.columns(2, gap="large")
for column, visit, label in ((columns[0], before, "Before"), (columns[1], after, "After")):
    with column:
        st.markdown(f"**{label}: visit {visit.visit_id}, {visit.visit_date}**")
        jpeg, landmarks = representative(visit, comparison.basis_movement)
        overlay = attempt("drawing the photo", visit_state.stored_overlay, jpeg, landmarks) if jpeg else None
        overlays.append(overlay)
        if overlay is not None:
            st.image(overlay, width="stretch", caption="< subject's right | subject's left >")
        else:
            st.caption("No photo stored with this visit.")

st.subheader("Every measure and scale item")
rows = pd.DataFrame([{
    "Section": r["section"],
    "Movement": MOVEMENT_TITLES.get(r["movement"], r["movement"] or ""),
    "Item": (FLOW_EYE_WORDS if r["name"] == FLOW_EYE_MEASURE else r["name"].replace("_", " "))
            + (f" ({r['unit']})" if r["unit"] else ""),
    "Before": r["before"], "After": r["after"], "Change": r["change"],
    "Repeat-photo band": r["band"], "Verdict": r["verdict"],
} for r in comparison.rows])
if not rows.empty:
    number = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(rows.style.map(lambda v: VERDICT_COLOURS.get(v, ""), subset=["Verdict"]),
                 hide_index=True, width="stretch",
                 column_config={name: number for name in ("Before", "After", "Change", "Repeat-photo band")})
st.caption("Measures are left-right differences; eFACE and Sunnybrook rows are estimates from photographs "
           "(empty: needs clinician or photo missing). The band is the change repeat photos of one unchanged "
           "face show (95th percentile, measured).")

who = auth.actor()
meta = ({"label": f"Visit {before.visit_id} ({before.expression})", "visit_date": str(before.visit_date)},
        {"label": f"Visit {after.visit_id} ({after.expression})", "visit_date": str(after.visit_date)})


def build_pdf() -> bytes:
    store.log(who, "export", patient, after_id, f"PDF comparison of visits {before_id} and {after_id}")
    return comparison_pdf(comparison, before=meta[0], after=meta[1], patient=patient,
                          overlays=(overlays[0], overlays[1]))


def build_xlsx() -> bytes:
    store.log(who, "export", patient, after_id, f"Excel of visits {before_id} and {after_id}")
    return visits_to_xlsx([before, after])


exports = st.columns([1, 1, 2])
exports[0].download_button("PDF of the comparison", build_pdf, file_name=f"comparison-{patient}.pdf",
                           mime="application/pdf", icon=":material/picture_as_pdf:", key="compare_pdf",
                           on_click="ignore")
exports[1].download_button("Excel (.xlsx)", build_xlsx, file_name=f"visits-{patient}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           icon=":material/table:", key="compare_xlsx", on_click="ignore")
widgets.disclaimer()
