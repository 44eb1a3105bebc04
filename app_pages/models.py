"""Models: what each model is, what it was trained on, how well it did, what it is for."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from palsy_core.face.normal_range import MAX_RELIABLE_PITCH, MAX_RELIABLE_YAW, limits_for, load_normal_limits
from palsy_core.report import MEASUREMENT_LABELS
from app_pages.ui import services, widgets
from app_pages.ui.errors import attempt
from app_pages.ui.text import plain

st.title("Models")
st.caption("Every model behind the numbers in this app, with its model card. Outputs of models trained on "
           "simulated faces carry a warning wherever they are shown.")

st.subheader("Face landmarks: MediaPipe Face Landmarker")
located = attempt("locating the face landmark model", services.landmarker_file)
st.markdown(
    "- **What it is:** Google's MediaPipe Face Landmarker: 478 3-D face landmarks (with the irises), 52 "
    "expression (blendshape) scores and the head pose, from one photo or video frame.\n"
    "- **Trained on:** Google's own face data sets (see the MediaPipe model card); not on palsy patients.\n"
    "- **Intended use here:** locating the brows, eyes, lips and pupils for the measurements. A paralysed "
    "face is unusual for it: check the overlay before trusting a measurement.\n"
    "- **Licence:** Apache 2.0."
)
if located is not None:
    # The file's name only: no server path is shown to users.
    name = located[0].replace("\\", "/").rsplit("/", 1)[-1].replace("`", "")
    st.caption(f"File: `{name}` ({located[1]:.1f} MB)")

st.subheader("Measurements and the normal range (rules, not a trained model)")
normal_limits = load_normal_limits()
st.markdown(
    "Emotrics measurements (Guarin et al., JAMA Facial Plast Surg 2018) computed from the landmarks in a "
    "pupil-aligned frame, scaled by an 11.77 mm iris. A left-right difference up to the limit below counts "
    f"as normal asymmetry. The limits were measured on {normal_limits.n_people} healthy adults at rest and "
    "smiling (Face Research Lab London Set, DeBruine & Jones 2017, CC-BY 4.0): each is a high percentile "
    "of their differences (" + ", ".join(f"{p:g}th at {e}" if e == "rest" else f"{p:g}th in a {e}"
                                         for e, p in normal_limits.percentile.items())
    + "), chosen so that about 95% of healthy people not in that set stay within all of them. "
    "Studio photos; other cameras may need their own. "
    f"Photos with the head turned beyond {MAX_RELIABLE_YAW:.0f} deg (yaw) or nodded beyond "
    f"{MAX_RELIABLE_PITCH:.0f} deg (pitch) get a warning."
)
rest_limits, smile_limits = limits_for("rest"), limits_for("smile")
st.dataframe(pd.DataFrame({"Measure": [MEASUREMENT_LABELS.get(name, name) for name in rest_limits],
                           "Normal limit at rest": [
    f"{value:.2f} {'deg' if name == 'smile_angle' else 'mm'}" for name, value in rest_limits.items()],
                           "Normal limit in a smile": [
    f"{smile_limits[name]:.2f} {'deg' if name == 'smile_angle' else 'mm'}" for name in rest_limits]}),
    hide_index=True)


def palsy_model_card(card: dict) -> None:
    """A palsy model's card: what it is, what it was trained on, its held-out numbers."""
    if card.get("trained_on_simulated_data"):
        widgets.simulated_data_warning(card["name"])
    # Card fields come from a file in the weights folder: plain text, never Markdown.
    st.markdown(
        f"- **What it is:** {plain(card.get('description', ''))}\n"
        f"- **Architecture:** {plain(card.get('architecture', ''))} ({plain(card.get('framework', ''))})\n"
        f"- **Trained on:** {plain(card.get('trained_on', ''))}\n"
        f"- **Intended use:** {plain(card.get('intended_use', ''))}\n"
        f"- **Version:** palsy_core {plain(card.get('code_version', '?'))}, trained {plain(card.get('date', '?'))}, "
        f"commit `{(card.get('git_commit') or '?')[:10]}`, weights sha256 `{card.get('weights_sha256', '')[:12]}...`"
        + "".join(f"\n- **Data:** {plain(source)}" for source in card.get("attribution") or [])
    )
    metrics = card.get("metrics") or {}
    # Person-held-out numbers when the card has them (models trained on many people);
    # older cards keep their held-out numbers at the top level.
    held_out = metrics.get("person_held_out") or metrics
    flat = {key: value for key, value in held_out.items() if isinstance(value, (int, float))}
    if flat:
        st.markdown("**Person-held-out metrics**" if "person_held_out" in metrics else "**Held-out metrics**")
        st.dataframe(pd.DataFrame({"Metric": list(flat), "Value": list(flat.values())}), hide_index=True)
    config = {k: v for k, v in (card.get("config") or {}).items() if k != "feature_scaler"}
    with st.popover("Full model card (JSON)"):
        st.code(json.dumps({**card, "config": config}, indent=2), language="json")


#: How each task's card is drawn.
CARD_VIEWS = {"palsy": palsy_model_card, "severity": widgets.severity_model_card,
              "parsing": widgets.parsing_model_card}

# Every installed model of every task, as the registry lists them; the one the app uses
# (its task's default) is open and marked.
for status in attempt("checking the installed models", services.model_statuses) or []:
    st.subheader(f"{status.title} models")
    cards = attempt(f"reading the {status.key} model cards", services.installed_cards, status.key)
    if not cards:
        st.info(f"Model not installed. {status.detail}", icon=":material/block:")
    for card in cards or []:
        in_use = status.name == card.get("name")
        with st.expander(f"{plain(card.get('name'))}{'  (in use)' if in_use else ''}", expanded=in_use):
            if "error" in card:
                st.error(plain(card["error"]))
            else:
                CARD_VIEWS[status.key](card)

widgets.disclaimer()
