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

Protection of the data (schema 2):

- **At rest**: notes and photos are encrypted (Fernet: AES-128-CBC + HMAC-SHA256, from
  the maintained ``cryptography`` package) with a key kept in a separate file, never
  in the database: ``$PALSY_KEY_FILE``, else ``records.key`` beside a SQLite file (or
  ``data/records.key`` for a server database). It is created on first use with mode
  0600; the SQLite folder is 0700 and its files 0600; SQLite's ``secure_delete`` is
  switched on explicitly, so deleted notes and photos are overwritten. Back the key up
  apart from the database: without it, notes and photos cannot be read.
  :meth:`RecordStore.rotate_key` re-encrypts everything under a new key.
- **Saves never fail silently**: a new patient is created with an upsert (``INSERT ...
  ON CONFLICT DO NOTHING``), so concurrent first saves of one patient from several
  processes all land; ``save_key`` makes a save idempotent (the same analysis saved
  twice is one visit); a database that stays locked for :data:`BUSY_TIMEOUT_S` seconds
  gives :class:`RecordBusyError` ("try again"), and nothing is half-saved.
- **Audit trail**: every save, change, deletion, export and view that names an actor
  is appended to ``audit_log``, which the database itself refuses to update or delete
  (triggers on SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import StaticPool

from palsy_core.errors import PalsyError, PatientCodeError
from palsy_core.flatten import flatten_result, numeric_values
from palsy_core.safe_text import check_patient_code, csv_text
from palsy_core.vocabulary import EXPRESSION_LABELS

__all__ = [
    "AUDIT_ACTIONS",
    "BUSY_TIMEOUT_S",
    "DB_URL_ENV",
    "KEY_FILE_ENV",
    "AuditEntry",
    "RecordBusyError",
    "EXPRESSIONS",
    "PHOTO_SET",
    "SCHEMA_VERSION",
    "PatientSummary",
    "RecordError",
    "RecordStore",
    "VisitRecord",
    "SavedVisitId",
    "default_db_url",
    "default_key_file",
    "flatten_measurements",
]

#: Environment variable holding the SQLAlchemy database URL.
DB_URL_ENV = "PALSY_DB_URL"

#: Environment variable naming the file that holds the encryption key of notes and photos.
KEY_FILE_ENV = "PALSY_KEY_FILE"

#: Version of the schema this code writes. Bump it and add a step to ``_MIGRATIONS``
#: whenever a table changes.
SCHEMA_VERSION = 3

#: Longest a save waits for a locked database before it says "try again", in seconds.
BUSY_TIMEOUT_S = 5.0

#: What the audit trail records.
AUDIT_ACTIONS = ("view", "save", "change", "export", "delete", "sign_in", "sign_in_failed", "sign_out",
                 "account", "key_rotation")

#: The expressions a visit can record (what the patient was asked to do for the photo),
#: as people read them.
EXPRESSIONS = EXPRESSION_LABELS
#: The "expression" of a visit that stores a whole photo set (``VisitAnalysis.to_dict()``:
#: every photo with its movement, the movements and the scale estimates) as one record.
PHOTO_SET = "photo set"


class RecordError(PalsyError):
    """A record could not be saved, found or read; the message says what to do."""

    code = "record_error"
    title = "Patient records"


class RecordBusyError(RecordError):
    """The database stayed locked (another save, a backup) for :data:`BUSY_TIMEOUT_S`; nothing was saved."""

    code = "database_busy"
    title = "The records database is busy"


class SavedVisitId(int):
    """A saved visit's id; ``created`` is False when the same save had been made before."""

    created: bool

    def __new__(cls, value: int, created: bool = True) -> SavedVisitId:
        self = super().__new__(cls, value)
        self.created = created
        return self


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


def default_key_file(url: str) -> Path:
    """Where the encryption key of a database's notes and photos lives.

    ``$PALSY_KEY_FILE`` when set; else ``records.key`` in the folder of a SQLite file;
    else (an in-memory or server database) ``data/records.key`` in the repository root.
    """
    named = os.environ.get(KEY_FILE_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    path = _sqlite_path(url)
    if path is not None:
        return path.parent / "records.key"
    return Path(__file__).resolve().parents[1] / "data" / "records.key"


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
    sections = ("measurements", "region_asymmetry", "head_pose")
    if "photos" not in assessment:
        return numeric_values(flatten_result(assessment, sections))
    main = _trend_photo(assessment)
    values = {section: main[section] for section in sections if section in main}
    for scale, totals in (("efACE", ("static", "dynamic", "synkinesis", "total")),
                          ("sunnybrook", ("resting", "voluntary", "synkinesis", "total"))):
        values[scale] = {key: (assessment.get(scale) or {}).get(key) for key in totals}
    values["movements"] = {movement: {"ratio_percent": measure.get("ratio_percent")}
                           for movement, measure in (assessment.get("movements") or {}).items()
                           if isinstance(measure, Mapping)}
    return numeric_values(flatten_result(values))


def _trend_photo(assessment: Mapping[str, Any]) -> Mapping[str, Any]:
    """The analysis a visit's trend values come from: the assessment itself, or a photo
    set's rest photo (else its first)."""
    if "photos" not in assessment:
        return assessment
    photos = [p for p in assessment.get("photos") or [] if isinstance(p, Mapping)]
    return next((p for p in photos if p.get("movement") == "rest"), photos[0] if photos else {})


def region_measure(assessment: Mapping[str, Any], region: str) -> str | None:
    """The measure that scored ``region`` in a stored assessment (its trend photo's), or
    None when it holds none.

    The eye's measure changed with the version that reads it from the pixels
    (``"palpebral_fissure_flow"``; before, and for photos too soft for it,
    ``"palpebral_fissure_height"``): scores of different measures are not on one scale.
    """
    scored = (_trend_photo(assessment).get("region_asymmetry") or {}).get(region)
    return scored.get("measure") if isinstance(scored, Mapping) else None


def weaker_side_label(visit: VisitRecord) -> str:
    """The visit's weaker side for a listing: "left" / "right", "unclear" for a photo
    called asymmetric whose side it could not tell (the eye alone in a smile), else
    "none"."""
    if visit.affected_side:
        return visit.affected_side
    status = (visit.assessment.get("assessment") or {}).get("status")
    return "unclear" if status == "asymmetry" else "none"


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
    __table_args__ = (UniqueConstraint("patient_id", "save_key", name="uq_visits_patient_save_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    visit_date: Mapped[dt.date] = mapped_column(Date)
    expression: Mapped[str] = mapped_column(String(20))
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime)
    affected_side: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Encrypted (a Fernet token, see RecordStore); "" when there is no note.
    note: Mapped[str] = mapped_column(Text, default="")
    assessment_json: Mapped[str] = mapped_column(Text)
    provenance_json: Mapped[str] = mapped_column(Text)
    # Encrypted JPEG bytes.
    photo_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Idempotency key of the save (e.g. a digest of the analysed photo, date and expression).
    save_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    patient: Mapped[_Patient] = relationship(back_populates="visits")
    values: Mapped[list[_Value]] = relationship(back_populates="visit", cascade="all, delete-orphan")
    set_photos: Mapped[list[_SetPhoto]] = relationship(back_populates="visit", cascade="all, delete-orphan",
                                                       order_by="_SetPhoto.position")


class _SetPhoto(_Base):
    """One photo of a stored photo set (schema 3), encrypted JPEG like ``visits.photo_jpeg``."""

    __tablename__ = "visit_photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    movement: Mapped[str] = mapped_column(String(40))
    # Deferred: listing a visit's photos (movements, count) does not load the images.
    photo_jpeg: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    visit: Mapped[_Visit] = relationship(back_populates="set_photos")


class _Value(_Base):
    __tablename__ = "visit_values"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    value: Mapped[float] = mapped_column(Float)
    visit: Mapped[_Visit] = relationship(back_populates="values")


class _Audit(_Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(20))
    patient: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    visit_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class _Account(_Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(120), unique=True, index=True)
    # Argon2id hash (argon2-cffi's PHC string: algorithm, parameters, salt and hash).
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(DateTime)


def _migrate_to_2(session: Session, store: RecordStore) -> None:
    """Schema 1 -> 2: idempotency key column; notes and photos encrypted in place."""
    connection = session.connection()
    columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(visits)")} \
        if connection.dialect.name == "sqlite" else None
    if columns is None or "save_key" not in columns:
        connection.execute(text("ALTER TABLE visits ADD COLUMN save_key VARCHAR(128)"))
    connection.execute(text(
        "CREATE UNIQUE INDEX IF NOT EXISTS uq_visits_patient_save_key ON visits (patient_id, save_key)"))
    for visit_id, note, photo in connection.execute(text("SELECT id, note, photo_jpeg FROM visits")).all():
        connection.execute(
            text("UPDATE visits SET note = :note, photo_jpeg = :photo WHERE id = :id"),
            {"id": visit_id, "note": store._encrypt_text(note or ""),
             "photo": store._cipher.encrypt(bytes(photo)) if photo is not None else None})


def _migrate_to_3(session: Session, store: RecordStore) -> None:
    """Schema 2 -> 3: the ``visit_photos`` table of photo sets (created by ``create_all``
    before the migrations run); existing visits are unchanged."""


# version -> function(session, store) bringing the schema from version - 1 to version.
_MIGRATIONS: dict[int, Any] = {2: _migrate_to_2, 3: _migrate_to_3}

# The audit trail is append-only, enforced by the database, not only by this code.
_AUDIT_GUARDS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION palsy_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION palsy_audit_log_append_only()",
    ],
}


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
    #: A photo set's stored photos as (position, movement, JPEG bytes); only filled by
    #: ``RecordStore.get_visit``.
    set_photos: tuple = ()


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail: who did what to which record, when (UTC)."""

    entry_id: int
    at: dt.datetime
    actor: str
    action: str
    patient: str | None
    visit_id: int | None
    detail: str


class RecordStore:
    """Patient records in a SQL database, safe to share between threads and processes.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL. Defaults to ``default_db_url()`` (``$PALSY_DB_URL`` or a SQLite
        file under ``data/``). For a SQLite file the folder is created (mode 0700) and
        the file is created with mode 0600.
    key_file : path, optional
        File holding the encryption key of notes and photos (created, mode 0600, when
        missing). Defaults to :func:`default_key_file`.

    Raises
    ------
    RecordError
        If the database cannot be opened, was written by a newer schema version, or the
        key file is unreadable or does not open the stored data.
    """

    def __init__(self, url: str | None = None, *, key_file: str | os.PathLike | None = None):
        self.url = url or default_db_url()
        self.key_file = Path(key_file) if key_file is not None else default_key_file(self.url)
        self._engine = _make_engine(self.url)
        self._cipher = _load_cipher(self.key_file)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # Writes on SQLite take the write lock up front (BEGIN IMMEDIATE), so two writers
        # never deadlock on a lock upgrade; the busy timeout then queues them.
        self._write_sessions = sessionmaker(self._engine.execution_options(palsy_write=True),
                                            expire_on_commit=False)
        # One in-process lock for the in-memory SQLite database (one shared connection).
        self._write_lock = threading.Lock() if self.url in ("sqlite://", "sqlite:///:memory:") else _NoLock()
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
        save_key: str | None = None,
        actor: str | None = None,
        set_photos: Sequence[tuple[str, np.ndarray]] | None = None,
    ) -> SavedVisitId:
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
            One of ``EXPRESSIONS``, or :data:`PHOTO_SET` for a whole visit's photo set
            (``assessment`` is then ``VisitAnalysis.to_dict()``; each photo's landmarks
            are kept only where the clinician corrected them, ``landmarks_corrected``).
        photo : np.ndarray, optional
            (H, W, 3) uint8 RGB. Stored (as JPEG, no metadata, encrypted) only when given.
        provenance : Mapping, optional
            Model names/versions/training data; defaults to what the assessment names.
        note : str
            Free text from the clinician (encrypted at rest; shown as plain text).
        save_key : str, optional
            Idempotency key, at most 128 characters: a second save of the same patient
            with the same key stores nothing and returns the first visit's id (with
            ``created`` False). The app passes a digest of the analysed photo, scale,
            date and expression, so Save pressed three times is one visit.
        actor : str, optional
            Who saves (an account name), for the audit trail.
        set_photos : sequence of (movement, np.ndarray), optional
            A photo set's photos to store (encrypted JPEG, no metadata, like ``photo``).

        Returns
        -------
        SavedVisitId
            The visit's id (an ``int``); ``.created`` says whether it is new.

        Raises
        ------
        RecordBusyError
            The database stayed locked for :data:`BUSY_TIMEOUT_S` s; nothing was saved.
        RecordError
            Invalid input, or the database refused the save; nothing was saved.
        """
        code = _check_patient_code(patient)
        if expression not in EXPRESSIONS and expression != PHOTO_SET:
            raise RecordError(f"Unknown expression {expression!r}: choose one of {', '.join(EXPRESSIONS)}.")
        if save_key is not None and not 0 < len(save_key) <= 128:
            raise RecordError("A save key must be 1-128 characters long.")
        data = assessment.to_dict() if hasattr(assessment, "to_dict") else dict(assessment)
        data = {key: value for key, value in data.items() if key != "landmarks"}
        if "photos" in data:
            # A photo set keeps only landmarks the clinician corrected (the record of the correction).
            data["photos"] = [{k: v for k, v in p.items() if k != "landmarks" or p.get("landmarks_corrected")}
                              for p in data["photos"]]
        try:
            # NaN is not JSON (PostgreSQL's json type refuses it): store it as null.
            assessment_json = json.dumps(_finite_or_none(data), allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as error:
            raise RecordError(f"The assessment cannot be stored as JSON ({error}).") from error
        provenance = dict(provenance) if provenance is not None else _provenance_of(data)
        photo_token = self._cipher.encrypt(_encode_photo(photo)) if photo is not None else None
        set_tokens = [(str(movement), self._cipher.encrypt(_encode_photo(rgb)))
                      for movement, rgb in (set_photos or [])]
        values = flatten_measurements(data)

        def write(session: Session) -> SavedVisitId:
            now = _utcnow()
            patient_id = self._upsert_patient(session, code, now)
            if save_key is not None:
                existing = session.scalar(select(_Visit.id).where(
                    _Visit.patient_id == patient_id, _Visit.save_key == save_key))
                if existing is not None:
                    self._audit(session, actor, "save", code, existing, "same save repeated: nothing stored")
                    return SavedVisitId(existing, created=False)
            visit = _Visit(
                patient_id=patient_id,
                visit_date=visit_date or dt.date.today(),
                expression=expression,
                saved_at=now,
                affected_side=data.get("affected_side"),
                note=self._encrypt_text(note or ""),
                assessment_json=assessment_json,
                provenance_json=json.dumps(provenance, default=_json_default),
                photo_jpeg=photo_token,
                save_key=save_key,
                values=[_Value(name=name, value=value) for name, value in values.items()],
                set_photos=[_SetPhoto(position=i, movement=m, photo_jpeg=token)
                            for i, (m, token) in enumerate(set_tokens)],
            )
            session.add(visit)
            session.flush()
            self._audit(session, actor, "save", code, visit.id,
                        f"{expression}, {visit.visit_date.isoformat()}{', with photo' if photo is not None else ''}"
                        f"{f', {len(set_tokens)} photo(s)' if set_tokens else ''}")
            return SavedVisitId(visit.id, created=True)

        try:
            return self._write(write, "saving the visit")
        except IntegrityError:
            # Another process stored the same save_key between our check and our insert:
            # that save stands, and this one is the same visit.
            if save_key is None:
                raise RecordError("The visit could not be saved (the database refused it). "
                                  "Nothing was saved; try again.") from None
            with self._session() as session:
                existing = session.scalar(select(_Visit.id).join(_Patient).where(
                    _Patient.code == code, _Visit.save_key == save_key))
            if existing is None:
                raise RecordError("The visit could not be saved. Nothing was saved; try again.") from None
            return SavedVisitId(existing, created=False)

    def update_note(self, visit_id: int, note: str, *, actor: str | None = None) -> None:
        """Replace a visit's note (audited as a change)."""
        def write(session: Session) -> None:
            visit = session.get(_Visit, int(visit_id))
            if visit is None:
                raise RecordError(f"Visit {visit_id} does not exist (it may have been deleted).")
            visit.note = self._encrypt_text(note or "")
            self._audit(session, actor, "change", visit.patient.code, visit.id, "note changed")

        self._write(write, "changing the note")

    def delete_visit(self, visit_id: int, *, actor: str | None = None) -> None:
        """Delete one visit (with its photo and values).

        Raises
        ------
        RecordError
            If no visit has this id.
        """
        def write(session: Session) -> None:
            visit = session.get(_Visit, int(visit_id))
            if visit is None:
                raise RecordError(f"Visit {visit_id} does not exist (it may have been deleted already).")
            self._audit(session, actor, "delete", visit.patient.code, visit.id, "visit deleted")
            session.delete(visit)

        self._write(write, "deleting the visit")

    def delete_patient(self, patient: str, *, actor: str | None = None) -> int:
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
        def write(session: Session) -> int:
            row = self._patient_row(session, patient)
            count = len(row.visits)
            self._audit(session, actor, "delete", row.code, None, f"patient and {count} visit(s) deleted")
            session.delete(row)
            return count

        return self._write(write, "deleting the patient")

    def log(self, actor: str | None, action: str, patient: str | None = None, visit_id: int | None = None,
            detail: str = "") -> None:
        """Append one line to the audit trail (e.g. a view or an export by the app)."""
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        self._write(lambda session: self._audit(session, actor, action, patient, visit_id, detail),
                    "writing the audit trail")

    def rotate_key(self, *, actor: str | None = None) -> int:
        """Re-encrypt every note and photo under a new key, and make it the key file's first line.

        The old keys stay in the key file (after the new one) until every row is
        re-encrypted; they are then removed. Returns the number of visits re-encrypted.
        """
        from cryptography.fernet import Fernet, MultiFernet

        new_key = Fernet.generate_key()
        old_keys = _read_keys(self.key_file)
        _write_keys(self.key_file, [new_key, *old_keys])  # readable by both while rotating
        self._cipher = MultiFernet([Fernet(key) for key in (new_key, *old_keys)])

        def write(session: Session) -> int:
            count = 0
            for visit in session.scalars(select(_Visit)):
                if visit.note:
                    visit.note = self._cipher.rotate(visit.note.encode("ascii")).decode("ascii")
                if visit.photo_jpeg is not None:
                    visit.photo_jpeg = self._cipher.rotate(visit.photo_jpeg)
                for set_photo in visit.set_photos:
                    set_photo.photo_jpeg = self._cipher.rotate(set_photo.photo_jpeg)
                count += 1
            self._audit(session, actor, "key_rotation", None, None, f"{count} visit(s) re-encrypted")
            return count

        count = self._write(write, "re-encrypting the records")
        _write_keys(self.key_file, [new_key])
        self._cipher = MultiFernet([Fernet(new_key)])
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
            return [self._visit_record(visit, row.code, with_photo=False) for visit in row.visits]

    def get_visit(self, visit_id: int) -> VisitRecord:
        """One visit, with its photo (decrypted JPEG bytes) if one was stored."""
        with self._session() as session:
            visit = session.get(_Visit, int(visit_id))
            if visit is None:
                raise RecordError(f"Visit {visit_id} does not exist (it may have been deleted).")
            return self._visit_record(visit, visit.patient.code, with_photo=True)

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

    def export_csv(self, patient: str | None = None, *, actor: str | None = None) -> str:
        """Visits as CSV text, one row per visit and one column per stored value.

        Parameters
        ----------
        patient : str, optional
            Only this patient's visits; all patients when omitted.
        actor : str, optional
            Who exports, for the audit trail (nothing is logged without one).

        Returns
        -------
        str
            Columns: patient, visit_id, visit_date (ISO), expression, affected_side,
            photo_stored, note, then every value name in sorted order (empty when a
            visit lacks it). Text cells follow :func:`palsy_core.safe_text.csv_cell`.
        """
        with self._session() as session:
            query = select(_Visit).join(_Patient).order_by(_Patient.code, _Visit.visit_date, _Visit.id)
            if patient is not None:
                query = query.where(_Patient.id == self._patient_row(session, patient).id)
            rows = []
            for visit in session.scalars(query):
                values = {value.name: value.value for value in visit.values}
                fixed = [visit.patient.code, visit.id, visit.visit_date.isoformat(), visit.expression,
                         visit.affected_side or "", "yes" if visit.photo_jpeg is not None else "no",
                         self._decrypt_text(visit.note)]
                rows.append((fixed, values))
        names = sorted({name for _, values in rows for name in values})
        header = ["patient", "visit_id", "visit_date", "expression", "affected_side", "photo_stored", "note"]
        if actor is not None:
            self.log(actor, "export", patient, None,
                     f"CSV of {'patient ' + patient if patient else 'all patients'}, {len(rows)} visit(s)")
        return csv_text(header + names,
                        (fixed + [_csv_number(values.get(name)) for name in names] for fixed, values in rows))

    def audit_trail(self, *, limit: int | None = None, patient: str | None = None) -> list[AuditEntry]:
        """The audit trail, newest first."""
        query = select(_Audit).order_by(_Audit.id.desc())
        if patient is not None:
            query = query.where(_Audit.patient == patient)
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            return [AuditEntry(row.id, row.at, row.actor, row.action, row.patient, row.visit_id, row.detail)
                    for row in session.scalars(query)]

    def audit_csv(self) -> str:
        """The whole audit trail as CSV (oldest first)."""
        entries = list(reversed(self.audit_trail()))
        return csv_text(["id", "at_utc", "actor", "action", "patient", "visit_id", "detail"],
                        ([e.entry_id, e.at.isoformat(timespec="seconds"), e.actor, e.action, e.patient or "",
                          "" if e.visit_id is None else e.visit_id, e.detail] for e in entries))

    # -- internals ---------------------------------------------------------------

    def _session(self) -> Session:
        return self._sessions()

    def _write(self, work: Any, action: str) -> Any:
        """Run ``work(session)`` in one write transaction, committed, with clear errors."""
        try:
            with self._write_lock, self._write_sessions() as session:
                result = work(session)
                session.commit()
                return result
        except IntegrityError:
            raise
        except OperationalError as error:
            if _is_busy(error):
                raise RecordBusyError(
                    f"The records database is busy (another save or a backup holds it) and did not "
                    f"free up within {BUSY_TIMEOUT_S:.0f} seconds. Nothing was lost and nothing was "
                    "saved: try again in a moment."
                ) from None
            raise RecordError(
                f"The records database failed while {action} ({error.orig.__class__.__name__}). "
                "Nothing was saved; try again, and tell the administrator if it persists."
            ) from None
        except SQLAlchemyError as error:
            raise RecordError(
                f"The records database failed while {action} ({error.__class__.__name__}). "
                "Nothing was saved; try again, and tell the administrator if it persists."
            ) from None

    def _upsert_patient(self, session: Session, code: str, now: dt.datetime) -> int:
        # INSERT ... ON CONFLICT DO NOTHING: concurrent first saves of one patient never
        # collide; every one of them then finds the single row.
        dialect = session.bind.dialect.name
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            session.execute(insert(_Patient).values(code=code, created_at=now)
                            .on_conflict_do_nothing(index_elements=["code"]))
        else:  # other databases: a savepoint absorbs the rare duplicate
            try:
                with session.begin_nested():
                    session.add(_Patient(code=code, created_at=now))
            except IntegrityError:
                pass
        # FOR UPDATE (PostgreSQL): saves to one patient queue here, so a repeated save
        # key is seen by the second save instead of colliding with the first.
        return session.scalar(select(_Patient.id).where(_Patient.code == code).with_for_update())

    def _audit(self, session: Session, actor: str | None, action: str, patient: str | None,
               visit_id: int | None, detail: str) -> None:
        session.add(_Audit(at=_utcnow(), actor=(actor or _local_actor())[:120], action=action,
                           patient=patient, visit_id=visit_id, detail=detail))

    def _encrypt_text(self, text_value: str) -> str:
        return self._cipher.encrypt(text_value.encode("utf-8")).decode("ascii") if text_value else ""

    def _decrypt_text(self, token: str) -> str:
        if not token:
            return ""
        return self._decrypt(token.encode("ascii")).decode("utf-8")

    def _decrypt(self, token: bytes) -> bytes:
        from cryptography.fernet import InvalidToken

        try:
            return self._cipher.decrypt(token)
        except InvalidToken:
            raise RecordError(
                f"The stored notes and photos cannot be decrypted with the key in {self.key_file}: it is "
                "not the key this database was written with. Restore the key file from its backup."
            ) from None

    def _visit_record(self, visit: _Visit, code: str, *, with_photo: bool) -> VisitRecord:
        return VisitRecord(
            visit_id=visit.id,
            patient=code,
            visit_date=visit.visit_date,
            expression=visit.expression,
            saved_at=visit.saved_at,
            affected_side=visit.affected_side,
            note=self._decrypt_text(visit.note),
            assessment=json.loads(visit.assessment_json),
            provenance=json.loads(visit.provenance_json),
            has_photo=visit.photo_jpeg is not None or bool(visit.set_photos),
            photo_jpeg=self._decrypt(visit.photo_jpeg) if with_photo and visit.photo_jpeg is not None else None,
            set_photos=tuple((p.position, p.movement, self._decrypt(p.photo_jpeg))
                             for p in visit.set_photos) if with_photo else (),
        )

    def _patient_row(self, session: Session, patient: str) -> _Patient:
        code = _check_patient_code(patient)
        row = session.scalar(select(_Patient).where(_Patient.code == code))
        if row is None:
            raise RecordError(f"No patient with code {code!r} in the records.")
        return row

    def _create_or_migrate(self) -> None:
        # Several processes may open a new database at once: the schema is created in one
        # write transaction (BEGIN IMMEDIATE on SQLite), and a loser of a race on a server
        # database (duplicate table) simply tries again and finds it there.
        for attempt in range(5):
            try:
                self._create_or_migrate_once()
                break
            except (IntegrityError, OperationalError, SQLAlchemyError) as error:
                if isinstance(error, OperationalError) and not _is_busy(error) and attempt == 0 \
                        and self._engine.dialect.name == "sqlite":
                    raise RecordError(
                        f"Cannot open the records database at {self.safe_url}: {error.__class__.__name__}. "
                        f"Check {DB_URL_ENV} and that the database is reachable and writable."
                    ) from error
                if attempt == 4:
                    raise RecordError(
                        f"Cannot open the records database at {self.safe_url}: {error.__class__.__name__}. "
                        f"Check {DB_URL_ENV} and that the database is reachable and writable."
                    ) from error
                time.sleep(0.2 * (attempt + 1))
        _restrict_sqlite_files(self.url)

    def _create_or_migrate_once(self) -> None:
        with self._write_lock, self._write_sessions() as session:
            _Base.metadata.create_all(session.connection())
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
                    _MIGRATIONS[version](session, self)
                    session.add(_SchemaVersion(version=version, applied_at=_utcnow()))
            for statement in _AUDIT_GUARDS.get(self._engine.dialect.name, []):
                session.execute(text(statement))
            session.commit()

    @property
    def safe_url(self) -> str:
        """The database URL with any password masked, safe to show or log."""
        return self._engine.url.render_as_string(hide_password=True)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite") or url in ("sqlite://", "sqlite:///:memory:") or ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return Path(path).expanduser() if path else None


def _make_engine(url: str):
    try:
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                # One shared connection, or every thread would see its own empty database.
                engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
            else:
                path = _sqlite_path(url)
                if path is not None:
                    _prepare_private_file(path)
                engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S})
            _configure_sqlite(engine)
            return engine
        connect_args = {}
        if url.startswith("postgresql"):
            # Locks held longer than the busy timeout end the statement with a clear error
            # instead of hanging a save; an unreachable server fails within seconds.
            connect_args = {"connect_timeout": 5,
                            "options": f"-c lock_timeout={int(BUSY_TIMEOUT_S * 1000)}"}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        raise RecordError(
            f"Cannot use the records database URL ({error.__class__.__name__}: {error}). "
            f"Set {DB_URL_ENV} to a valid SQLAlchemy URL, e.g. sqlite:///records.sqlite3."
        ) from error


