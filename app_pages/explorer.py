"""Asymmetry explorer: the 29 handcrafted features by region, as deviations from a
perfectly symmetric face, and the left/right blendshape pairs side by side."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from palsy_core.comparison import REPEAT_BANDS_FILE
from palsy_core.face.features import FEATURE_NAMES, FEATURE_REGIONS, SHAPE_FEATURES, deviation_from_symmetry
from app_pages.ui import services, widgets
from app_pages.ui.errors import attempt

BANDS_FILE = REPEAT_BANDS_FILE.with_name("feature_bands.json")
# What each feature compares, for the hover text (after the Parra-Dominguez definitions).
FEATURE_HELP = {
    "brow_outer_angle": "Angle of the line joining the outer ends of the two brows.",
    "brow_middle_angle": "Angle of the line joining the middle points of the two brows.",
    "brow_inner_angle": "Angle of the line joining the inner ends of the two brows.",
    "brow_height_ratio": "Smaller / larger mean brow height (1 = same height).",
    "brow_outer_slope": "Vertical over horizontal offset of the outer brow ends.",
    "brow_middle_slope": "Vertical over horizontal offset of the middle brow points.",
    "brow_inner_slope": "Vertical over horizontal offset of the inner brow ends.",
    "eye_corner_angle": "Angle of the line joining the two outer eye corners.",
    "eye_width_ratio": "Smaller / larger eye width.",
    "eye_to_face_side_ratio": "Smaller / larger distance from outer eye corner to the side of the face.",
    "eye_to_nose_ala_ratio": "Smaller / larger distance from outer eye corner to the nose wing.",
    "eye_opening_ratio": "Smaller / larger mean eye opening.",
    "eye_outer_opening_ratio": "Smaller / larger opening at the outer third of the eyes.",
    "eye_inner_opening_ratio": "Smaller / larger opening at the inner third of the eyes.",
    "mouth_corner_angle": "Angle of the line joining the two mouth corners.",
    "lip_to_eye_ratio": "Smaller / larger distance from the lower-lip centre to each outer eye corner.",
    "lip_outer_height_ratio": "Smaller / larger lip height near the corners.",
    "lip_inner_height_ratio": "Smaller / larger lip height half-way to the corners.",
    "lip_corner_to_bottom": "Longer distance from a mouth corner to the lower-lip centre, over face width.",
    "lip_outer_height": "Larger lip height near the corners, over mouth width.",
    "lip_inner_height": "Larger lip height half-way to the corners, over mouth width.",
    "lip_half_perimeter": "Larger half-mouth perimeter, over mouth width.",
    "nose_ala_angle": "Angle of the line joining the two nose wings.",
    "nose_lip_angle": "Angle of the line from the nose tip to the lower-lip centre (90 = vertical).",
    "nose_to_lip_ratio": "Smaller / larger distance from each nose wing to the lower-lip centre.",
    "brow_middle_to_lip": "Longer distance from a brow middle to the lower-lip centre, over face width.",
    "brow_inner_to_lip": "Longer distance from an inner brow end to the lower-lip centre, over face width.",
    "chin_to_lip": "Chin to lower-lip centre, over face width.",
    "philtrum_length": "Subnasale to upper-lip centre, over face width.",
}
_ANGLE_NAMES = {name for name in FEATURE_NAMES if name.endswith("_angle")}
REGIONS = ("brow", "eye", "mouth", "nose")
# mouthLeft/mouthRight and jawLeft/jawRight say where the whole mouth or jaw moves, not how
# each side moves; the eyeLook* pairs are gaze. Neither compares the two sides' muscles.
_NOT_SIDES = {"mouth", "jaw"}

st.title("Asymmetry explorer")
st.caption(
    "The 29 handcrafted asymmetry features of Parra-Dominguez et al. (the handcrafted modality of the "
    "fusion model), shown as how far each is from a perfectly symmetric face: 0 is symmetric. "
    "Hover over a bar for what the feature compares."
)

assessment = services.current_assessment()
if assessment is None:
    st.info("No photo assessed in this session yet. Assess one on the *Assess a photo* page, or use the "
            "example photo here.", icon=":material/info:")
    if st.button("Use the example photo", key="explorer_example"):
        assessment = attempt("analysing the example photo", services.assess, services.example_photo(),
                             "example photo", None)
    if assessment is None:
        st.stop()

result = assessment.result
widgets.headline(result, photo=assessment.name)

features = np.asarray(result.features, dtype=float)
deviation = deviation_from_symmetry(features)
# Healthy spread measured on the London Set (trainers/feature_bands.py): the smile's for a
# smiling face, the rest's otherwise.
BANDS_DOC = json.loads(BANDS_FILE.read_text(encoding="utf-8"))
band_expression = "smile" if result.expression == "smile" else "rest"
bands = BANDS_DOC["bands"][band_expression]
st.caption(f"Grey diamonds and the *Healthy up to* column: the 95th percentile of each feature's distance from "
           f"symmetry in {BANDS_DOC['people']} healthy people ({band_expression} photos; Face Research Lab London "
           "Set, DeBruine & Jones 2017, CC-BY 4.0). Beyond it is unusual for a healthy face, not a diagnosis.")

tabs = st.tabs([region.capitalize() for region in REGIONS])
for tab, region in zip(tabs, REGIONS):
    with tab:
        indices = [i for i, r in enumerate(FEATURE_REGIONS) if r == region and i not in SHAPE_FEATURES]
        angles = [i for i in indices if FEATURE_NAMES[i] in _ANGLE_NAMES]
        others = [i for i in indices if FEATURE_NAMES[i] not in _ANGLE_NAMES]
        figure = make_subplots(
            rows=1, cols=2, horizontal_spacing=0.28,
            subplot_titles=("Angles: degrees from horizontal / vertical", "Ratios and slopes: 0 = symmetric"),
        )
        for column, group, unit in ((1, angles, "deg"), (2, others, "")):
            names = [FEATURE_NAMES[i].replace("_", " ") for i in group]
            figure.add_trace(go.Bar(
                x=[float(deviation[i]) for i in group], y=names, orientation="h",
                marker_color="#2e86c1", showlegend=False,
                customdata=[[FEATURE_HELP.get(FEATURE_NAMES[i], ""), float(features[i]), f"f{i}"] for i in group],
                hovertemplate=(f"<b>%{{y}}</b> (%{{customdata[2]}})<br>%{{customdata[0]}}<br>deviation %{{x:.3f}} "
                               f"{unit}<br>raw value %{{customdata[1]:.3f}}<extra></extra>"),
            ), row=1, col=column)
            figure.add_trace(go.Scatter(
                x=[bands[FEATURE_NAMES[i]]["p95"] for i in group], y=names, mode="markers",
                marker={"symbol": "diamond", "color": "#7f8c8d", "size": 9}, showlegend=False,
                hovertemplate=f"healthy up to %{{x:.3f}} {unit} (95th percentile)<extra></extra>",
            ), row=1, col=column)
        figure.update_layout(height=90 + 38 * max(len(angles), len(others), 1),
                             margin={"l": 10, "r": 10, "t": 40, "b": 10})
        st.plotly_chart(figure, width="stretch", key=f"explorer_{region}")
        st.dataframe(pd.DataFrame({
            "Code": [f"f{i}" for i in indices],
            "Feature": [FEATURE_NAMES[i].replace("_", " ") for i in indices],
            "What it compares": [FEATURE_HELP.get(FEATURE_NAMES[i], "") for i in indices],
            "From symmetry": [abs(float(deviation[i])) for i in indices],
            "Healthy up to": [bands[FEATURE_NAMES[i]]["p95"] for i in indices],
            "Beyond the healthy band": ["YES" if abs(float(deviation[i])) > bands[FEATURE_NAMES[i]]["p95"] else "no"
                                        for i in indices],
        }), hide_index=True, width="stretch",
            column_config={"From symmetry": st.column_config.NumberColumn(format="%.3f"),
                           "Healthy up to": st.column_config.NumberColumn(format="%.3f"),
                           "What it compares": st.column_config.TextColumn(width="large")})
        shape = [i for i, r in enumerate(FEATURE_REGIONS) if r == region and i in SHAPE_FEATURES]
        if shape:
            st.caption("Shape features (no symmetric reference; they describe proportions, not asymmetry):")
            st.dataframe(pd.DataFrame({
                "Feature": [f"f{i} {FEATURE_NAMES[i].replace('_', ' ')}" for i in shape],
                "Value": [float(features[i]) for i in shape],
                "What it is": [FEATURE_HELP.get(FEATURE_NAMES[i], "") for i in shape],
            }), hide_index=True, width="stretch")

st.subheader("Blendshapes: left and right side by side")
st.caption(
    "MediaPipe's expression scores (0 = not at all, 1 = fully) for each muscle movement that has a left "
    "and a right version. *Left* and *right* are the subject's sides. A large gap on the same "
    "movement shows one side moving less. (Gaze and whole-mouth or jaw shifts are left out: they do not "
    "compare the two sides.)"
)
pairs = sorted(
    (name[: -len("Left")] for name in result.blendshapes
     if name.endswith("Left") and f"{name[: -len('Left')]}Right" in result.blendshapes
     and name[: -len("Left")] not in _NOT_SIDES and not name.startswith("eyeLook")),
    reverse=True,  # plotly draws the first bar at the bottom
)
left = [result.blendshapes[f"{pair}Left"] for pair in pairs]
right = [result.blendshapes[f"{pair}Right"] for pair in pairs]
# In grouped horizontal bars the first trace sits lowest: add the right side first so that
# the left bar is on top of each pair, and list the legend in that visual order.
figure = go.Figure([
    go.Bar(name="Subject's right", y=pairs, x=right, orientation="h", marker_color="#e67e22",
           hovertemplate="%{y}Right: %{x:.3f}<extra></extra>"),
    go.Bar(name="Subject's left", y=pairs, x=left, orientation="h", marker_color="#2e86c1",
           hovertemplate="%{y}Left: %{x:.3f}<extra></extra>"),
])
figure.update_layout(barmode="group", height=140 + 26 * len(pairs), xaxis={"range": [0, 1], "title": "score"},
                     margin={"l": 10, "r": 10, "t": 50, "b": 10},
                     legend={"orientation": "h", "y": 1.01, "yanchor": "bottom", "traceorder": "reversed"})
st.plotly_chart(figure, width="stretch", key="explorer_blendshapes")
widgets.disclaimer()
