"""Drawing blocks shared by the pages: headline, gauges, tables, model outputs, warnings.

Everything a clinician reads is phrased for a clinician: sides are the subject's own,
millimetres say how they were scaled, and any model trained on simulated faces carries
an unmissable warning wherever its output appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from palsy_core import AnalysisResult, draw_overlay
from palsy_core.face.frame import face_box
from palsy_core.face.normal_range import ASSESSABLE_EXPRESSIONS, limits_for
from palsy_core.report import DISCLAIMER, REGION_LABELS, measurement_rows

from app_pages.ui import services
from app_pages.ui.services import ModelStatus
from app_pages.ui.text import plain

#: Colours of the gauges' bands: within normal, up to twice the limit, beyond.
_BANDS = ("#d5f5e3", "#fdebd0", "#fadbd8")


def disclaimer() -> None:
    """The decision-support disclaimer, as a caption."""
    st.caption(DISCLAIMER)


def simulated_data_warning(model_name: str) -> None:
    """The warning shown wherever an output of a model trained on simulated faces appears."""
    st.warning(
        f"**Trained on simulated faces, not on real patients.** `{model_name}` learnt from "
        "photos of healthy volunteers warped to look palsied: on a real patient its output "
        "can be wrong either way, and a low probability is no evidence of health. Read the "
        "measurements. Do not use it for any clinical decision.",
        icon=":material/science:",
    )


#: How each verdict is drawn: Streamlit alert, icon, title.
_STATUS_STYLE = {
    "within_normal": (st.success, ":material/check_circle:", "Within normal asymmetry"),
    "asymmetry": (st.warning, ":material/warning:", "Asymmetry beyond normal"),
    "not_assessable": (st.error, ":material/block:", "Not assessable"),
}


def headline(result: AnalysisResult, prefix: str = "", photo: str | None = None,
             palsy_card: Mapping[str, Any] | None = None) -> None:
    """One card with the verdict and, beside it, the palsy probability.

    The verdict (:class:`palsy_core.assessment.Assessment`): within normal; asymmetry with
    the subject's weaker side and each region beyond its limit in mm; or not assessable
    with what to retake and how. The probability (when a model gave one) sits beside it
    with the model's person-held-out performance from ``palsy_card`` and, for a model
    trained on simulated faces, the simulated-data warning. ``photo`` names the photo, so
    a headline is never read against the wrong one (shown as plain text: a file name is
    never Markdown).
    """
    verdict = result.assessment
    with st.container(key="headline", border=True):
        if verdict is None:  # a result from before the three-state verdict (stored visits)
            st.info(f"{prefix}**{result.headline()}**", icon=":material/info:")
            return
        columns = st.columns([3, 2], gap="medium") if result.palsy is not None else [st.container()]
        with columns[0]:
            alert, icon, title = _STATUS_STYLE[verdict.status]
            alert(f"{prefix}**{_status_title(verdict, title)}**\n\n{_status_body(verdict)}", icon=icon)
            source = "as stated" if verdict.expression_source == "stated" else "detected from the face"
            line = f"Read as a **{verdict.expression.replace('_', ' ')}** photo ({source})."
            if verdict.expression_mismatch and verdict.status != "not_assessable":
                line += f" {verdict.expression_mismatch}"
            st.caption(line + (f" Photo: {plain(photo)}" if photo else ""))
        if result.palsy is not None:
            with columns[1]:
                palsy_probability(result, palsy_card)


def _status_title(verdict, title: str) -> str:
    if verdict.status == "asymmetry":
        if verdict.affected_side is None:
            return "Asymmetry beyond normal; the weaker side is unclear"
        return f"The subject's {verdict.affected_side} side looks weaker"
    return title


def _status_body(verdict) -> str:
    if verdict.status == "not_assessable":
        return "\n".join(f"- {reason.message}" for reason in verdict.reasons)
    if verdict.status == "within_normal":
        alone = getattr(verdict, "beyond_alone", ())
        if alone:  # a region gauge passes 1: say why the verdict still reads normal
            return (f"The {' and '.join(REGION_LABELS.get(r.name, r.name).lower() for r in alone)} "
                    "alone differs by more than its own limit, but taken together the regions "
                    "are within the left-right differences of healthy people photographed the "
                    f"same way ({verdict.expression.replace('_', ' ')}).")
        return ("Every region is within the left-right differences of healthy people "
                f"photographed the same way ({verdict.expression.replace('_', ' ')}).")
    lines = []
    for region in verdict.supporting_regions:
        # With no side named, no region is said to point anywhere: the warning says why.
        points = (f", points to the subject's {region.points_to}" if verdict.affected_side
                  else "")
        lines.append(f"- {REGION_LABELS.get(region.name, region.name)}: "
                     f"{region.measure_words} differs by **{region.difference_mm:.1f} mm** "
                     f"(normal up to {region.limit_mm:.1f} mm on its own){points}")
    if verdict.combined_score is not None and len(lines) > 1:
        lines.append(f"- together: {verdict.combined_score / verdict.combined_limit:.1f} times "
                     "the normal limit of healthy people")
    return "\n".join(lines)


def held_out_performance(card: Mapping[str, Any] | None) -> str:
    """The model card's person-held-out AUC, F1 and calibration, in one line.

    Read generically: the first metrics section whose name mentions "person" or
    "held_out"; within it any AUC, F1 and calibration (ECE, Brier, ...) numbers. "not
    measured" when the card has none (e.g. only folds over simulated subjects).
    """
    metrics = (card or {}).get("metrics") or {}
    section = _held_out_section(metrics)
    if not section:
        return "Person-held-out performance: not measured."
    parts = []
    for label, needles in (("AUC", ("auc",)), ("F1", ("f1",)),
                           ("calibration", ("ece", "brier", "calibration"))):
        for key, value in section.items():
            name = str(key).lower()
            if any(n in name for n in needles) and not any(t in name for t in ("std", "_ci", "low", "high")):
                if isinstance(value, (int, float)):
                    # AUC and F1 are named by their label; a calibration number by its kind.
                    kind = f" ({name.replace('_', ' ')})" if label == "calibration" else ""
                    parts.append(f"{label}{kind} {value:.2f}")
                    break
    if not parts:
        return "Person-held-out performance: not measured."
    healthy = healthy_share_at_half(card)
    if healthy is not None:
        parts.append(f"healthy photos at 50% or more {healthy:.0%}")
    people = section.get("n_people") or section.get("people")
    return ("Person-held-out performance: " + ", ".join(parts)
            + (f" ({people} people)" if isinstance(people, int) else "") + ".")


def healthy_share_at_half(card: Mapping[str, Any] | None) -> float | None:
    """The share of held-out healthy photos the model put at 50 % or more, if its card
    measured it."""
    section = _held_out_section((card or {}).get("metrics") or {}) or {}
    value = section.get("healthy_at_or_above_0_5")
    return float(value) if isinstance(value, (int, float)) else None


def _held_out_section(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for key, value in metrics.items():
        if isinstance(value, Mapping) and ("person" in str(key).lower() or "held_out" in str(key).lower()):
            return value
    for value in metrics.values():
        if isinstance(value, Mapping):
            found = _held_out_section(value)
            if found:
                return found
    return None


def palsy_probability(result: AnalysisResult, card: Mapping[str, Any] | None) -> None:
    """The palsy probability, its model's person-held-out performance, and its warnings."""
    palsy = result.palsy
    st.metric("Palsy probability", f"{palsy.probability:.0%}",
              help="Probability of facial palsy from the installed palsy model (see its card on the Models page).")
    st.caption(f"{held_out_performance(card)} Model `{palsy.model}`, trained on {palsy.trained_on}.")
    status = result.assessment.status if result.assessment is not None else None
    if status == "not_assessable":
        st.caption("The photo is not assessable: this probability is not reliable either.")
    elif status == "within_normal" and palsy.probability >= 0.5:
        healthy = healthy_share_at_half(card)
        how_often = ("" if healthy is None else
                     f" ({healthy:.0%} of the healthy photos it was tested on did)")
        st.caption("Why the two differ: every measure is within the limits of healthy people, "
                   "but the model also weighs differences the limits leave out (each lid, the "
                   "brow, mouth corner and lip heights read from the pixels, the blendshapes) "
                   f"and smaller ones, and healthy faces can score this high too{how_often}. "
                   "The verdict is the measured one.")
    elif status == "asymmetry" and palsy.probability < 0.5:
        st.caption("Why the two differ: the measures are beyond the limits of healthy people, "
                   "but the model, trained on simulated palsy, reads this face as unlike its "
                   "palsy examples. The verdict is the measured one.")
    if palsy.simulated:
        simulated_data_warning(palsy.model)


