"""Support code of the Streamlit app (streamlit_app.py and the pages beside this folder).

The pages stay thin: they read widgets, call :mod:`palsy_core` through :mod:`app_pages.ui.services`
and draw with :mod:`app_pages.ui.widgets`. Every palsy_core error becomes a specific message through
:mod:`app_pages.ui.errors`. Nothing here imports torch or MediaPipe directly.
"""
