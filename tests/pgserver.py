"""A throwaway PostgreSQL server for the tests: found or installed, started on a free
127.0.0.1 port in a temporary directory, one fresh database per test, restarted or
its connections cut on demand (fault tests), stopped and removed at the end.

Use FLOWSCHEME_TEST_PG=postgresql://user@host:port/db to run against a server of your
own instead (the user needs CREATEDB; restart() is then unavailable).

Settings: fsync=off and full_page_writes=off make databases cheap to create and
commits fast; they only matter when the *machine* crashes, which no test does.
synchronous_commit stays on, so a commit is in the kernel's hands when it returns
and a crashed server (`pg_ctl stop -m immediate`, SIGKILL of the postmaster) loses
nothing that was acknowledged — the restart tests rely on that.
"""

import atexit
import glob
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aptget

ENV_URL = "FLOWSCHEME_TEST_PG"
_DIR_PREFIX = "flowscheme-pg-"
_START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections
_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "on",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "max_wal_size": "256MB",
    "log_min_messages": "warning",
    "log_connections": "off",
    "autovacuum": "off",  # throwaway databases; and a vacuum worker in one blocks copying or recycling it
}
INSTALL_HINT = (
    "PostgreSQL (initdb, pg_ctl) is needed by the store tests and was not found in "
    "/usr/lib/postgresql/*/bin or on PATH. Install it (Debian/Ubuntu: "
    "`sudo apt-get install -y postgresql`; macOS: `brew install postgresql`), or point "
    f"{ENV_URL} at a server you run: {ENV_URL}=postgresql://user@127.0.0.1:5432/postgres"
)


class PgUnavailable(RuntimeError):
    """No PostgreSQL server could be had; the message says how to get one."""