def photo_warnings(result: AnalysisResult) -> None:
    """Head pose and photo quality warnings (the scale's source is shown with the table)."""
    for text in result.warnings:
        st.warning(text, icon=":material/photo_camera:")


def overlay(rgb: np.ndarray, result: AnalysisResult, *, contours: bool, points: bool, axes: bool,
            zoom: bool = True) -> None:
    """The photo with the chosen overlays and a reminder of which side is which.

    ``zoom`` crops to the face (with a margin) so the lines can be checked by eye.
    """
    image = draw_overlay(rgb, result.landmarks, contours=contours, points=points, axes=axes)
    if zoom:
        x0, y0, x1, y1 = face_box(result.landmarks, image.shape)
        image = image[y0:y1, x0:x1]
    st.image(image, width="stretch", output_format="JPEG")
    st.caption(
        "Image left = subject's right (in an unmirrored photo). Lines: brows, eyes, lips, nose "
        "and face outline; yellow: the pupil line and the facial midline."
    )


def parsing_overlay(rgb: np.ndarray, result: AnalysisResult, *, zoom: bool = True) -> None:
    """The face-parsing overlay (classes, the paralysed region hatched red, a legend), its
    summary in words and the simulated-training warning; a note when no model is installed."""
    from dataclasses import replace

    from palsy_core.segmentation import SIMULATED_WARNING, segmentation_overlay

    parsed = result.predictions.get("parsing")
    if parsed is None and any(status.key == "parsing" and status.loading
                              for status in services.model_statuses()):
        st.info("Face parsing: loading... (the server has just started; the overlay appears "
                "in a few seconds).", icon=":material/hourglass_top:")
        return
    if parsed is None:
        st.info("Face parsing: no model installed. An administrator installs one with "
                "`python -m trainers.segmentation ... --promote NAME --make-default`.",
                icon=":material/info:")
        return
    if parsed.simulated:
        st.warning(f"**Trained on mesh-drawn masks and simulated palsy, not on patients.** "
                   f"{SIMULATED_WARNING}", icon=":material/science:")
    if zoom:
        box = face_box(result.landmarks, rgb.shape)
        window = (slice(box[1], box[3]), slice(box[0], box[2]))
        rgb = rgb[window]
        parsed = replace(parsed, labels=parsed.labels[window], paralysed=parsed.paralysed[window])
    st.image(segmentation_overlay(rgb, parsed), width="stretch", output_format="JPEG")
    summary = result.predictions["parsing"].to_dict()
    if summary["affected_side"]:
        st.markdown(f"**Paralysed region** (red hatching): the subject's **{summary['affected_side']}** "
                    f"side, {summary['paralysed_share_of_hemiface']:.0%} of that half of the face.")
        if result.status != "asymmetry":
            # The network marks a region on healthy faces too: the measurements decide.
            st.caption("The measurements do not find an asymmetry beyond normal here, so this region "
                       "is not evidence of palsy: the model marks one on healthy faces too.")
    else:
        st.markdown("**Paralysed region:** none found (no half of the face looks like the "
                    "simulated palsy the model learned).")
    st.caption(f"Model `{parsed.model}`: skin, brows, eyes and mouth as drawn by the landmark "
               "mesh; hair is not segmented. Image left = subject's right (unmirrored photo).")


