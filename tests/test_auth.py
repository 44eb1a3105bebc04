"""Sign-in, the first-run step, roles, session expiry and the documented 'off' switch,
through the real app (Streamlit AppTest) and the real account store (Argon2id)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from palsy_core.accounts import AccountError, AccountStore
from palsy_core.records import RecordStore, default_db_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PASSWORD = "correct horse battery"


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Sign-in on (the default), a fresh records database, no palsy model."""
    monkeypatch.delenv("PALSY_AUTH", raising=False)
    monkeypatch.setenv("PALSY_DB_URL", f"sqlite:///{tmp_path / 'records.sqlite3'}")
    (tmp_path / "weights").mkdir()
    monkeypatch.setenv("PALSY_WEIGHTS_DIR", str(tmp_path / "weights"))
    return tmp_path


def fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


def sign_in(name: str, password: str) -> AppTest:
    at = fresh()
    at.text_input(key="auth_name").input(name)
    at.text_input(key="auth_password").input(password)
    at.button(key="FormSubmitter:auth_sign_in-Sign in").click().run()
    return at


def make_admin() -> None:
    AccountStore(RecordStore(default_db_url())).create("admin", PASSWORD, "admin", first_admin=True)


def test_a_fresh_browser_sees_no_page_and_creates_the_first_admin(env):
    at = fresh()
    assert not at.exception
    assert "First run: create the administrator account" in texts(at.subheader)
    assert "Patient records" not in texts(at.title) and not at.get("selectbox")
    at.text_input(key="auth_first_name").input("chief")
    at.text_input(key="auth_first_password").input(PASSWORD)
    at.text_input(key="auth_first_again").input(PASSWORD)
    at.button(key="FormSubmitter:auth_first_run-Create the administrator").click().run()
    assert not at.exception and not at.error
    assert "Signed in as **chief** (admin)" in texts(at.sidebar.caption)
    assert "Assess a photo" in texts(at.title)
    # The first-run step is over: a second browser gets the sign-in form, not another admin.
    assert "Sign in" in texts(fresh().subheader)
    with pytest.raises(AccountError, match="already been created"):
        AccountStore(RecordStore(default_db_url())).create("eve", PASSWORD, "admin", first_admin=True)


def test_first_run_refuses_a_short_password(env):
    at = fresh()
    at.text_input(key="auth_first_name").input("chief")
    at.text_input(key="auth_first_password").input("short")
    at.text_input(key="auth_first_again").input("short")
    at.button(key="FormSubmitter:auth_first_run-Create the administrator").click().run()
    assert "at least 10 characters" in texts(at.error)
    assert AccountStore(RecordStore(default_db_url())).count() == 0


def test_wrong_password_and_unknown_name_get_the_same_answer(env):
    make_admin()
    for name, password in (("admin", "wrong password"), ("nobody", PASSWORD)):
        at = sign_in(name, password)
        assert "Wrong account name or password" in texts(at.error)
        assert "Signed in as" not in texts(at.sidebar.caption)
    actions = [entry.action for entry in RecordStore(default_db_url()).audit_trail()]
    assert actions[:2] == ["sign_in_failed", "sign_in_failed"]


def test_clinician_cannot_open_admin_pages_or_export_everyone(env):
    make_admin()
    accounts = AccountStore(RecordStore(default_db_url()))
    accounts.create("dr.lee", PASSWORD, "clinician", actor="admin")
    RecordStore(default_db_url()).save_visit("P-1", {"headline": "h"})
    at = sign_in("dr.lee", PASSWORD)
    assert "Signed in as **dr.lee** (clinician)" in texts(at.sidebar.caption)
    for page in ("accounts", "audit", "models"):  # not even registered for a clinician's session
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"app_pages/{page}.py")
    at.switch_page("app_pages/records.py").run()
    labels = [button.label for button in at.get("download_button")]
    assert labels == ["CSV of P-1", "Excel of P-1"]  # not the export of all patients
    trail = RecordStore(default_db_url()).audit_trail()
    assert ("dr.lee", "view", "P-1") in [(e.actor, e.action, e.patient) for e in trail]


def test_admin_creates_an_account_in_the_accounts_page(env):
    make_admin()
    at = sign_in("admin", PASSWORD)
    at.switch_page("app_pages/accounts.py").run()
    at.text_input(key="accounts_new_name").input("dr.new")
    at.text_input(key="accounts_new_password").input(PASSWORD)
    at.button(key="FormSubmitter:accounts_new-Create account").click().run()
    assert not at.exception
    assert "Account dr.new created (clinician)." in texts(at.success)
    assert sign_in("dr.new", PASSWORD).sidebar.caption


def test_idle_session_expires_and_sign_out_forgets_everything(env):
    from app_pages.ui.auth import IDLE_TIMEOUT_S

    make_admin()
    at = sign_in("admin", PASSWORD)
    at.session_state["auth_session"].last_seen -= IDLE_TIMEOUT_S + 1
    at.run()
    assert "Your session expired" in texts(at.info) and "Sign in" in texts(at.subheader)
    at = sign_in("admin", PASSWORD)
    at.sidebar.button(key="auth_sign_out").click().run()
    assert "Sign in" in texts(at.subheader)
    assert "auth_session" not in at.session_state


def test_disabled_account_is_signed_out_at_once(env):
    make_admin()
    accounts = AccountStore(RecordStore(default_db_url()))
    accounts.create("dr.gone", PASSWORD, "clinician", actor="admin")
    at = sign_in("dr.gone", PASSWORD)
    accounts.set_active("dr.gone", False, actor="admin")
    at.run()
    assert "Sign in" in texts(at.subheader)


def test_sign_in_off_is_said_on_every_page(env, monkeypatch):
    monkeypatch.setenv("PALSY_AUTH", "off")
    at = fresh()
    for page in ("assess", "explorer", "video", "records", "models", "accounts", "audit"):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, page
        assert "Sign-in is OFF" in texts(at.warning), page


def test_a_stored_photo_never_gets_a_media_url(env, astronaut):
    """The records page sends a stored photo inside the signed-in session (a data URL),
    never at a /media URL that a browser without a session could fetch."""
    make_admin()
    RecordStore(default_db_url()).save_visit("P-9", {"headline": "h"}, photo=astronaut)
    at = sign_in("admin", PASSWORD)
    at.switch_page("app_pages/records.py").run()
    assert not at.exception
    urls = [url for element in at.get("image") for url in element.value]
    assert urls and all(url.startswith("data:image/jpeg;base64,") for url in urls)
