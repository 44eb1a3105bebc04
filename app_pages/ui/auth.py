"""Who is using the app: sign-in, the first-run step, session expiry and roles.

Sign-in is on by default and works offline: local accounts (``palsy_core.accounts``,
Argon2id hashes) in the records database. A hospital with an identity provider can
use OpenID Connect instead (Streamlit's ``st.login``, configured in
``.streamlit/secrets.toml`` under ``[auth]``); the signed-in e-mail must then match a
local account, which gives the role.

``PALSY_AUTH=off`` turns sign-in off for a single-user laptop demo: every page then
says so, in a banner that cannot be missed, and the user acts as a local admin.

A signed-in session ends after :data:`IDLE_TIMEOUT_S` without activity, after
:data:`MAX_SESSION_S` in all, on "Sign out", and when the browser tab closes (a
Streamlit session lives in one tab's connection; nothing is kept in a cookie).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import streamlit as st

from palsy_core.accounts import MIN_PASSWORD_LENGTH, Account, AccountError, AccountStore
from app_pages.ui import services
from app_pages.ui.errors import attempt, show_error

#: Environment variable: "off" turns sign-in off (single-user laptop demo only).
AUTH_ENV = "PALSY_AUTH"
#: A signed-in session ends after this long without activity (seconds).
IDLE_TIMEOUT_S = 30 * 60
#: ... and after this long in all, active or not (seconds).
MAX_SESSION_S = 12 * 3600
#: Failed sign-ins allowed per account name before it is locked for LOCKOUT_S.
MAX_FAILURES = 5
LOCKOUT_S = 60.0

_SESSION_KEY = "auth_session"
_DEMO_USER = Account("local-demo", "admin", True, None)  # type: ignore[arg-type]


@dataclass
class _SignedIn:
    username: str
    method: str  # "password", "oidc" or "off"
    signed_in_at: float
    last_seen: float


def auth_enabled() -> bool:
    """False only when ``PALSY_AUTH`` is explicitly "off" (or 0/false/no)."""
    return os.environ.get(AUTH_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section for ``st.login``."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def accounts() -> AccountStore:
    """The account store of the records database in use."""
    return AccountStore(services.record_store())


def current_user() -> Account | None:
    """The signed-in account of this session (the demo user while sign-in is off)."""
    if not auth_enabled():
        return _DEMO_USER
    signed = st.session_state.get(_SESSION_KEY)
    if not isinstance(signed, _SignedIn):
        return None
    now = time.time()
    if now - signed.last_seen > IDLE_TIMEOUT_S or now - signed.signed_in_at > MAX_SESSION_S:
        _end_session("session expired")
        st.session_state["auth_notice"] = "Your session expired: sign in again."
        return None
    account = accounts().get(signed.username)
    if account is None or not account.active:  # disabled or removed while signed in
        _end_session("account disabled")
        return None
    signed.last_seen = now
    return account


def actor() -> str:
    """The name the audit trail records for this session."""
    user = current_user()
    return user.username if user is not None else "anonymous"


def require_user(*, announce_demo: bool = True) -> Account:
    """The signed-in account; otherwise draw the sign-in (or first-run) form and stop the page.

    With sign-in off, the warning is drawn unless ``announce_demo`` is False: the app's
    entry file draws it on every page, so a page checking again does not repeat it.
    """
    if not auth_enabled():
        if not announce_demo:
            return _DEMO_USER
        st.warning(
            f"**Sign-in is OFF** ({AUTH_ENV}=off): anyone who can open this page can see and change every "
            "patient record. This setting is for a single-user demo on your own laptop only; never serve "
            "patient data this way.", icon=":material/lock_open:")
        return _DEMO_USER
    user = current_user()
    if user is not None:
        return user
    _sign_in_page()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def require_admin(user: Account) -> None:
    """Stop the page with a clear message unless ``user`` is an admin."""
    if not user.is_admin:
        st.error("**Administrators only.** Your account may not open this page.", icon=":material/block:")
        st.stop()


def sign_out() -> None:
    """End this session's sign-in (and forget everything the session held)."""
    _end_session("signed out")
    if oidc_configured():
        st.logout()