def parsing_model_card(card: Mapping[str, Any]) -> None:
    """The face-parsing model's card: what it is, its person-held-out numbers, the data."""
    import json

    import pandas as pd

    from palsy_core.segmentation import SIMULATED_WARNING

    if card.get("trained_on_simulated_data"):
        st.warning(f"**Trained on mesh-drawn masks and simulated palsy, not on patients.** "
                   f"{SIMULATED_WARNING}", icon=":material/science:")
    st.markdown(
        f"- **What it is:** seed 004's face-parsing network (`{card.get('architecture')}`: ESC blocks, "
        "ASPP, foreground attention, depth head) on a "
        f"{card.get('config', {}).get('input_size', '?')} px aligned face crop: skin, brows, eyes, "
        "mouth, and the paralysed region.\n"
        f"- **Trained on:** {card.get('trained_on', '')}\n"
        f"- **Intended use:** {card.get('intended_use', '')}\n"
        f"- **Version:** `{card.get('name')}`, palsy_core {card.get('code_version', '?')}, trained "
        f"{card.get('date', '?')}, commit `{(card.get('git_commit') or '?')[:10]}`, weights sha256 "
        f"`{card.get('weights_sha256', '')[:12]}...`"
    )
    test = (card.get("metrics") or {}).get("test") or {}
    if test:
        f1 = test.get("f1", {})
        rows = [(f"F1 {name}", f1.get(name)) for name in ("skin", "brows", "eyes", "mouth")]
        rows += [("F1 paralysed region", test.get("fpp_f1")),
                 ("Mean F1 skin/brows/eyes/mouth", test.get("mean_f1_face")),
                 ("Mean IoU (with paralysed region)", test.get("mean_iou")),
                 ("Pixel accuracy", test.get("pixel_accuracy")),
                 ("Paralysed side right (simulated cases)", test.get("side_accuracy"))]
        st.markdown(f"**On {test.get('people')} people it never saw** ({test.get('samples')} photos; "
                    "targets drawn from the landmark mesh and the simulator, %)")
        st.dataframe(pd.DataFrame({"Metric": [r[0] for r in rows], "Value": [r[1] for r in rows]}),
                     hide_index=True)
    for line in card.get("attribution") or []:
        st.caption(f"Data: {line}")
    with st.popover("Full model card (JSON)"):
        st.code(json.dumps(dict(card), indent=2), language="json")


