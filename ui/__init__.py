"""Support code of the Streamlit app (streamlit_app.py and app_pages/).

The pages stay thin: they read widgets, call :mod:`palsy_core` through :mod:`ui.services`
and draw with :mod:`ui.widgets`. Every palsy_core error becomes a specific message through
:mod:`ui.errors`. Nothing here imports torch or MediaPipe directly.
"""
