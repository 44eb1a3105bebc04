"""Patient records on a real PostgreSQL server: the same guarantees as on SQLite.

The fixture starts a throwaway PostgreSQL cluster (Debian's ``postgresql`` package, which
``tests/run.sh`` installs when run as root) in a temporary folder, on a free local port,
as the ``postgres`` user when the tests run as root (PostgreSQL refuses to run as root).
The tests are skipped, with the reason, only where no PostgreSQL server can be started.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from palsy_core.accounts import AccountStore
from palsy_core.records import RecordBusyError, RecordStore

from test_records import concurrent_first_saves, saves_from_threads

pytestmark = pytest.mark.slow

ASSESSMENT = {"headline": "test", "affected_side": "left",
              "measurements": {"brow_height": {"left": 1.5, "right": 2.5}}}


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    """URL of a fresh PostgreSQL server, stopped after the module."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (bash tests/run.sh installs Debian's postgresql when run as root)")
    as_root = os.geteuid() == 0
    if as_root and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
    folder = Path(tempfile.mkdtemp(prefix="palsy-pg-"))
    data, socket_dir = folder / "data", folder / "socket"
    socket_dir.mkdir()
    prefix = []
    if as_root:
        try:
            shutil.chown(folder, "postgres")
            shutil.chown(socket_dir, "postgres")
        except (LookupError, OSError) as error:
            pytest.skip(f"no postgres user to run the server as ({error})")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = folder / "server.log"
    initdb = subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                             "-E", "UTF8"], capture_output=True, text=True)
    if initdb.returncode != 0:
        pytest.skip(f"initdb failed: {initdb.stderr[-500:]}")
    start = subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                            "-o", f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                           capture_output=True, text=True)
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {start.stderr[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_store(pg_url, tmp_path):
    store = RecordStore(pg_url, key_file=tmp_path / "records.key")
    with store._engine.begin() as connection:  # a clean slate per test (TRUNCATE is not DELETE)
        connection.execute(text("TRUNCATE patients, accounts, audit_log RESTART IDENTITY CASCADE"))
    yield store
    store.close()


def test_round_trip_encryption_and_audit_on_postgres(pg_store):
    visit = pg_store.save_visit("P-0042", ASSESSMENT, note="secret ![x](http://host/p.png)", actor="dr.a")
    assert pg_store.list_visits("P-0042")[0].note == "secret ![x](http://host/p.png)"
    with pg_store._engine.connect() as connection:
        stored = connection.execute(text("SELECT note FROM visits")).scalar()
    assert "secret" not in stored
    pg_store.delete_visit(visit, actor="dr.a")
    assert [e.action for e in pg_store.audit_trail()] == ["delete", "save"]
    with pg_store._engine.connect() as connection:
        with pytest.raises(Exception, match="append-only"):
            connection.execute(text("DELETE FROM audit_log"))


def test_concurrent_first_saves_from_processes_on_postgres(pg_store, pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PALSY_KEY_FILE", str(tmp_path / "records.key"))
    results = concurrent_first_saves(pg_url)
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "IntegrityError" not in result.stderr
    assert [(p.code, p.visits) for p in pg_store.list_patients()] == [("P-NEW", 40)]


def test_repeated_save_key_is_one_visit_on_postgres(pg_store):
    ids = saves_from_threads(pg_store, "P-1", ASSESSMENT, save_key="same")
    assert len(set(map(int, ids))) == 1 and sum(visit.created for visit in ids) == 1
    assert len(pg_store.list_visits("P-1")) == 1


def test_a_locked_table_says_try_again_within_seconds_on_postgres(pg_store):
    pg_store.save_visit("P-2", ASSESSMENT)
    blocker = pg_store._engine.connect()
    transaction = blocker.begin()
    blocker.execute(text("LOCK TABLE patients IN ACCESS EXCLUSIVE MODE"))
    try:
        started = time.monotonic()
        with pytest.raises(RecordBusyError, match="try again"):
            pg_store.save_visit("P-2", ASSESSMENT, visit_date=dt.date(2024, 1, 2))
        waited = time.monotonic() - started
    finally:
        transaction.rollback()
        blocker.close()
    assert waited < 15
    assert len(pg_store.list_visits("P-2")) == 1


def test_accounts_on_postgres(pg_store):
    accounts = AccountStore(pg_store)
    accounts.create("admin", "correct horse battery", "admin", first_admin=True)
    assert accounts.authenticate("admin", "correct horse battery").is_admin
    assert accounts.authenticate("admin", "wrong password!") is None