def region_gauges(result: AnalysisResult) -> None:
    """One bullet gauge per region: asymmetry score, 1.0 = edge of normal asymmetry."""
    import plotly.graph_objects as go  # not before the first page: ~0.3 s to import

    regions = result.region_asymmetry
    verdict = result.assessment
    unused = verdict is not None and verdict.status == "not_assessable"
    side_unclear = (verdict is not None and verdict.status == "asymmetry"
                    and verdict.affected_side is None)
    verdict_side = verdict.affected_side if verdict is not None else None
    # Beyond their own limit towards the side the headline does not name.
    opposed = [name for name, region in regions.items()
               if verdict_side and not region.within_normal
               and region.weaker_side not in (None, verdict_side)]
    top = max(3.0, float(np.ceil(max((r.score for r in regions.values()), default=0.0) + 0.25)))
    figure = go.Figure()
    count = max(1, len(regions))
    for index, (name, region) in enumerate(regions.items()):
        label = "within normal" if region.within_normal else f"weaker: subject's {region.weaker_side}"
        if unused and not region.within_normal:
            label = "not used (see below)"  # short: the gauge's title column is narrow
        elif side_unclear and name == "eye" and not region.within_normal:
            label = "side unclear (smile)"
        elif name in opposed:
            label = f"{region.weaker_side} side: see below"  # as short as "not used"
        low, high = 1 - (index + 1) / count, 1 - index / count
        figure.add_trace(go.Indicator(
            mode="number+gauge",
            value=region.score,
            number={"valueformat": ".2f", "font": {"size": 20}},
            title={"text": f"<b>{REGION_LABELS.get(name, name)}</b><br><span style='font-size:0.85em'>{label}</span>",
                   "font": {"size": 13}},
            domain={"x": [0.3, 0.9], "y": [low + 0.08, high - 0.08]},
            gauge={
                "shape": "bullet",
                "axis": {"range": [0, top], "tickvals": list(range(int(top) + 1))},
                "bar": {"color": "#1f4e79" if region.within_normal else "#c0392b", "thickness": 0.45},
                "steps": [{"range": [0, 1], "color": _BANDS[0]}, {"range": [1, 2], "color": _BANDS[1]},
                          {"range": [2, top], "color": _BANDS[2]}],
                "threshold": {"line": {"color": "#333", "width": 3}, "thickness": 0.9, "value": 1.0},
            },
        ))
    figure.update_layout(height=70 * count + 30, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, width="stretch", config={"displayModeBar": False})
    st.caption(
        "Score = left-right difference of the region's key measure divided by its normal limit. "
        "Up to 1.0 (black line, green band) is within normal asymmetry; 2.0 is twice the limit."
    )
    if unused and any(not r.within_normal for r in regions.values()):
        codes = ", ".join(r.code.replace("_", " ") for r in verdict.reasons)
        st.caption(f"**Not used for the verdict:** the photo is not assessable ({codes}), so a gauge "
                   "beyond its limit says nothing about the face. Retake the photo as the headline says.")
    if side_unclear:
        st.caption("**Eye:** the eye openings differ beyond normal, but in a smile that alone "
                   "cannot tell which side is weaker (see the headline).")
    if opposed:
        names = " and ".join(REGION_LABELS.get(n, n) for n in opposed)
        worst = verdict.worst_region
        st.caption(f"**{names}:** beyond {'its' if len(opposed) == 1 else 'their'} own limit "
                   f"towards the subject's {regions[opposed[0]].weaker_side} side, against the "
                   f"headline: the regions are read together, and the "
                   f"{worst.name if worst else 'region'} with the largest share of the "
                   f"asymmetry names the {verdict_side} side. Read the side with care.")
    for name, region in regions.items():
        if region.note:
            st.caption(f"{REGION_LABELS.get(name, name)}: {region.note}")


