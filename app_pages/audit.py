"""Audit trail (administrators only): who viewed, saved, changed, exported or deleted which record, when."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.ui import auth, services
from app_pages.ui.errors import attempt

st.title("Audit trail")
user = auth.require_user(announce_demo=False)  # the entry file announced demo mode
auth.require_admin(user)
st.caption("Append-only: the database itself refuses to change or delete a line. Times are UTC.")

store = attempt("opening the patient records", services.record_store)
if store is None:
    st.stop()
only = st.text_input("Only this patient (code)", key="audit_patient").strip() or None
entries = attempt("reading the audit trail", store.audit_trail, limit=500, patient=only) or []
st.dataframe(pd.DataFrame({
    "When (UTC)": [f"{entry.at:%Y-%m-%d %H:%M:%S}" for entry in entries],
    "Who": [entry.actor for entry in entries],
    "Action": [entry.action for entry in entries],
    "Patient": [entry.patient or "" for entry in entries],
    "Visit": [entry.visit_id if entry.visit_id is not None else "" for entry in entries],
    "Detail": [entry.detail for entry in entries],
}), hide_index=True, width="stretch")
st.caption(f"The newest {len(entries)} lines. The download holds all of them.")
who = user.username


def export_audit() -> str:
    text = store.audit_csv()
    store.log(who, "export", detail="audit trail CSV")
    return text


st.download_button("Audit trail (CSV)", export_audit, file_name="audit-trail.csv", mime="text/csv",
                   icon=":material/download:", key="audit_csv", on_click="ignore")
