"""Local accounts of the app: names, roles and Argon2id password hashes, in the records database.

Passwords are hashed with Argon2id (``argon2-cffi``: a random salt per password, a slow,
memory-hard hash; never our own crypto). Verification takes the same time whether or not
the account exists, so a sign-in form does not reveal which names are accounts.

Roles:

- ``clinician``: assess photos, save visits, view and export one patient's records;
- ``admin``: everything a clinician does, plus accounts, the audit trail, the models
  page and the export of all patients.

Every change is written to the records' audit trail.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .records import RecordError, RecordStore, _Account, _utcnow

__all__ = ["MIN_PASSWORD_LENGTH", "ROLES", "Account", "AccountError", "AccountStore"]

#: The roles an account can have, least privileged first.
ROLES = ("clinician", "admin")
#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 10

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{1,63}$")
_HASHER = PasswordHasher()  # argon2-cffi's defaults (RFC 9106 low-memory profile)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong
    password. Made on first use, not at import (a hash takes ~0.3 s: the app's first page)."""
    return _HASHER.hash("not a password of anyone")


class AccountError(RecordError):
    """An account could not be created or changed; the message says why."""

    code = "account_error"
    title = "Account"


@dataclass(frozen=True)
class Account:
    """A signed-in (or listed) account."""

    username: str
    role: str
    active: bool
    created_at: dt.datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AccountStore:
    """Accounts kept in a :class:`RecordStore`'s database."""

    def __init__(self, store: RecordStore):
        self._store = store

    def count(self) -> int:
        """Number of accounts (0 before the first-run step created the first admin)."""
        with self._store._session() as session:
            return session.scalar(select(func.count(_Account.id))) or 0

    def list(self) -> list[Account]:
        """Every account, by name."""
        with self._store._session() as session:
            return [_account(row) for row in session.scalars(select(_Account).order_by(_Account.username))]

    def create(self, username: str, password: str, role: str, *, actor: str | None = None,
               first_admin: bool = False) -> Account:
        """Create an account.

        Parameters
        ----------
        first_admin : bool
            The first-run step: succeeds only while no account exists (two browsers
            racing through the first run cannot both create an admin).

        Raises
        ------
        AccountError
            Invalid name, role or password, or the name is taken.
        """
        name = _check_username(username)
        if role not in ROLES:
            raise AccountError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
        _check_password(password, name)
        password_hash = _HASHER.hash(password)

        def write(session) -> Account:
            if first_admin and session.scalar(select(func.count(_Account.id))):
                raise AccountError("The first administrator has already been created: sign in instead.")
            now = _utcnow()
            row = _Account(username=name, password_hash=password_hash, role=role, active=True,
                           created_at=now, password_changed_at=now)
            session.add(row)
            session.flush()
            self._store._audit(session, actor or name, "account", None, None, f"created {role} account {name}")
            return _account(row)

        try:
            return self._store._write(write, "creating the account")
        except IntegrityError:
            raise AccountError(f"An account named {name!r} already exists.") from None

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the name and password match an active account, else None.

        Every attempt is written to the audit trail (``sign_in`` or ``sign_in_failed``).
        """
        name = (username or "").strip()
        dummy = _dummy_hash()  # before the look-up: the first attempt costs the same either way
        with self._store._session() as session:
            row = session.scalar(select(_Account).where(_Account.username == name)) if name else None
            stored = row.password_hash if row is not None else dummy
        try:
            ok = _HASHER.verify(stored, password or "") and row is not None and row.active
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        self._store.log(name[:120] or "(empty)", "sign_in" if ok else "sign_in_failed")
        if not ok:
            return None
        if _HASHER.check_needs_rehash(stored):  # parameters raised since it was hashed
            self._set_hash(name, _HASHER.hash(password), actor=name, detail="password re-hashed")
        return _account(row)

    def get(self, username: str) -> Account | None:
        """An account by name (None when unknown)."""
        with self._store._session() as session:
            row = session.scalar(select(_Account).where(_Account.username == (username or "").strip()))
            return _account(row) if row is not None else None

    def set_password(self, username: str, password: str, *, actor: str) -> None:
        """Give an account a new password."""
        _check_password(password, username)
        self._set_hash(username, _HASHER.hash(password), actor=actor, detail="password changed")

    def set_role(self, username: str, role: str, *, actor: str) -> None:
        """Change an account's role (the last active admin cannot be demoted)."""
        if role not in ROLES:
            raise AccountError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
        self._change(username, actor, lambda row: setattr(row, "role", role), f"role set to {role}",
                     keeps_an_admin=role == "admin")

    def set_active(self, username: str, active: bool, *, actor: str) -> None:
        """Enable or disable an account (the last active admin cannot be disabled)."""
        self._change(username, actor, lambda row: setattr(row, "active", bool(active)),
                     "enabled" if active else "disabled", keeps_an_admin=bool(active))

    def _set_hash(self, username: str, password_hash: str, *, actor: str, detail: str) -> None:
        def change(row: _Account) -> None:
            row.password_hash = password_hash
            row.password_changed_at = _utcnow()

        self._change(username, actor, change, detail, keeps_an_admin=True)

    def _change(self, username: str, actor: str, change, detail: str, *, keeps_an_admin: bool) -> None:
        def write(session) -> None:
            row = session.scalar(select(_Account).where(_Account.username == username))
            if row is None:
                raise AccountError(f"No account named {username!r}.")
            change(row)
            session.flush()
            if not keeps_an_admin:
                admins = session.scalar(select(func.count(_Account.id)).where(
                    _Account.role == "admin", _Account.active.is_(True)))
                if not admins:
                    raise AccountError("This would leave no active administrator: make another admin first.")
            self._store._audit(session, actor, "account", None, None, f"{username}: {detail}")

        self._store._write(write, "changing the account")


def _account(row: _Account) -> Account:
    return Account(row.username, row.role, bool(row.active), row.created_at)


def _check_username(username: str) -> str:
    name = (username or "").strip()
    if not _USERNAME.match(name):
        raise AccountError("An account name is 2-64 letters, digits, '.', '_', '-' or '@', with no spaces.")
    return name


def _check_password(password: str, username: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if password.strip().lower() == (username or "").strip().lower():
        raise AccountError("The password must not be the account name.")