def measurement_table(assessment: Mapping[str, Any]) -> None:
    """The millimetre measures per side, with the normal limit where one is defined.

    Parameters
    ----------
    assessment : Mapping
        ``AnalysisResult.to_dict()``, fresh or as stored with a visit.
    """
    import pandas as pd  # not before the first page: ~0.5 s to import

    rows = measurement_rows(assessment)
    expression = assessment.get("expression")
    normal_limits = limits_for(expression if expression in ASSESSABLE_EXPRESSIONS else "rest")
    limits = [normal_limits.get(row["key"]) for row in rows]
    # The sides in the photo's order: the subject's right is on the image's left unless the
    # photo is mirrored (then their right iris, landmark 468, is on the image's right).
    points = assessment.get("landmarks")
    mirrored = bool(points) and len(points) > 473 and points[468][0] > points[473][0]
    sides = [("Subject's L", "left"), ("Subject's R", "right")] if mirrored else \
        [("Subject's R", "right"), ("Subject's L", "left")]
    frame = pd.DataFrame({
        "Measure": [row["measure"] for row in rows],
        **{title: [row[side] for row in rows] for title, side in sides},
        "Difference": [row["difference"] for row in rows],
        "% difference": [row["percent_difference"] for row in rows],
        "Unit": [row["unit"] for row in rows],
        "Normal limit": [f"{limit:.2f} {row['unit']}" if limit is not None else "" for limit, row in zip(limits, rows)],
        "Beyond limit": [("YES" if row["difference"] > limit else "no") if limit is not None else ""
                         for limit, row in zip(limits, rows)],
        "What it is": [row["description"] for row in rows],
    })
    beyond = frame["Beyond limit"] == "YES"
    st.dataframe(
        # Rows beyond the normal limit stand out.
        frame.style.apply(lambda row: ["background-color: #fdebd0; font-weight: 600" if beyond[row.name] else ""]
                          * len(row), axis=1),
        hide_index=True,
        width="stretch",
        column_config={
            "Subject's L": st.column_config.NumberColumn(help="The subject's own left side", format="%.1f"),
            "Subject's R": st.column_config.NumberColumn(help="The subject's own right side", format="%.1f"),
            "Difference": st.column_config.NumberColumn(help="|left - right|", format="%.1f"),
            "% difference": st.column_config.NumberColumn(help="Difference as % of the larger side",
                                                          format="%.0f %%"),
            "Normal limit": st.column_config.TextColumn(
                help="Largest difference still counted as normal asymmetry (provisional; only the measures "
                     "that decide a region have one)"),
            "What it is": st.column_config.TextColumn(width="large"),
        },
    )
    scale = assessment.get("mm_per_pixel")
    if scale is None:
        return
    if assessment.get("scale_source") == "iris":
        st.caption(
            f"Scale {scale:.3f} mm per pixel, from the iris diameter (11.77 mm assumed, the adult average). "
            "A known scale (*Scale* on the Assess page) gives exact millimetres."
        )
    else:
        st.caption(f"Scale {scale:.3f} mm per pixel, as entered by the clinician.")


