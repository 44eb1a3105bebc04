"""Patient records: assessments saved on the clinician's request, compared across visits.

Storage goes through SQLAlchemy, so the same code runs on SQLite (the default, one file
beside the code) and on PostgreSQL (set ``PALSY_DB_URL``, e.g.
``postgresql+psycopg://user:pass@host/db``). The schema is created on first use and its
version is kept in a ``schema_version`` table so later releases can migrate it.

Patients are known only by a pseudonymous code chosen by the clinician (never a name).
A visit stores the assessment as JSON (``AnalysisResult.to_dict()`` without the 478
landmarks), every numeric measurement flattened to one ``name -> value`` row for
plotting, the provenance of the models that produced it, and the photo only when the
clinician explicitly asks for it (re-encoded as JPEG, which drops EXIF metadata such as
GPS position or camera serial numbers).

Every public method opens its own short session, so one ``RecordStore`` can be shared
by the threads of a web server.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool

from palsy_core.errors import PalsyError

__all__ = [
    "DB_URL_ENV",
    "EXPRESSIONS",
    "SCHEMA_VERSION",
    "PatientSummary",
    "RecordError",
    "RecordStore",
    "VisitRecord",
    "default_db_url",
    "flatten_measurements",
]

#: Environment variable holding the SQLAlchemy database URL.
DB_URL_ENV = "PALSY_DB_URL"

#: Version of the schema this code writes. Bump it and add a step to ``_MIGRATIONS``
#: whenever a table changes.
SCHEMA_VERSION = 1

#: The expressions a visit can record (what the patient was asked to do for the photo).
EXPRESSIONS = ("rest", "smile", "brow raise", "eyes closed")

# Pseudonymous codes: short, no spaces, so that a full name is unlikely to be typed in.
_PATIENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")


class RecordError(PalsyError):
    """A record could not be saved, found or read; the message says what to do."""

    code = "record_error"


def default_db_url() -> str:
    """The database URL in use when none is given.

    Returns
    -------
    str
        ``$PALSY_DB_URL`` when set, else a SQLite file ``data/records.sqlite3`` in the
        repository root.
    """
    url = os.environ.get(DB_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{Path(__file__).resolve().parents[1] / 'data' / 'records.sqlite3'}"


def flatten_measurements(assessment: Mapping[str, Any]) -> dict[str, float]:
    """Every plottable number of an assessment as one flat ``name -> value`` mapping.

    Parameters
    ----------
    assessment : Mapping
        ``AnalysisResult.to_dict()`` (or the same dict without landmarks).

    Returns
    -------
    dict of str to float
        Keys are dotted paths, e.g. ``"measurements.brow_height.left"`` (millimetres,
        as the measurement module reports them), ``"region_asymmetry.mouth"``,
        ``"head_pose.yaw"`` (degrees). Missing values (None, NaN) are left out.
    """
    flat: dict[str, float] = {}
    for section in ("measurements", "region_asymmetry", "head_pose"):
        if section in assessment:
            _flatten_into(flat, section, assessment[section])
    return flat


def _flatten_into(flat: dict[str, float], prefix: str, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if np.isfinite(number):
            flat[prefix] = number
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _flatten_into(flat, f"{prefix}.{key}", item)


class _Base(DeclarativeBase):
    pass


class _SchemaVersion(_Base):
    __tablename__ = "schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime)


class _Patient(_Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    visits: Mapped[list[_Visit]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="_Visit.visit_date"
    )


class _Visit(_Base):
    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    visit_date: Mapped[dt.date] = mapped_column(Date)
    expression: Mapped[str] = mapped_column(String(20))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime)
    affected_side: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    assessment_json: Mapped[str] = mapped_column(Text)
    provenance_json: Mapped[str] = mapped_column(Text)
    photo_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    patient: Mapped[_Patient] = relationship(back_populates="visits")
    values: Mapped[list[_Value]] = relationship(back_populates="visit", cascade="all, delete-orphan")


class _Value(_Base):
    __tablename__ = "visit_values"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    value: Mapped[float] = mapped_column(Float)
    visit: Mapped[_Visit] = relationship(back_populates="values")


# version -> function(connection) bringing the schema from version - 1 to version.
_MIGRATIONS: dict[int, Any] = {}


@dataclass(frozen=True)
class PatientSummary:
    """One patient as listed: pseudonymous code, number of visits, first and last visit date."""

    code: str
    visits: int
    first_visit: dt.date | None
    last_visit: dt.date | None


@dataclass(frozen=True)
class VisitRecord:
    """One saved visit.

    Attributes
    ----------
    visit_id : int
    patient : str
        Pseudonymous patient code.
    visit_date : datetime.date
    expression : str
        One of ``EXPRESSIONS``.
    saved_at : datetime.datetime
        When the clinician pressed save (UTC, naive).
    affected_side : str or None
        As the assessment reported it.
    note : str
    assessment : dict
        The stored ``AnalysisResult.to_dict()`` (without landmarks).
    provenance : dict
        Which models produced the assessment (names, versions, training data).
    has_photo : bool
    photo_jpeg : bytes or None
        Only filled by ``RecordStore.get_visit``; listings leave it out.
    """

    visit_id: int
    patient: str
    visit_date: dt.date
    expression: str
    saved_at: dt.datetime
    affected_side: str | None
    note: str
    assessment: dict
    provenance: dict
    has_photo: bool
    photo_jpeg: bytes | None = None


class RecordStore:
    """Patient records in a SQL database, safe to share between threads.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL. Defaults to ``default_db_url()`` (``$PALSY_DB_URL`` or a SQLite
        file under ``data/``). For a SQLite file the folder is created.

    Raises
    ------
    RecordError
        If the database cannot be opened or was written by a newer schema version.
    """

    def __init__(self, url: str | None = None):
        self.url = url or default_db_url()
        self._engine = _make_engine(self.url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # SQLite allows one writer at a time; serialising our own writes avoids
        # "database is locked" between the threads of one server process.
        self._write_lock = threading.Lock() if self._engine.dialect.name == "sqlite" else _NoLock()
        self._create_or_migrate()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------

    def save_visit(
        self,
        patient: str,
        assessment: Mapping[str, Any] | Any,
        *,
        visit_date: dt.date | None = None,
        expression: str = "rest",
        photo: np.ndarray | None = None,
        provenance: Mapping[str, Any] | None = None,
        note: str = "",
    ) -> int:
        """Save one assessment to a patient's record (the patient is created if new).

        Parameters
        ----------
        patient : str
            Pseudonymous code: 1-40 letters, digits, ``_``, ``.`` or ``-``.
        assessment : AnalysisResult or Mapping
            The result, or its ``to_dict()``. Landmarks are not stored.
        visit_date : datetime.date, optional
            Defaults to today.
        expression : str
            One of ``EXPRESSIONS``.
        photo : np.ndarray, optional
            (H, W, 3) uint8 RGB. Stored (as JPEG, no metadata) only when given.
        provenance : Mapping, optional
            Model names/versions/training data; defaults to what the assessment names.
        note : str
            Free text from the clinician.

        Returns
        -------
        int
            The new visit's id.
        """
        code = _check_patient_code(patient)
        if expression not in EXPRESSIONS:
            raise RecordError(f"Unknown expression {expression!r}: choose one of {', '.join(EXPRESSIONS)}.")
        data = assessment.to_dict() if hasattr(assessment, "to_dict") else dict(assessment)
        data = {key: value for key, value in data.items() if key != "landmarks"}
        try:
            # NaN is not JSON (PostgreSQL's json type refuses it): store it as null.
            assessment_json = json.dumps(_finite_or_none(data), allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as error:
            raise RecordError(f"The assessment cannot be stored as JSON ({error}).") from error
        provenance = dict(provenance) if provenance is not None else _provenance_of(data)
        now = _utcnow()
        visit = _Visit(
            visit_date=visit_date or dt.date.today(),
            expression=expression,
            saved_at=now,
            affected_side=data.get("affected_side"),
            note=note or "",
            assessment_json=assessment_json,
            provenance_json=json.dumps(provenance, default=_json_default),
            photo_jpeg=_encode_photo(photo) if photo is not None else None,
            values=[_Value(name=name, value=value) for name, value in flatten_measurements(data).items()],
        )
        with self._write_lock, self._session() as session:
            row = session.scalar(select(_Patient).where(_Patient.code == code))
            if row is None:
                row = _Patient(code=code, created_at=now)
                session.add(row)
            row.visits.append(visit)
            session.commit()
            return visit.id

    def delete_visit(self, visit_id: int) -> None:
        """Delete one visit (with its photo and values).

        Raises
        ------
        RecordError
            If no visit has this id.
        """
        with self._write_lock, self._session() as session:
            visit = session.get(_Visit, int(visit_id))
            if visit is None:
                raise RecordError(f"Visit {visit_id} does not exist (it may have been deleted already).")
            session.delete(visit)
            session.commit()

    def delete_patient(self, patient: str) -> int:
        """Delete a patient and all their visits.

        Returns
        -------
        int
            How many visits were deleted.

        Raises
        ------
        RecordError
            If the patient is unknown.
        """
        with self._write_lock, self._session() as session:
            row = self._patient_row(session, patient)
            count = len(row.visits)
            session.delete(row)
            session.commit()
            return count

    # -- reading -----------------------------------------------------------------

    def list_patients(self) -> list[PatientSummary]:
        """All patients, sorted by code."""
        query = (
            select(_Patient.code, func.count(_Visit.id), func.min(_Visit.visit_date), func.max(_Visit.visit_date))
            .outerjoin(_Visit, _Visit.patient_id == _Patient.id)
            .group_by(_Patient.id, _Patient.code)
            .order_by(_Patient.code)
        )
        with self._session() as session:
            return [PatientSummary(code, count, first, last) for code, count, first, last in session.execute(query)]

    def list_visits(self, patient: str) -> list[VisitRecord]:
        """A patient's visits, oldest first (photos not loaded)."""
        with self._session() as session:
            row = self._patient_row(session, patient)
            return [_visit_record(visit, row.code, with_photo=False) for visit in row.visits]

    def get_visit(self, visit_id: int) -> VisitRecord:
        """One visit, with its photo if one was stored."""
        with self._session() as session:
            visit = session.get(_Visit, int(visit_id))
            if visit is None:
                raise RecordError(f"Visit {visit_id} does not exist (it may have been deleted).")
            return _visit_record(visit, visit.patient.code, with_photo=True)

    def measurement_history(self, patient: str) -> list[dict[str, Any]]:
        """Every stored value of every visit of a patient, in long format for plotting.

        Returns
        -------
        list of dict
            One row per (visit, value): ``visit_id``, ``visit_date`` (date),
            ``expression``, ``name`` (dotted path, see ``flatten_measurements``),
            ``value`` (float, millimetres / degrees / ratio as the name says), sorted
            by visit date then name.
        """
        with self._session() as session:
            row = self._patient_row(session, patient)
            query = (
                select(_Visit.id, _Visit.visit_date, _Visit.expression, _Value.name, _Value.value)
                .join(_Value, _Value.visit_id == _Visit.id)
                .where(_Visit.patient_id == row.id)
                .order_by(_Visit.visit_date, _Visit.id, _Value.name)
            )
            return [
                {"visit_id": vid, "visit_date": date, "expression": expr, "name": name, "value": value}
                for vid, date, expr, name, value in session.execute(query)
            ]

    def export_csv(self, patient: str | None = None) -> str:
        """Visits as CSV text, one row per visit and one column per stored value.

        Parameters
        ----------
        patient : str, optional
            Only this patient's visits; all patients when omitted.

        Returns
        -------
        str
            Columns: patient, visit_id, visit_date (ISO), expression, affected_side,
            photo_stored, note, then every value name in sorted order (empty when a
            visit lacks it).
        """
        with self._session() as session:
            query = select(_Visit).join(_Patient).order_by(_Patient.code, _Visit.visit_date, _Visit.id)
            if patient is not None:
                query = query.where(_Patient.id == self._patient_row(session, patient).id)
            rows = []
            for visit in session.scalars(query):
                values = {value.name: value.value for value in visit.values}
                fixed = {
                    "patient": visit.patient.code,
                    "visit_id": visit.id,
                    "visit_date": visit.visit_date.isoformat(),
                    "expression": visit.expression,
                    "affected_side": visit.affected_side or "",
                    "photo_stored": "yes" if visit.photo_jpeg is not None else "no",
                    "note": _csv_text(visit.note),
                }
                rows.append((fixed, values))
        names = sorted({name for _, values in rows for name in values})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        header = ["patient", "visit_id", "visit_date", "expression", "affected_side", "photo_stored", "note"]
        writer.writerow(header + names)
        for fixed, values in rows:
            writer.writerow([fixed[key] for key in header] + [_csv_number(values.get(name)) for name in names])
        return out.getvalue()

    # -- internals ---------------------------------------------------------------

    def _session(self) -> Session:
        return self._sessions()

    def _patient_row(self, session: Session, patient: str) -> _Patient:
        code = _check_patient_code(patient)
        row = session.scalar(select(_Patient).where(_Patient.code == code))
        if row is None:
            raise RecordError(f"No patient with code {code!r} in the records.")
        return row

    def _create_or_migrate(self) -> None:
        try:
            with self._write_lock:
                _Base.metadata.create_all(self._engine)
                with self._session() as session:
                    current = session.scalar(select(func.max(_SchemaVersion.version)))
                    if current is None:
                        session.add(_SchemaVersion(version=SCHEMA_VERSION, applied_at=_utcnow()))
                    elif current > SCHEMA_VERSION:
                        raise RecordError(
                            f"The records database at {self.safe_url} was written by a newer version "
                            f"of this software (schema {current}, this one knows {SCHEMA_VERSION}): upgrade."
                        )
                    else:
                        for version in range(current + 1, SCHEMA_VERSION + 1):
                            _MIGRATIONS[version](session.connection())
                            session.add(_SchemaVersion(version=version, applied_at=_utcnow()))
                    session.commit()
        except SQLAlchemyError as error:
            raise RecordError(
                f"Cannot open the records database at {self.safe_url}: {error.__class__.__name__}. "
                f"Check {DB_URL_ENV} and that the database is reachable and writable."
            ) from error

    @property
    def safe_url(self) -> str:
        """The database URL with any password masked, safe to show or log."""
        return self._engine.url.render_as_string(hide_password=True)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _make_engine(url: str):
    try:
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                # One shared connection, or every thread would see its own empty database.
                return create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path:
                try:
                    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise RecordError(
                        f"Cannot create the folder of the records database {path} ({error.strerror}). "
                        f"Set {DB_URL_ENV} to a writable location."
                    ) from error
            return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        return create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        raise RecordError(
            f"Cannot use the records database URL ({error.__class__.__name__}: {error}). "
            f"Set {DB_URL_ENV} to a valid SQLAlchemy URL, e.g. sqlite:///records.sqlite3."
        ) from error


