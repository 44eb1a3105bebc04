"""Command line: ``python -m palsy_core analyze PATH... [--csv OUT]`` (and ``video CLIP``,
``visit PHOTO... [--expressions rest,smile,...] [--xlsx OUT]``: one JSON object per visit).

Prints one JSON object per input on stdout, in input order; a failed input gets its
line too (``"ok": false`` and a readable ``"error"``) and the others go on.
Diagnostics go to stderr, so stdout stays machine-readable.

Exit status: 0 every input analysed; 1 some inputs failed (each says why); 2 usage
error (bad arguments, a model that is not installed, an output file that cannot be
written); 3 internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from ._native_log import VERBOSE_ENV
from .analysis import Analyzer, AnalyzerOptions
from .assessment import not_found
from .errors import ModelNotInstalledError, NoFaceError, PalsyError
from .export_xlsx import visits_to_xlsx
from .face.features import FEATURE_NAMES
from .face.measurements import MEASUREMENT_NAMES
from .flatten import flatten_result
from .imageio import IMAGE_SUFFIXES
from .safe_text import csv_text
from .video import add_video_subcommand
from .visit import MOVEMENTS, analyze_visit
from .vocabulary import EXPRESSIONS, REGIONS, Expression

#: Exit statuses (documented in the README).
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


#: Keys every JSON line carries, in this order, whether the input succeeded or not.
_EMPTY_RESULT = {
    "image_size": None, "faces_found": 0, "landmarks": None, "blendshapes": None,
    "head_pose": None, "features": None, "feature_names": None, "measurements": None,
    "mm_per_pixel": None, "scale_source": None, "region_asymmetry": None,
    "affected_side": None, "expression": None, "headline": None, "assessment": None,
    "pose_correction": None, "warnings": [], "palsy": None, "timings_ms": None,
}
#: ``--expression`` choices: what the patient was asked to do ("detect": read the face).
EXPRESSION_CHOICES = ("detect", *EXPRESSIONS)


def iter_inputs(paths: Iterable[str]) -> Iterator[Path]:
    """Expand the arguments: files as given (always tried), directories walked in sorted
    order for the :data:`~palsy_core.imageio.IMAGE_SUFFIXES` file types."""
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                        yield Path(root) / name
        else:
            yield path


def analyze_paths(analyzer, paths: Iterable[Path], mm_per_pixel: float | None = None,
                  expression: Expression | None = None) -> Iterator[dict]:
    """One JSON-ready record per path; failures become records, never exceptions.

    A photo without a face still gets an ``assessment``: not assessable, reason ``no_face``.
    """
    for path in paths:
        record = {"file": display_path(path), "ok": False, "error": None, "error_code": None}
        try:
            result = analyzer.analyze(path, source=display_path(path), mm_per_pixel=mm_per_pixel,
                                      expression=expression)
        except PalsyError as exc:
            record.update(_EMPTY_RESULT, error=str(exc), error_code=exc.code)
            if isinstance(exc, NoFaceError):
                record["assessment"] = not_found(str(exc)).to_dict()
        except Exception as exc:  # a bug must not stop a batch: report it, go on
            record.update(_EMPTY_RESULT, error=f"Unexpected error ({type(exc).__name__}: "
                          f"{exc}). Please report it.", error_code="internal_error")
        else:
            record.update(result.to_dict(), ok=True)
        yield record


def display_path(path: Path | str) -> str:
    """A path as valid UTF-8 text: bytes of a file name that are not UTF-8 (e.g. Latin-1
    names on a Linux disk) are written as ``\\xNN`` escapes instead of breaking JSON or CSV."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _csv_row(record: dict) -> dict:
    """One CSV row of a record: column names are the flattened result's paths, shortened."""
    values = flatten_result(record)
    row = {"file": values["file"], "ok": values["ok"], "error": values["error"] or "",
           "status": values.get("assessment.status", ""),
           "not_assessable_reasons": " ".join(r["code"] for r in values.get("assessment.reasons", [])),
           "affected_side": values["affected_side"] or "",
           "expression": values["expression"] or "",
           "palsy_probability": values.get("palsy.probability", ""),
           "severity_class": values.get("severity.class", "")}
    features = values["features"] or [""] * len(FEATURE_NAMES)
    row.update({f"f{i}_{name}": value for i, (name, value) in enumerate(zip(FEATURE_NAMES, features))})
    for name in MEASUREMENT_NAMES:
        for key in ("left", "right", "difference", "percent_difference"):
            row[f"{name}_{key}"] = values.get(f"measurements.{name}.{key}", "")
    for region in REGIONS:
        row[f"{region}_asymmetry_score"] = values.get(f"region_asymmetry.{region}.score", "")
        row[f"{region}_weaker_side"] = values.get(f"region_asymmetry.{region}.weaker_side") or ""
    return row