def model_outputs(result: AnalysisResult, statuses: list[ModelStatus], palsy: bool = True) -> None:
    """Each model's output for this face, or "model not installed".

    ``palsy=False`` leaves the palsy probability out (the headline card shows it).
    """
    with st.container(border=True, key="model_outputs"):
        for status in statuses:
            if status.key == "palsy" and result.palsy is not None and not palsy:
                st.markdown(f"**{status.title}:** shown beside the verdict above.")
            elif status.key == "palsy" and result.palsy is not None:
                palsy = result.palsy
                if palsy.simulated:
                    simulated_data_warning(palsy.model)
                st.metric(status.title, f"{palsy.probability:.0%}",
                          help="Probability of facial palsy from the installed palsy model (see its card on the Models page).")
                st.caption(f"Model `{palsy.model}`, trained on {palsy.trained_on}.")
            elif status.key == "severity" and result.predictions.get("severity") is not None:
                st.markdown(f"**{status.title}:** shown below, with the next steps.")
            elif status.key == "parsing" and result.predictions.get("parsing") is not None:
                side = result.predictions["parsing"].affected_side
                caveat = (" (not evidence of palsy: the measurements find no asymmetry beyond normal)"
                          if side and result.status != "asymmetry" else "")
                st.markdown(f"**{status.title}:** paralysed region "
                            f"{'on the subject' + chr(39) + 's ' + side + ' side' if side else 'not found'}"
                            f"{caveat}; the overlay is under the photo (toggle *Face parsing overlay*).")
            elif status.loading:
                st.markdown(f"**{status.title}:** :gray[loading...]")
            elif status.installed:
                st.markdown(f"**{status.title}:** installed, but gave no output for this photo.")
            else:
                st.markdown(f"**{status.title}:** :gray[model not installed]")


def explanation() -> None:
    """What the numbers mean and where they stop being reliable."""
    with st.expander("What these numbers mean, and their limits"):
        st.markdown(
            """
- **Left / right** are always the *subject's* sides. In an unmirrored photo the subject's
  right is on the image's left. Phone selfies are often mirrored: then the sides swap.
- **Millimetres** are scaled by the iris (11.77 mm, the adult average), unless you give a
  known scale. An unusual iris size, or a photo not taken straight on, shifts every value.
- **Measurements** follow Emotrics (Guarin et al. 2018): brow height and MRD1/MRD2 from
  the pupil, palpebral fissure height, commissure height and excursion, smile angle, lip
  heights and dental show, measured along the pupil line and the facial midline.
- **Region scores** divide the left-right difference of each region's key measure by a
  *normal limit* (brow 2 mm, palpebral fissure 1.5 mm, commissure 2-3 mm). No face is
  perfectly symmetric: up to 1.0 counts as normal asymmetry. These limits are provisional
  and should be calibrated on healthy faces from your own clinic.
- **Which side is weaker** follows the clinical cues: a lower brow, a wider fissure, a lower
  corner that moves out less. In a smile the eyes are ambiguous (the healthy eye narrows),
  so the mouth decides.
- **Head pose**: beyond about 12 degrees of turn, the far side looks smaller than it is.
- **Model outputs** are only as good as the data they were trained on; see the Models page.
"""
        )