def _check_patient_code(patient: str) -> str:
    code = (patient or "").strip()
    if not _PATIENT_CODE.match(code):
        raise RecordError(
            "Enter a pseudonymous patient code (1-40 letters, digits, '-', '_' or '.', no spaces), "
            "for example P-0042. Never use the patient's name."
        )
    return code


def _encode_photo(rgb: np.ndarray) -> bytes:
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise RecordError("The photo to store must be an (H, W, 3) uint8 RGB image.")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _provenance_of(data: Mapping[str, Any]) -> dict[str, Any]:
    provenance: dict[str, Any] = {}
    for key in ("palsy", "severity", "segmentation", "models", "landmarker"):
        if data.get(key) is not None:
            provenance[key] = data[key]
    return provenance


def _visit_record(visit: _Visit, code: str, *, with_photo: bool) -> VisitRecord:
    return VisitRecord(
        visit_id=visit.id,
        patient=code,
        visit_date=visit.visit_date,
        expression=visit.expression,
        saved_at=visit.saved_at,
        affected_side=visit.affected_side,
        note=visit.note,
        assessment=json.loads(visit.assessment_json),
        provenance=json.loads(visit.provenance_json),
        has_photo=visit.photo_jpeg is not None,
        photo_jpeg=visit.photo_jpeg if with_photo else None,
    )


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _csv_text(text: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheet programs.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
