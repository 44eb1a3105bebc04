"""Video: region asymmetry over a short clip, sampled at 6 frames per second."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from palsy_core.records import PHOTO_SET
from palsy_core.report import REGION_LABELS
from palsy_core.visit import MOVEMENT_TITLES, MOVEMENTS, visit_from_results
from palsy_core.video import MAX_DURATION_S, SAMPLE_FPS, VIDEO_SUFFIXES
from app_pages.ui import auth, services, widgets
from app_pages.ui.errors import attempt
from app_pages.ui.text import plain

_COLOURS = {"brow": "#8e44ad", "eye": "#2e86c1", "mouth": "#e67e22"}

st.title("Video")
st.caption(
    f"Upload a short clip (at most {MAX_DURATION_S:.0f} s) of the patient facing the camera: at rest, raising "
    f"the brows, closing the eyes, smiling. {SAMPLE_FPS:g} frames per second are analysed (the rate of the "
    "YouTube Facial Palsy data set); frames without a face are counted and skipped."
)

upload = st.file_uploader("Video clip", type=[suffix.lstrip(".") for suffix in VIDEO_SUFFIXES], key="video_upload")
if upload is None:
    st.info("Upload an MP4, MOV, AVI or WebM clip.", icon=":material/info:")
    widgets.disclaimer()
    st.stop()

data = upload.getvalue()
key = hashlib.sha1(data).hexdigest()
stored = st.session_state.get("video_result")
analysis = stored[1] if stored and stored[0] == key else None
if analysis is None:
    bar = st.progress(0.0, text="Reading the video...")
    analysis = attempt("analysing the video", services.analyze_video, data, upload.name,
                       lambda fraction, message: bar.progress(fraction, text=message))
    bar.empty()
    if analysis is None:
        st.session_state.pop("video_result", None)
        st.stop()
    st.session_state["video_result"] = (key, analysis)

counts = st.columns(4)
counts[0].metric("Clip length", f"{analysis.duration_s:.1f} s")
counts[1].metric("Frames sampled", analysis.frames_sampled)
counts[2].metric("Frames analysed", analysis.frames_analyzed)
counts[3].metric("Frames without a face", analysis.frames_without_face,
                 help="Skipped: no face found (turned away, covered, out of frame or blurred).")
if analysis.frames_without_face > analysis.frames_sampled / 3:
    st.warning(f"No face was found in {analysis.frames_without_face} of {analysis.frames_sampled} sampled "
               "frames: keep the whole face in view, facing the camera, in good light.",
               icon=":material/videocam_off:")

st.subheader("Median over the clip")
beyond = [REGION_LABELS.get(r, r).lower() for r in analysis.regions if analysis.median_asymmetry[r] > 1.0]
# The side most frames call weaker (the subject's), named in the headline.
sides = [side for side in analysis.affected_sides if side]
side = max(set(sides), key=sides.count) if sides else None
side_words = (f"The subject's {side} side looks weaker in {sides.count(side)} of {analysis.frames_analyzed} "
              "frames. " if side else "")
if beyond:
    st.warning(f"**Over the clip, the {' and '.join(beyond)} asymmetry is beyond the normal limit.** "
               f"{side_words}(Median of {analysis.frames_analyzed} frames.)", icon=":material/warning:")
else:
    st.success(f"**Over the clip, every region stays within normal asymmetry** (median of "
               f"{analysis.frames_analyzed} frames).", icon=":material/check_circle:")
medians = st.columns(len(analysis.regions))
for column, region in zip(medians, analysis.regions):
    value = analysis.median_asymmetry[region]
    column.metric(f"{REGION_LABELS.get(region, region)} asymmetry", f"{value:.2f}",
                  help="Median of the per-frame scores; 1.0 is the edge of normal asymmetry.")
    column.caption("within normal" if value <= 1.0 else "beyond the normal limit")

st.subheader("Movements in the clip")
segments = analysis.segments()
if segments:
    st.dataframe(pd.DataFrame([{
        "Movement": MOVEMENT_TITLES[s["movement"]], "From (s)": round(s["start_s"], 1),
        "To (s)": round(s["end_s"], 1), "Frames": s["frames"]} for s in segments]), hide_index=True, width="stretch")
    shown = {s["movement"] for s in segments}
    missing = [MOVEMENT_TITLES[m] for m in MOVEMENTS if m not in shown]
    st.caption(f"Read from each frame's expression scores. Not in the clip: {', '.join(missing) or 'none'}.")
else:
    st.caption("No movement held for two frames or more.")

st.subheader("Asymmetry over time")
# Frames without a face break the lines (NaN) instead of being bridged over.
times = np.concatenate([analysis.times_s, analysis.skipped_times_s])
order = np.argsort(times)
scores = np.vstack([analysis.asymmetry, np.full((len(analysis.skipped_times_s), len(analysis.regions)), np.nan)])
figure = go.Figure()
for index, region in enumerate(analysis.regions):
    figure.add_trace(go.Scatter(
        x=times[order], y=scores[order, index], mode="lines+markers", connectgaps=False,
        name=REGION_LABELS.get(region, region), line={"color": _COLOURS.get(region)},
        hovertemplate="%{x:.2f} s: %{y:.2f}<extra>" + REGION_LABELS.get(region, region) + "</extra>",
    ))
if len(analysis.skipped_times_s):
    figure.add_trace(go.Scatter(
        x=analysis.skipped_times_s, y=np.zeros(len(analysis.skipped_times_s)), mode="markers",
        name="no face (skipped)", marker={"symbol": "x", "color": "#999", "size": 8},
        hovertemplate="%{x:.2f} s: no face<extra></extra>",
    ))
figure.add_hline(y=1.0, line_dash="dash", line_color="#333", annotation_text="edge of normal")
figure.add_vline(x=analysis.worst_time_s, line_dash="dot", line_color="#c0392b", annotation_text="worst frame")
figure.update_layout(height=340, xaxis_title="time (s)", yaxis_title="asymmetry score",
                     margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": 1.1})
st.plotly_chart(figure, width="stretch", key="video_series")

st.subheader(f"Worst frame, at {analysis.worst_time_s:.2f} s")
worst = analysis.worst_result
st.caption("The single frame with the largest region score. One frame can catch a blink or a passing "
           "expression: read it together with the median above.")
widgets.headline(worst, prefix="In this frame: ")
columns = st.columns([5, 6], gap="large")
with columns[0]:
    widgets.overlay(analysis.worst_frame, worst, contours=True, points=False, axes=True)
with columns[1]:
    widgets.region_gauges(worst)
    widgets.pose_caption(worst)
    widgets.photo_warnings(worst)
st.download_button(
    "Per-frame scores (CSV)",
    analysis.series_csv(),
    file_name=f"{upload.name.rsplit('.', 1)[0]}-asymmetry.csv", mime="text/csv", on_click="ignore",
    icon=":material/table:", key="video_csv",
)

# The clip saved as a photo set: the clearest frame of each movement it shows.
held = [s["movement"] for s in segments]
frames = [(m, *analysis.movement_frames[m]) for m in MOVEMENTS if m in held and m in analysis.movement_frames]
if frames:
    st.subheader("Save to the patient's record")
    patient = (st.session_state.get("patient_code") or "").strip()
    with st.form("video_save", border=True):
        st.markdown(f"Save the clearest frame of each movement ({len(frames)}: "
                    f"{', '.join(MOVEMENT_TITLES[m].lower() for m, *_ in frames)}) as a visit of patient "
                    f"**{plain(patient) or '(enter a code in the sidebar)'}**.")
        visit_date = st.date_input("Visit date", value=dt.date.today(), key="video_date", format="YYYY-MM-DD")
        store_frames = st.checkbox("Also store the frames", value=False, key="video_store_frames",
                                   help="Off by default; only with the patient's consent.")
        save = st.form_submit_button("Save visit", type="primary", icon=":material/save:")
    if save:
        def save_clip():
            visit = visit_from_results([r for *_, r in frames], [m for m, *_ in frames])
            record = visit.to_dict(include_landmarks=False)
            record["headline"] = f"Video: {len(frames)} movement(s), " + (
                f"the subject's {visit.affected_side} side moves less." if visit.affected_side
                else "no side clearly weaker.")
            return services.record_store().save_visit(
                patient, record, visit_date=visit_date, expression=PHOTO_SET,
                set_photos=[(m, frame) for m, _, frame, _ in frames] if store_frames else None,
                provenance=services.provenance(frames[0][3]),
                save_key=f"video:{key}:{visit_date.isoformat()}", actor=auth.actor())

        saved = attempt("saving the visit", save_clip)
        if saved is not None:
            verb = "Saved as" if getattr(saved, "created", True) else "Already saved as"
            st.success(f"{verb} visit {int(saved)} of patient {plain(patient)}.", icon=":material/check:")
            st.page_link("app_pages/records.py", label="Open this patient's record", icon=":material/folder_shared:")
widgets.disclaimer()