def pose_caption(result: AnalysisResult) -> None:
    """Head pose in one line."""
    pose = result.head_pose
    st.caption(
        f"Head pose: turn (yaw) {pose.yaw:+.1f} deg, nod (pitch) {pose.pitch:+.1f} deg, tilt (roll) "
        f"{pose.roll:+.1f} deg. Expression detected: {_detected_expression(result).replace('_', ' ')}."
    )


def _detected_expression(result: AnalysisResult) -> str:
    """What the face shows (``result.expression`` is the stated one when there is one)."""
    return result.assessment.detected_expression if result.assessment else result.expression


def status_badge(status: ModelStatus) -> str:
    """One line for the sidebar: model name and state."""
    if status.loading:
        return f"{status.title}: *loading...*"
    if not status.installed:
        return f"{status.title}: *not installed*"
    suffix = " - **simulated data**" if status.simulated else ""
    return f"{status.title}: `{status.name}`{suffix}"


#: Seconds between two looks at the background loader while a page waits for a model.
MODEL_POLL_S = 0.5


def rerun_as_models_arrive() -> None:
    """At the end of a page whose parts say "loading...": wait for the next model, then
    rerun the page, so each model's output (and the sidebar's list) appears by itself.

    Call it last: it returns at once when every model is in, and otherwise never returns.
    The wait blocks nothing the user does: it writes one caption every
    :data:`MODEL_POLL_S` seconds, and Streamlit ends a script at its next element write
    when the user has acted meanwhile (``ScriptRunner._enqueue_forward_msg`` handles a
    pending rerun or stop request first), so an upload, a click or a download starts its
    own run within that time. No timer: redrawing parts each second
    (``st.fragment(run_every=...)``) lost uploads and downloads (Streamlit 1.67).
    """
    loader = services.model_loader()
    # Counted from the start of this run (the sidebar's statuses), not from now: a model
    # that arrived while the page ran is missing from what was drawn above.
    drawn = services.models_drawn()
    if loader.done and loader.generation == drawn:
        return
    note = st.empty()
    while loader.generation == drawn:
        note.caption(":gray[:material/hourglass_top: The models are loading in the background: "
                     "their outputs appear above as each one arrives.]")
        loader.wait(MODEL_POLL_S)
    st.rerun()


#: How a recommendation's priority is drawn.
_PRIORITY_STYLE = {"urgent": ":red-badge[:material/emergency: urgent]",
                   "soon": ":orange-badge[:material/schedule: soon]",
                   "routine": ":blue-badge[routine]", "info": ":gray-badge[note]"}


def severity_simulated_warning(model_name: str) -> None:
    """The warning beside every output of a severity model trained on simulated palsy."""
    st.warning(
        f"**Trained on simulated palsy, not on real patients.** `{model_name}` learnt from "
        "healthy volunteers' photos warped to look palsied: on a real patient its grade can be "
        "wrong, and a 'normal' grade is no evidence of health. Read the measurements and "
        "examine the patient. Do not use it for any clinical decision.",
        icon=":material/science:",
    )