def _is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def find_bindir():
    """The directory holding initdb and pg_ctl (newest installed version first), or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p)] or [0],
        reverse=True,
    )
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True)
    for name in ("pg_ctl", "initdb"):
        found = shutil.which(name)
        if found:
            candidates.append(os.path.dirname(os.path.realpath(found)))
    for d in candidates:
        if all(os.access(os.path.join(d, n), os.X_OK) for n in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def install_postgresql():
    """Install PostgreSQL with apt-get (root only). The bin directory, else PgUnavailable."""
    failure = aptget.install(["postgresql"], present=lambda: find_bindir() is not None)
    bindir = find_bindir()
    if bindir is None:
        raise PgUnavailable(INSTALL_HINT + f" ({failure or 'no initdb after installing it'})")
    return bindir


def sql(url, statement, *params):
    """Run one statement on the database at url (autocommit): its rows, or None."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params or None)
        return cur.fetchall() if cur.description else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url, dbname):
    """`url` pointing at database `dbname` instead (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def _connect(url, **kw):
    import psycopg  # imported late: only the PostgreSQL tests need it

    return psycopg.connect(url, autocommit=True, connect_timeout=10, **kw)


def _sweep_stale_dirs(base):
    """Stop and remove servers left behind by test sessions that were killed outright."""
    for d in glob.glob(os.path.join(base, _DIR_PREFIX + "*")):
        owner = Path(d, "owner.pid")
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
            continue  # that session is still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        pidfile = Path(d, "data", "postmaster.pid")
        try:
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(d, ignore_errors=True)


class PgServer:
    """One PostgreSQL server for a test session.

    url(dbname)            a postgresql:// URL for that database
    create_database(name)  an empty database; drop_database(name) removes it (cutting its connections)
    restart()              crash the server (immediate stop) and start it again on the same port
    terminate_backends(dbname=None)  cut every client connection (of that database), the server stays up
    stop()                 stop it and remove its directory (idempotent)
    """

    def __init__(self, external_url=None):
        self.external = external_url is not None
        self.base_url = external_url
        self.workdir = None
        self.bindir = None
        self.port = None
        self._names = itertools.count(1)
        self._stopped = False
        self._spare = []  # clean databases to hand out again
        self._admin_conn = None  # kept open: one connection less per test

    # -- life cycle ------------------------------------------------------------------------

    def start(self):
        if self.external:
            with _connect(self.base_url) as conn:
                conn.execute("select 1")
            self.port = urlsplit(self.base_url).port or 5432
            return self
        self.bindir = find_bindir() or install_postgresql()
        base = tempfile.gettempdir()
        _sweep_stale_dirs(base)
        self.workdir = tempfile.mkdtemp(prefix=_DIR_PREFIX, dir=base)
        atexit.register(self.stop)
        Path(self.workdir, "owner.pid").write_text(str(os.getpid()))
        os.chmod(self.workdir, 0o700)
        if _is_root():
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run("initdb", "-D", self.data_dir, "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        for attempt in range(5):
            self.port = free_port()
            try:
                self._pg_ctl_start()
                break
            except PgUnavailable:
                if attempt == 4 or "could not bind" not in self.log_tail():
                    raise
        self.base_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return self

    @property
    def data_dir(self):
        return os.path.join(self.workdir, "data")

    @property
    def log_file(self):
        return os.path.join(self.workdir, "server.log")

    def log_tail(self, lines=20):
        try:
            return "\n".join(Path(self.log_file).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _command(self, program, *args):
        cmd = [os.path.join(self.bindir, program), *args]
        if _is_root():  # initdb and postgres refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _run(self, program, *args, timeout=120, check=True):
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True,
                              timeout=timeout, cwd=self.workdir)
        if check and done.returncode:
            raise PgUnavailable(
                f"{program} {' '.join(args)} exited {done.returncode}:\n{done.stderr or done.stdout}\n"
                f"server log:\n{self.log_tail()}"
            )
        return done

    def _pg_ctl_start(self):
        options = " ".join(f"-c {k}={v}" for k, v in _SETTINGS.items())
        options += f" -p {self.port} -c unix_socket_directories={self.workdir}"
        self._run("pg_ctl", "start", "-w", "-t", str(_START_TIMEOUT), "-D", self.data_dir,
                  "-l", self.log_file, "-o", options, timeout=_START_TIMEOUT + 30)

    def restart(self):
        """Crash the server (`pg_ctl stop -m immediate`: every connection dies, no
        shutdown checkpoint) and start it again on the same port."""
        if self.external:
            raise PgUnavailable(f"cannot restart the server named by {ENV_URL}")
        self.crash()
        self.start_again()

    def crash(self):
        """Stop the server the way a crash would (immediate mode); start_again() brings it back."""
        if self.external:
            raise PgUnavailable(f"cannot stop the server named by {ENV_URL}")
        self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", self.data_dir)

    def start_again(self):
        self._pg_ctl_start()

    def ensure_running(self):
        """Start the server again if a test left it stopped."""
        if self.external or self._stopped:
            return
        if not os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
            self._pg_ctl_start()

    def stop(self):
        if self._stopped or self.external or self.workdir is None:
            return
        self._stopped = True
        if self._admin_conn is not None:
            self._admin_conn.close()
        try:
            if os.path.exists(os.path.join(self.data_dir, "postmaster.pid")):
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", self.data_dir, check=False)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------

    def _admin(self):
        """(context manager) our own connection to the server's postgres database,
        opened again when a restart or a test cut it."""
        from contextlib import contextmanager

        @contextmanager
        def held():
            conn = self._admin_conn
            if conn is not None:
                try:
                    conn.execute("select 1")  # still there after a restart?
                except Exception:
                    conn.close()
                    conn = None
            if conn is None:
                conn = self._admin_conn = _connect(self.base_url)
            try:
                yield conn
            except Exception:
                self._admin_conn = None
                conn.close()
                raise
        return held()

    def url(self, dbname):
        return with_database(self.base_url, dbname)

    def new_database_name(self, hint=""):
        slug = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")
        return f"fs{os.getpid()}_{next(self._names)}_{slug}"[:63]

    def create_database(self, name):
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def copy_database(self, source):
        """A new database holding a copy of database `source` (whose connections are cut
        first: PostgreSQL copies only a database nobody is connected to); its name."""
        name = self.new_database_name("copy")
        self.terminate_backends(source)
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return name

    def drop_database(self, name):
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def acquire_database(self):
        """The name of an empty database for one test: a recycled one when there is one
        (see release_database), else a new one (CREATE DATABASE costs ~100 ms here)."""
        if self._spare:
            return self._spare.pop()
        name = self.new_database_name("t")
        self.create_database(name)
        return name

    def release_database(self, name):
        """Give back a database a test is done with: its connections are cut and every
        schema in it dropped (public made again, empty), so the next test finds it as
        new (~10 ms); when that fails the database is dropped instead — as when
        connections come back (a pool a test left open reconnects)."""
        try:
            self.terminate_backends(name, wait=1)
            if self.backends(name):
                raise RuntimeError("its connections came back")
            with _connect(self.url(name)) as conn:
                schemas = [r[0] for r in conn.execute(
                    "select nspname from pg_namespace where nspname not like 'pg\\_%'"
                    " and nspname <> 'information_schema'")]
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute("CREATE SCHEMA public")
                conn.execute("GRANT ALL ON SCHEMA public TO public")
                leftovers = conn.execute(
                    "select (select count(*) from pg_extension where extname <> 'plpgsql')"
                    " + (select count(*) from pg_largeobject_metadata)"
                    " + (select count(*) from pg_event_trigger)").fetchone()[0]
            if leftovers:
                raise RuntimeError("extensions, large objects or event triggers left behind")
        except Exception:
            self.drop_database(name)
        else:
            self._spare.append(name)

    def terminate_backends(self, dbname=None, wait=10):
        """Cut the connections of every client (of database `dbname` if given) but ours,
        waiting up to `wait` seconds for them to be gone; the number cut."""
        with self._admin() as conn:
            sql = ("select count(pg_terminate_backend(pid)) from pg_stat_activity"
                   " where pid <> pg_backend_pid() and backend_type = 'client backend'")
            params = ()
            if dbname is not None:
                sql += " and datname = %s"
                params = (dbname,)
            cut = conn.execute(sql, params).fetchone()[0]
            if dbname is not None:
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and conn.execute(
                        "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()"
                        " and backend_type = 'client backend'", (dbname,)).fetchone()[0]:
                    time.sleep(0.005)
            return cut

    def backends(self, dbname):
        """How many client connections database `dbname` has now."""
        with _connect(self.base_url) as conn:
            return conn.execute(
                "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                (dbname,),
            ).fetchone()[0]

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _connect(self.base_url) as conn:
                    conn.execute("select 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def start_server():
    """The session's server: the one named by FLOWSCHEME_TEST_PG, else a throwaway one."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PgUnavailable(
            "psycopg (3) is needed by the PostgreSQL tests: pip install -e '.[test]'"
        ) from exc
    return PgServer(os.environ.get(ENV_URL) or None).start()


