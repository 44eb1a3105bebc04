"""The clinician app's own code, beside ``streamlit_app.py``: one file per page (run by
``st.navigation``, never imported) and their helpers in :mod:`app_pages.ui`."""