def _end_session(reason: str) -> None:
    signed = st.session_state.get(_SESSION_KEY)
    if isinstance(signed, _SignedIn):
        attempt("writing the audit trail", services.record_store().log, signed.username, "sign_out",
                detail=reason)
    services.release_session()
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def _start_session(username: str, method: str) -> None:
    services.release_session()
    for key in list(st.session_state.keys()):  # nothing from before sign-in carries over
        del st.session_state[key]
    now = time.time()
    st.session_state[_SESSION_KEY] = _SignedIn(username, method, now, now)


class _Throttle:
    """Failed sign-ins per account name, shared by every session of the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def locked_for(self, name: str) -> float:
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if time.time() - t < LOCKOUT_S]
            self._failures[name] = recent
            return LOCKOUT_S - (time.time() - recent[0]) if len(recent) >= MAX_FAILURES else 0.0

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.time())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


@st.cache_resource(show_spinner=False)
def _throttle() -> _Throttle:
    return _Throttle()


def _sign_in_page() -> None:
    st.title("Facial palsy assessment")
    notice = st.session_state.pop("auth_notice", None)
    if notice:
        st.info(notice, icon=":material/info:")
    store = attempt("opening the accounts", accounts)
    if store is None:
        return
    count = attempt("reading the accounts", store.count)
    if count is None:
        return
    if count == 0:
        _first_run(store)
        return
    if oidc_configured():
        _oidc_sign_in(store)
        return
    st.subheader("Sign in")
    with st.form("auth_sign_in"):
        name = st.text_input("Account name", key="auth_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="auth_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        name = (name or "").strip()
        wait = _throttle().locked_for(name)
        if wait > 0:
            st.error(f"Too many failed attempts for this account: wait {wait:.0f} s and try again.",
                     icon=":material/timer:")
            return
        try:
            account = store.authenticate(name, password)
        except Exception as error:  # the database may be down: say so, never a traceback
            show_error(error, "signing in")
            return
        if account is None:
            _throttle().failed(name)
            st.error("Wrong account name or password (or the account is disabled).", icon=":material/error:")
            return
        _throttle().succeeded(name)
        _start_session(account.username, "password")
        st.rerun()


def _first_run(store: AccountStore) -> None:
    st.subheader("First run: create the administrator account")
    st.markdown(
        "No account exists yet. The account you create now is the **administrator**: it creates the "
        "clinicians' accounts and sees the audit trail. Choose a password of at least "
        f"{MIN_PASSWORD_LENGTH} characters and keep it safe; it cannot be recovered, only reset by "
        "another administrator."
    )
    with st.form("auth_first_run"):
        name = st.text_input("Administrator account name", key="auth_first_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="auth_first_password",
                                 autocomplete="new-password")
        again = st.text_input("Password again", type="password", key="auth_first_again",
                              autocomplete="new-password")
        submitted = st.form_submit_button("Create the administrator", type="primary",
                                          icon=":material/admin_panel_settings:")
    if submitted:
        if password != again:
            st.error("The two passwords differ: type them again.", icon=":material/error:")
            return
        try:
            account = store.create(name, password, "admin", first_admin=True)
        except AccountError as error:
            show_error(error, "creating the administrator")
            return
        _start_session(account.username, "password")
        st.rerun()


def _oidc_sign_in(store: AccountStore) -> None:
    st.subheader("Sign in")
    if not st.user.is_logged_in:
        if st.button("Sign in with the hospital's identity provider", type="primary", icon=":material/login:"):
            st.login()
        return
    email = str(st.user.get("email") or "")
    account = store.get(email)
    if account is None or not account.active:
        st.error(f"The identity provider signed you in as {email!r}, but no active account of this app has "
                 "that name. Ask an administrator to create it.", icon=":material/block:")
        if st.button("Sign out", icon=":material/logout:"):
            st.logout()
        return
    services.record_store().log(account.username, "sign_in", detail="OIDC")
    _start_session(account.username, "oidc")
    st.rerun()