def _configure_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Transactions are begun by us (below), not by the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Overwrite deleted content (notes, photos) instead of leaving it in free pages;
        # set explicitly, whatever this SQLite build's default.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("palsy_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _prepare_private_file(path: Path) -> None:
    """Create the database folder (0700) and file (0600) before SQLite does (it would use the umask)."""
    try:
        folder = path.parent
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as error:
        raise RecordError(
            f"Cannot create the records database {path} ({error.strerror}). "
            f"Set {DB_URL_ENV} to a writable location."
        ) from error


def _restrict_sqlite_files(url: str) -> None:
    # Also tightens a database created by an older version (0644 in a 0755 folder).
    path = _sqlite_path(url)
    if path is None:
        return
    try:
        if path.parent.resolve() != Path.cwd().resolve():
            os.chmod(path.parent, 0o700)
        for candidate in (path, *(path.with_name(path.name + suffix) for suffix in ("-journal", "-wal", "-shm"))):
            if candidate.exists():
                os.chmod(candidate, 0o600)
    except OSError:
        pass  # not our file to change (e.g. a shared folder); the database still works


def _is_busy(error: OperationalError) -> bool:
    message = str(error.orig).lower()
    return ("database is locked" in message or "database table is locked" in message
            or "lock timeout" in message or "canceling statement due to lock" in message
            or getattr(error.orig, "sqlstate", None) == "55P03")