def severity_panel(result: AnalysisResult, status: ModelStatus | None) -> None:
    """The six-class grade, its probabilities as a chart, and the recommended next steps.

    Within normal asymmetry (or not assessable) the grade is supporting detail only: it is
    folded away and the recommendations say why.
    """
    import plotly.graph_objects as go

    prediction = result.predictions.get("severity")
    if prediction is None:
        if status is not None and status.loading:
            st.markdown("**Severity class:** :gray[loading...]")
            return
        detail = status.detail if status is not None else ""
        st.markdown(f"**Severity class:** :gray[model not installed]. {detail}")
        return
    if prediction.simulated:
        severity_simulated_warning(prediction.model)
    label = prediction.label.replace("_", " ")
    if prediction.uncertain:
        title = (f"Severity: **uncertain** (no class reaches {prediction.threshold:.0%}; most "
                 f"likely {prediction.top_class.replace('_', ' ')}, {prediction.confidence:.0%})")
    else:
        title = f"Severity: **{label}** ({prediction.confidence:.0%})"
    if prediction.supporting_detail_only:
        st.caption("The measurements decide the verdict; the severity grade below is supporting "
                   "detail only.")
    with st.expander(title, expanded=not prediction.supporting_detail_only):
        classes = list(prediction.probabilities)
        values = [prediction.probabilities[c] for c in classes]
        colours = ["#c0392b" if c == prediction.top_class else "#95a5a6" for c in classes]
        figure = go.Figure(go.Bar(x=values, y=[c.replace("_", " ") for c in classes],
                                  orientation="h", marker_color=colours,
                                  text=[f"{v:.0%}" for v in values], textposition="outside"))
        figure.add_vline(x=prediction.threshold, line_dash="dot", line_color="#7f8c8d",
                         annotation_text="confident above", annotation_position="top")
        figure.update_layout(height=240, margin=dict(l=10, r=30, t=30, b=10),
                             xaxis=dict(range=[0, 1.1], tickformat=".0%", title="probability"),
                             yaxis=dict(autorange="reversed"))
        st.plotly_chart(figure, use_container_width=True, key="severity_chart")
        st.caption(f"Model `{prediction.model}`, trained on {prediction.trained_on}.")
    severity_recommendations(prediction.recommendations)


def severity_recommendations(recommendations) -> None:
    """The recommended next steps, urgent first, each with its sources."""
    from palsy_core.recommendations import disclaimer as recommendations_disclaimer

    st.markdown("**Next steps to consider**")
    for item in recommendations:
        st.markdown(f"{_PRIORITY_STYLE.get(item.priority, '')} {item.text}")
        st.caption("Source: " + "; ".join(item.sources))
    st.caption(recommendations_disclaimer())


def severity_model_card(card: Mapping[str, Any]) -> None:
    """The severity model's card on the Models page: what it is, how it did, the JSON."""
    import json

    import pandas as pd

    if card.get("trained_on_simulated_data"):
        severity_simulated_warning(card.get("name", ""))
    metrics = card.get("metrics") or {}
    config = card.get("config") or {}
    st.markdown(
        f"- **Model:** `{card.get('name')}` ({card.get('framework')}, {card.get('architecture')}"
        f"{', + frozen ' + config['image_features'] if config.get('image_features') else ''})\n"
        f"- **Classes:** {', '.join(config.get('classes', []))}; 'uncertain' below "
        f"{config.get('uncertain_below', 0.5):.0%} top-class probability\n"
        f"- **Trained on:** {card.get('trained_on', '')}\n"
        f"- **Intended use:** {card.get('intended_use', '')}\n"
        f"- **Version:** palsy_core {card.get('code_version', '?')}, trained {card.get('date', '?')}, "
        f"commit `{(card.get('git_commit') or '?')[:10]}`, weights sha256 "
        f"`{card.get('weights_sha256', '')[:12]}...`"
    )
    if metrics.get("why_this_model"):
        st.markdown(f"**Why this model:** {metrics['why_this_model']}")
    rows = []

    def row(name: str, m: Mapping[str, Any]) -> dict[str, Any]:
        return {"Model": name, "Accuracy": m.get("person_held_out_accuracy"),
                "Accuracy SD over folds": m.get("accuracy_sd_over_folds"),
                "Macro-F1": m.get("person_held_out_macro_f1"),
                "Macro-F1 SD over folds": m.get("macro_f1_sd_over_folds"), "Folds": m.get("folds")}

    if "person_held_out_accuracy" in metrics:
        rows.append(row(f"{card.get('name')} (shipped)", metrics))
    for name, other in (metrics.get("compared_on_the_same_split") or {}).items():
        rows.append(row(name, other))
    if rows:
        st.markdown("**On people it never saw** (person-held-out, simulated palsy)")
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    if card.get("attribution"):
        st.caption("Data: " + " ".join(card["attribution"]))
    with st.popover("Full model card (JSON)"):
        st.code(json.dumps(dict(card), indent=2), language="json")
