"""Accounts (administrators only): create accounts, set roles, reset passwords, disable."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from palsy_core.accounts import MIN_PASSWORD_LENGTH, ROLES
from app_pages.ui import auth
from app_pages.ui.errors import attempt
from app_pages.ui.text import plain

st.title("Accounts")
user = auth.require_user(announce_demo=False)  # the entry file announced demo mode
auth.require_admin(user)
flash = st.session_state.pop("accounts_flash", None)
if flash:
    st.success(flash, icon=":material/check:")
st.caption("Clinicians assess photos and keep patient records; administrators also manage accounts, see the "
           "models and the audit trail, and export all patients. Every change here is audited.")

store = attempt("opening the accounts", auth.accounts)
if store is None:
    st.stop()
listed = attempt("listing the accounts", store.list) or []
st.dataframe(pd.DataFrame({
    "Account": [account.username for account in listed],
    "Role": [account.role for account in listed],
    "Active": ["yes" if account.active else "no" for account in listed],
    "Created (UTC)": [f"{account.created_at:%Y-%m-%d %H:%M}" for account in listed],
}), hide_index=True, width="stretch")

st.subheader("New account")
with st.form("accounts_new", clear_on_submit=True):
    columns = st.columns(3)
    name = columns[0].text_input("Account name (or the e-mail the identity provider reports)",
                                 key="accounts_new_name")
    role = columns[1].selectbox("Role", ROLES, key="accounts_new_role")
    password = columns[2].text_input(f"Initial password (at least {MIN_PASSWORD_LENGTH} characters)",
                                     type="password", key="accounts_new_password")
    create = st.form_submit_button("Create account", type="primary", icon=":material/person_add:")
if create and attempt("creating the account", store.create, name, password, role, actor=user.username):
    st.session_state["accounts_flash"] = f"Account {plain(name.strip())} created ({role})."
    st.rerun()

if listed:
    st.subheader("Change an account")
    names = [account.username for account in listed]
    chosen = st.selectbox("Account", names, key="accounts_chosen")
    account = next(item for item in listed if item.username == chosen)
    columns = st.columns(3)
    with columns[0]:
        new_role = st.selectbox("Role", ROLES, index=ROLES.index(account.role), key="accounts_role")
        if st.button("Set role", key="accounts_set_role") and attempt(
                "changing the role", lambda: store.set_role(chosen, new_role, actor=user.username) or True):
            st.session_state["accounts_flash"] = f"{plain(chosen)} is now {new_role}."
            st.rerun()
    with columns[1]:
        new_password = st.text_input("New password", type="password", key="accounts_password")
        if st.button("Reset password", key="accounts_reset") and attempt(
                "resetting the password", lambda: store.set_password(chosen, new_password, actor=user.username)
                or True):
            st.session_state["accounts_flash"] = f"Password of {plain(chosen)} reset."
            st.rerun()
    with columns[2]:
        label = "Disable account" if account.active else "Enable account"
        if st.button(label, key="accounts_toggle") and attempt(
                "changing the account", lambda: store.set_active(chosen, not account.active, actor=user.username)
                or True):
            st.session_state["accounts_flash"] = f"{plain(chosen)} {'disabled' if account.active else 'enabled'}."
            st.rerun()
