"""Visit: the standard photo set of a facial-nerve clinic analysed as one unit.

Upload several photos at once (each photo's movement detected and confirmable) or take them
one by one with a prompt for each movement; a checklist shows what is missing. The page
shows the movement from rest per side with the affected/healthy ratio, the eFACE and
Sunnybrook estimates (from photographs; items photographs cannot measure say "needs
clinician"), lets the clinician correct the measurement landmarks of any photo, and saves
the whole set as one visit of the patient's record.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from palsy_core.export_xlsx import visits_to_xlsx
from palsy_core.imageio import IMAGE_SUFFIXES
from palsy_core.records import PHOTO_SET
from palsy_core.safe_text import check_patient_code, is_patient_code
from palsy_core.visit import MOVEMENT_PROMPTS, MOVEMENT_TITLES, MOVEMENTS, VERDICT_MOVEMENTS, detect_movement
from app_pages.ui import auth, services, visit_state, widgets
from app_pages.ui.errors import attempt
from app_pages.ui.landmark_editor import landmark_editor
from app_pages.ui.text import plain

PHOTO_TYPES = [suffix.lstrip(".") for suffix in IMAGE_SUFFIXES]
MODES = ("Upload several photos", "Take them one by one")
ESTIMATE_WARNING = ("**Estimates from photographs, not a clinician's grading.** Each item follows one "
                    "documented mapping from measurements (sources below); items a photograph cannot "
                    "show (e.g. tone, synkinesis felt in motion) say *needs clinician* and are left out "
                    "of the totals.")

st.title("Visit: the photo set")
st.caption("Rest, brow raise, gentle and tight eye closure, closed-mouth and full smile, \"eee\" and "
           "pucker: the movements a facial-nerve clinic grades. Sides are the subject's.")

top = st.columns([3, 1], vertical_alignment="center")
mode = top[0].radio("How", MODES, horizontal=True, key="visit_mode", label_visibility="collapsed")
if top[1].button("Start a new visit", key="visit_new", icon=":material/restart_alt:"):
    visit_state.clear()
    # A fresh uploader: the last visit's files are not added again.
    st.session_state["visit_round"] = st.session_state.get("visit_round", 0) + 1
    st.session_state.pop("visit_saved", None)
    st.rerun()
if mode == MODES[0]:
    uploads = st.file_uploader(
        "Photos of the visit (one per movement; several at once)", type=PHOTO_TYPES,
        accept_multiple_files=True, key=f"visit_uploads_{st.session_state.get('visit_round', 0)}",
        help="The movement each photo shows is detected; confirm or change it below. The photos stay "
             "on this server and are stored only if you save the visit with 'store the photos' ticked.")
    for upload in uploads or []:
        attempt(f"analysing {upload.name}", visit_state.add_photo, upload.getvalue(), upload.name,
                from_upload=True)
else:
    done = {p.movement for p in visit_state.photos()}
    todo = [m for m in MOVEMENTS if m not in done] or list(MOVEMENTS)
    wanted = st.selectbox("Movement to take", todo, format_func=MOVEMENT_TITLES.get, key="visit_capture_movement")
    st.info(f"Ask the patient: {MOVEMENT_PROMPTS[wanted]}", icon=":material/record_voice_over:")
    shot = st.camera_input(f"Photo: {MOVEMENT_TITLES[wanted]}", key=f"visit_camera_{wanted}")
    if shot is not None:
        attempt("analysing the photo", visit_state.add_photo, shot.getvalue(),
                f"camera: {MOVEMENT_TITLES[wanted]}", wanted)

photos = visit_state.photos()
present = {p.movement for p in photos}
st.subheader("Checklist")
# One wrapping line in the set's order (columns would stack out of order on a phone).
st.markdown(" &nbsp; ".join(
    f":green[:material/check_circle: {MOVEMENT_TITLES[m]}]" if m in present
    else f":orange[:material/radio_button_unchecked: {MOVEMENT_TITLES[m]} (missing)]" for m in MOVEMENTS))

if not photos:
    st.info("Add the photos of the visit: upload them together, or take them one by one.", icon=":material/info:")
    widgets.disclaimer()
    st.stop()

st.subheader("Photos and their movements")
for index, photo in enumerate(photos):
    row = st.columns([1, 2, 1], vertical_alignment="center")
    row[0].image(photo.rgb, width="stretch")
    detected = detect_movement(photo.detected.blendshapes)
    choice = row[1].selectbox(
        f"Photo {index + 1}: {plain(photo.name)}", MOVEMENTS, index=MOVEMENTS.index(photo.movement),
        format_func=MOVEMENT_TITLES.get, key=f"visit_movement_{photo.key[:16]}")
    row[1].caption(f"Detected: {MOVEMENT_TITLES[detected.movement]} (confidence {detected.confidence:.0%})"
                   f"{' · landmarks corrected' if photo.corrected else ''}")
    if choice != photo.movement:
        photo.movement = choice
    if row[2].button("Remove", key=f"visit_remove_{photo.key[:16]}", icon=":material/delete:"):
        visit_state.remove_photo(photo.key)
        st.rerun()

analysis = attempt("analysing the set", visit_state.visit)
if analysis is None:
    st.stop()

side = analysis.affected_side
if side:
    st.warning(f"**The subject's {side} side moves less** ({plain(analysis.affected_side_basis)}).",
               icon=":material/warning:")
else:
    st.success(f"**No side clearly weaker over the set** ({plain(analysis.affected_side_basis)}).",
               icon=":material/check:")
for note in analysis.notes:
    st.caption(plain(note))

st.subheader("Movement from rest")
if analysis.movements:
    st.dataframe(pd.DataFrame([{
        "Movement": MOVEMENT_TITLES[m.movement],
        "Measure": m.measure.replace("_", " "),
        "Subject's R (mm)": round(m.right, 1),
        "Subject's L (mm)": round(m.left, 1),
        "Moves less": m.weaker_side or "-",
        "Affected / healthy (%)": None if m.ratio_percent is None else round(m.ratio_percent),
        "Eye closed R / L (%)": (f"{m.completeness_percent.get('right')} / {m.completeness_percent.get('left')}"
                                 if m.completeness_percent else ""),
    } for m in analysis.movements.values()]), hide_index=True, width="stretch")
else:
    st.info("Movements need a rest photo and at least one movement photo.", icon=":material/info:")


def scale_table(scale: dict) -> pd.DataFrame:
    rows = []
    for key, detail in (scale.get("item_details") or {}).items():
        status = detail.get("status")
        value = detail.get("score")
        rows.append({
            "Item": key.replace("_", " ").replace(".", ": "),
            "Estimate": ("needs clinician" if status == "needs_clinician" else
                         "photo missing" if status == "missing_photo" else
                         "-" if value is None else f"{value:g}"),
            "From": plain(detail.get("definition") or detail.get("inputs") or ""),
        })
    return pd.DataFrame(rows)


st.subheader("Grading-scale estimates")
st.warning(ESTIMATE_WARNING, icon=":material/info:")
scales = st.columns(2, gap="large")
for column, scale, parts in ((scales[0], analysis.efACE, ("static", "dynamic", "synkinesis")),
                             (scales[1], analysis.sunnybrook, ("resting", "voluntary", "synkinesis"))):
    with column:
        st.markdown(f"**{plain(scale.get('scale', ''))}** (estimate)")
        total = scale.get("total")
        st.metric(f"Total, estimated ({plain(scale.get('range', ''))})", "-" if total is None else f"{total:g}")
        st.caption(" · ".join(f"{p}: {'-' if scale.get(p) is None else f'{scale.get(p):g}'}" for p in parts))
        st.dataframe(scale_table(scale), hide_index=True, width="stretch")
        needs = scale.get("needs_clinician") or []
        if needs:
            st.caption(f"Needs clinician: {plain(', '.join(needs))}.")

st.subheader("Correct landmarks")
st.caption("Only the measurement landmarks are shown. Drag a misplaced one, or drag an iris's green rim "
           "to re-fit it; every measure, movement and estimate is recomputed at once.")
labels = {p.key: f"Photo {i + 1}: {MOVEMENT_TITLES[p.movement]}" for i, p in enumerate(photos)}
chosen_key = st.selectbox("Photo to correct", list(labels), format_func=labels.get, key="visit_correct_photo")
chosen = next(p for p in photos if p.key == chosen_key)
moves = landmark_editor(chosen.rgb, chosen.detected.landmarks, key=f"visit_editor_{chosen.key[:16]}",
                        token=chosen.key, moves=chosen.moves)
if moves is not None and moves != chosen.moves:
    chosen.moves = moves
    st.rerun()
with st.expander("Move a landmark by numbers (keyboard)"):
    from palsy_core.correction import HANDLES, handle_positions

    current = {h["key"]: h for h in handle_positions(chosen.landmarks)}
    handle = st.selectbox("Landmark", [h.key for h in HANDLES], key="visit_numbers_handle",
                          format_func=lambda k: next(h.label for h in HANDLES if h.key == k))
    spot = current[handle]
    cells = st.columns(3)
    new_x = cells[0].number_input("x (pixels)", value=float(spot["x"]), step=1.0, key=f"visit_numbers_x_{handle}")
    new_y = cells[1].number_input("y (pixels)", value=float(spot["y"]), step=1.0, key=f"visit_numbers_y_{handle}")
    new_r = (cells[2].number_input("iris radius (pixels)", value=float(spot["r"]), min_value=1.0, step=0.5,
                                   key=f"visit_numbers_r_{handle}") if "r" in spot else None)
    if st.button("Apply", key="visit_numbers_apply"):
        chosen.moves = dict(chosen.moves, **{handle: {"x": new_x, "y": new_y,
                                                      **({"r": new_r} if new_r is not None else {})}})
        st.rerun()
if chosen.corrected:
    st.caption(f"Corrected: {len(chosen.moves)} landmark(s) moved on this photo.")
    if st.button("Back to the detected landmarks", key="visit_undo_correction", icon=":material/undo:"):
        chosen.moves = {}
        st.session_state.pop(f"visit_editor_{chosen.key[:16]}", None)
        st.rerun()
st.markdown("**Measurements of this photo**")
chosen_result = chosen.result()
st.caption(plain(chosen_result.headline()) if chosen.movement in VERDICT_MOVEMENTS else
           "This movement has no normal limits of its own: read its measures against the rest photo.")
widgets.measurement_table(chosen_result.to_dict())

st.subheader("Save and export")
patient = (st.session_state.get("patient_code") or "").strip()
if patient and not is_patient_code(patient):
    attempt("checking the patient code", check_patient_code, patient)
    patient = ""
with st.form("visit_save", border=True):
    fields = st.columns([1, 1])
    fields[0].text_input("Patient code", value=patient, disabled=True,
                         help="Set it in the sidebar (a pseudonymous code, never a name).",
                         key=f"visit_patient_shown_{patient}")
    visit_date = fields[1].date_input("Visit date", value=dt.date.today(), key="visit_date", format="YYYY-MM-DD")
    note = st.text_input("Note (optional)", key="visit_note", max_chars=500)
    store_photos = st.checkbox("Also store the photos", value=False, key="visit_store_photos",
                               help="Off by default. Stored encrypted, without metadata, only with the "
                                    "patient's consent.")
    save = st.form_submit_button("Save visit", type="primary", icon=":material/save:")
record = visit_state.visit_dict(analysis)
current_key = visit_state.save_key(visit_date.isoformat())
if save:
    saved = attempt(
        "saving the visit",
        lambda: services.record_store().save_visit(
            patient, record, visit_date=visit_date, expression=PHOTO_SET, note=note,
            set_photos=[(p.movement, p.rgb) for p in photos] if store_photos else None,
            provenance=services.provenance(analysis.photos[0].result),
            save_key=current_key, actor=auth.actor()))
    if saved is not None:
        st.session_state["visit_saved"] = (int(saved), getattr(saved, "created", True), patient, current_key)
last = st.session_state.get("visit_saved")
# Said only while the set on screen is the one saved (a later correction is a new visit).
if last and last[2] == patient and last[3] == current_key:
    visit_id, created, code, _ = last
    if created:
        st.success(f"Saved as visit {visit_id} of patient {plain(code)} ({len(photos)} photo(s)"
                   f"{', photos stored' if store_photos else ', photos not stored'}).", icon=":material/check:")
    else:
        st.info(f"Already saved as visit {visit_id} of patient {plain(code)}: nothing new was stored.",
                icon=":material/check:")
    st.page_link("app_pages/records.py", label="Open this patient's record", icon=":material/folder_shared:")

# Built when the button is pressed, not on every rerun.
def build_xlsx(record=record, patient=patient, visit_date=visit_date) -> bytes:
    return visits_to_xlsx([dict(record, patient=patient or None, visit_date=visit_date)])


st.download_button("Excel (.xlsx) of this visit", build_xlsx,
                   file_name=f"visit-{patient + '-' if patient else ''}{visit_date.isoformat()}.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                   icon=":material/table:", key="visit_xlsx", on_click="ignore")
widgets.disclaimer()