def _read_keys(path: Path) -> list[bytes]:
    return [line.strip().encode("ascii") for line in path.read_text().splitlines() if line.strip()]


def _write_keys(path: Path, keys: list[bytes]) -> None:
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("".join(key.decode("ascii") + "\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _load_cipher(path: Path):
    """The Fernet cipher of a key file (one base64 key per line, the first encrypts), created if missing."""
    from cryptography.fernet import Fernet, MultiFernet

    try:
        if not path.exists():
            if not path.parent.exists():
                path.parent.mkdir(mode=0o700, parents=True)
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                pass  # another process created it a moment ago
            else:
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(Fernet.generate_key().decode("ascii") + "\n")
        keys = _read_keys(path)
        return MultiFernet([Fernet(key) for key in keys])
    except (OSError, ValueError) as error:
        raise RecordError(
            f"Cannot use the records encryption key file {path} ({getattr(error, 'strerror', None) or error}). "
            f"Restore it from its backup, or set {KEY_FILE_ENV} to the right file."
        ) from None


def _local_actor() -> str:
    try:
        import getpass

        return f"local:{getpass.getuser()}"
    except Exception:  # no user name (containers): still an honest label
        return "local"


def _check_patient_code(patient: str) -> str:
    try:
        return check_patient_code(patient)
    except PatientCodeError as error:
        raise RecordError(str(error)) from None


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


def _csv_number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