class CuttingProxy:
    """A TCP proxy in front of the server (127.0.0.1, a free port) that cuts a client's
    connection at a chosen moment, for the tests of a connection lost mid-commit.

    arm(pattern, when): the next client message containing `pattern` (bytes) is either
    dropped before the server sees it (when="before": the statement never runs) or
    delivered and its answer swallowed (when="after": the statement ran and, in
    autocommit, committed; the client never hears so); then that connection is closed
    both ways. `cut` (an Event) is set once it happened; later connections pass
    through untouched.
    """

    def __init__(self, server_port):
        import threading

        self.server_port = server_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self._armed = None
        self._lock = threading.Lock()
        self._sockets = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, server_url):
        parts = urlsplit(server_url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    def arm(self, pattern, when):
        assert when in ("before", "after")
        with self._lock:
            self.cut.clear()
            self._armed = (pattern, when)

    def _accept(self):
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            state = {"swallow": None}
            threading.Thread(target=self._pump_up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(upstream, client, state), daemon=True).start()

    @staticmethod
    def _close(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _pump_up(self, client, upstream, state):
        import threading

        try:
            while True:
                data = client.recv(1 << 16)
                if not data:
                    break
                with self._lock:
                    armed = self._armed
                    hit = armed is not None and armed[0] in data
                    if hit:
                        self._armed = None
                if hit and armed[1] == "before":
                    self._close(client, upstream)
                    self.cut.set()
                    return
                if hit:
                    state["swallow"] = threading.Event()
                upstream.sendall(data)
        except OSError:
            pass
        self._close(client, upstream)

    def _pump_down(self, upstream, client, state):
        try:
            while True:
                data = upstream.recv(1 << 16)
                if not data:
                    break
                swallow = state["swallow"]
                if swallow is not None:  # the answer to the statement: never delivered
                    self._close(client, upstream)
                    self.cut.set()
                    return
                client.sendall(data)
        except OSError:
            pass
        self._close(client, upstream)

    def close(self):
        self._closed = True
        self._close(self.listener)
        with self._lock:
            self._close(*self._sockets)
