"""Facial palsy assessment: the clinician web app.

Run with ``streamlit run streamlit_app.py`` (settings in ``.streamlit/config.toml``: it
listens on 127.0.0.1 only unless told otherwise). This file signs the user in (app_pages/ui/auth.py),
sets up the pages their role may open and the sidebar every page shares (who is signed
in, patient code, model status). The pages and their helpers (``app_pages/ui/``) live in
``app_pages/``, not ``pages/``: Streamlit serves a ``pages/`` folder as pages of its own on a direct link
to a fresh server, bypassing this file (its sidebar and its error handling).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from app_pages.ui import auth, services, session_end, widgets
from app_pages.ui.errors import show_error
from app_pages.ui.text import plain

# MediaPipe's C++ log lines are noise in a server console.
os.environ.setdefault("GLOG_minloglevel", "2")
# Our own log at INFO; libraries (fontTools subsets fonts for every PDF) only from WARNING.
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
logging.getLogger("palsy_app").setLevel(logging.INFO)

st.set_page_config(page_title="Facial palsy assessment", page_icon=":material/face:", layout="wide")
# A closed tab ends its session at once: its photos are not kept for a reconnect.
session_end.end_session_on_disconnect()

# Nothing below this line runs for a session that is not signed in: no page, no patient
# list, no photo (see app_pages/ui/auth.py; PALSY_AUTH=off is the documented laptop-demo switch).
try:
    user = auth.require_user()
except BaseException:  # st.stop() after the sign-in page: load the models meanwhile
    services.start_model_loading()
    raise

#: The pages, found beside this file (not from the working directory): `streamlit run
#: /path/to/streamlit_app.py` works from anywhere.
PAGES_DIR = Path(__file__).resolve().parent / "app_pages"
PAGES = [
    st.Page(PAGES_DIR / "assess.py", title="Assess a photo", icon=":material/photo_camera:", default=True),
    st.Page(PAGES_DIR / "visit.py", title="Visit: photo set", icon=":material/photo_library:"),
    st.Page(PAGES_DIR / "compare.py", title="Compare visits", icon=":material/compare:"),
    st.Page(PAGES_DIR / "explorer.py", title="Asymmetry explorer", icon=":material/bar_chart:"),
    st.Page(PAGES_DIR / "video.py", title="Video", icon=":material/movie:"),
    st.Page(PAGES_DIR / "records.py", title="Patient records", icon=":material/folder_shared:"),
]
ADMIN_PAGES = [
    st.Page(PAGES_DIR / "models.py", title="Models", icon=":material/model_training:"),
    st.Page(PAGES_DIR / "accounts.py", title="Accounts", icon=":material/manage_accounts:"),
    st.Page(PAGES_DIR / "audit.py", title="Audit trail", icon=":material/policy:"),
]
page = st.navigation(PAGES + ADMIN_PAGES if user.is_admin else PAGES)

services.begin_run()
with st.sidebar:
    if auth.auth_enabled():
        st.caption(f"Signed in as **{plain(user.username)}** ({user.role})")
        if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
            auth.sign_out()
            st.rerun()
    else:
        st.caption(":orange[**Sign-in is off** (single-user demo)]")
    st.text_input(
        "Patient code (pseudonymous)",
        key="patient_code",
        placeholder="e.g. P-0042",
        help="A code, never a name: 1-40 letters, digits, '-', '_' or '.'. Used when you save "
             "a visit and on the records page.",
    )
    st.caption("Models")
    try:
        for status in services.model_statuses():
            st.caption(widgets.status_badge(status))
        if services.models_loading():
            # No timed refresh (a timed fragment lost uploads and downloads on Streamlit
            # 1.67): the Assess page waits at its end and reruns as each model arrives
            # (widgets.rerun_as_models_arrive), which redraws this list too.
            st.caption(":gray[The models load in the background; on the Assess page each "
                       "model's output appears by itself as the model arrives.]")
    except Exception as error:  # the sidebar must never take a page down with it
        show_error(error, "checking the installed models")

try:
    page.run()
except Exception as error:  # last line of defence: no traceback ever reaches the page
    show_error(error, f"showing the page {page.title!r}")
finally:
    # After the page (also one that stopped early): the model imports would stall it.
    services.start_model_loading()