def _cmd_analyze(args) -> int:
    palsy_model = None if args.no_palsy_model else (args.palsy_model or "default")
    task_models = {} if args.no_segmentation else _installed_task_model("parsing")
    if not args.no_severity:
        task_models.update(_installed_task_model("severity"))
    failed = internal = 0
    rows = []
    with Analyzer(AnalyzerOptions(palsy_model=palsy_model, task_models=task_models)) as analyzer:
        expression = None if args.expression == "detect" else args.expression
        for record in analyze_paths(analyzer, iter_inputs(args.paths), args.mm_per_pixel,
                                    expression):
            failed += not record["ok"]
            internal += record["error_code"] == "internal_error"
            print(json.dumps(record), flush=True)
            if args.csv:
                rows.append(_csv_row(record))
    if args.csv:
        header = list(_csv_row({"file": "", "ok": False, "error": None, **_EMPTY_RESULT}))
        text = csv_text(header, ([row[key] for key in header] for row in rows))
        try:
            with open(args.csv, "w", newline="", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as error:
            print(f"Cannot write the CSV file {display_path(args.csv)}: {error.strerror or error}.",
                  file=sys.stderr)
            return EXIT_USAGE
    if internal:
        return EXIT_INTERNAL
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _installed_task_model(task: str) -> dict:
    """``{task: "default"}`` when a default model of ``task`` is installed, else nothing."""
    from .models import default_model_name  # torch: loads with the first model, not with the CLI

    try:
        default_model_name(task)
    except ModelNotInstalledError:
        return {}
    return {task: "default"}


def _cmd_visit(args) -> int:
    """``visit PHOTO... [--expressions rest,smile,...] [--xlsx OUT]``: one JSON object."""
    paths = list(iter_inputs(args.paths))
    expressions = None
    if args.expressions:
        expressions = [None if e.strip() in ("", "detect") else e.strip()
                       for e in args.expressions.split(",")]
        if len(expressions) != len(paths):
            print(f"--expressions names {len(expressions)} movement(s) for {len(paths)} photo(s): "
                  "give one per photo, in order (\"detect\" to detect one).", file=sys.stderr)
            return EXIT_USAGE
    with Analyzer(AnalyzerOptions(palsy_model=None)) as analyzer:
        try:
            visit = analyze_visit([str(p) for p in paths], expressions, analyzer,
                                  mm_per_pixel=args.mm_per_pixel,
                                  sources=[display_path(p) for p in paths])
        except ValueError as error:  # an unknown movement
            print(str(error), file=sys.stderr)
            return EXIT_USAGE
        except PalsyError as error:  # a photo that cannot be read or shows no face
            print(f"{error.title}: {error}", file=sys.stderr)
            return EXIT_SOME_FAILED
    print(json.dumps(visit.to_dict()), flush=True)
    if args.xlsx:
        try:
            visits_to_xlsx([visit], args.xlsx)
        except OSError as error:
            print(f"Cannot write the Excel file {display_path(args.xlsx)}: {error.strerror or error}.",
                  file=sys.stderr)
            return EXIT_USAGE
    return EXIT_OK


def add_visit_subcommand(sub) -> None:
    visit = sub.add_parser("visit", help="analyse one visit's photo set; one JSON object")
    visit.add_argument("paths", nargs="+", help="the visit's photos (directories are walked)")
    visit.add_argument("--expressions", metavar="LIST", default=None,
                       help="comma-separated movement of each photo, in order: "
                            f"{', '.join(MOVEMENTS)} (or 'smile', 'eyes closed', 'detect'); "
                            "default: detect each from the face")
    visit.add_argument("--xlsx", metavar="OUT", help="also write an Excel sheet (one row per photo)")
    visit.add_argument("--mm-per-pixel", type=float, default=None,
                       help="known scale of the rest photo instead of its iris")
    visit.set_defaults(handler=_cmd_visit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m palsy_core",
                                     description="Facial palsy assessment from face photos.")
    sub = parser.add_subparsers(dest="command", required=True)
    analyze = sub.add_parser("analyze", help="analyse photos; one JSON line per input")
    analyze.add_argument("paths", nargs="+", help="image files or directories (walked)")
    analyze.add_argument("--csv", metavar="OUT", help="also write one CSV row per input")
    analyze.add_argument("--mm-per-pixel", type=float, default=None,
                         help="known scale instead of the iris-based estimate")
    analyze.add_argument("--expression", choices=EXPRESSION_CHOICES, default="detect",
                         help="what the patient was asked to do; it wins over the expression "
                              "the face seems to show and picks the normal limits (only rest "
                              "and smile have limits); a face that contradicts it is not "
                              "assessable (default: detect it from the face)")
    analyze.add_argument("--palsy-model", default=None,
                         help="registered palsy model name (default: the shipped default)")
    analyze.add_argument("--no-palsy-model", action="store_true",
                         help="skip the palsy probability")
    analyze.add_argument("--no-segmentation", action="store_true",
                         help="skip face parsing (JSON \"segmentation\": classes, pixel "
                              "shares, the paralysed region's side); it runs when installed")
    analyze.add_argument("--no-severity", action="store_true",
                         help="skip the six-class severity grade (JSON \"severity\": class, "
                              "probabilities, recommendations); it runs when installed")
    analyze.set_defaults(handler=_cmd_analyze)
    add_video_subcommand(sub)
    add_visit_subcommand(sub)
    verbose_help = "also show MediaPipe's and TF Lite's own log lines on stderr"
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    for command in sub.choices.values():  # accepted after the command's name too
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                             help=verbose_help)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse has printed the help (0) or what is wrong (2)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) closed stdout: nothing went wrong here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a bug, or a model that cannot load: one line, never a traceback
        if isinstance(error, PalsyError):
            print(f"{error.title}: {error}", file=sys.stderr)
            return EXIT_USAGE  # e.g. a model named on the command line is not installed
        print(f"Internal error ({type(error).__name__}: {error}). Please report it.", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
