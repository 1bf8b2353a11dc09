"""`flowscheme serve`: the HTTP service (API, webhooks, dashboard, metrics) and its worker in one process, on uvicorn.

Loaded lazily through the `flowscheme.commands` entry point `serve`.
"""

import logging
import signal
import socket
import sys

import click

from flow.cli import fail, guarded


def _secret(ctx, env, path, what):
    from .auth import SecretError, load_secret

    try:
        return load_secret(env, path, what)
    except SecretError as e:
        fail(ctx, str(e), 2)


def _bind(ctx, host, port):
    """A listening socket on host:port (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        fail(ctx, f"cannot resolve --host {host}: {e.strerror}", 2)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        fail(ctx, f"cannot listen on {host}:{port}: {e.strerror or e}", 1)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _shown(data):
    """--data as it may be printed: a database URL without its password."""
    from flow.store import is_store_url

    if is_store_url(data):
        from flow.pgschema import redacted

        return redacted(data)
    return data


def _url(host, port):
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, ending the change feed's streams as soon as it is told to stop
        (an open event stream would otherwise hold the graceful shutdown for --grace seconds)."""

        def __init__(self, config, service):
            super().__init__(config)
            self.service = service

        def handle_exit(self, sig, frame):
            self.service.feed.close()
            super().handle_exit(sig, frame)
            self.stopped_by = sig
            self._captured_signals.clear()  # (uvicorn would re-raise it after the shutdown: we exit ourselves)

    return Server


def _Server(config, service):
    return _server_class()(config, service)


@click.command(short_help="Serve the JSON API, payment webhooks, dashboard and metrics; run the worker beside.")
@click.option("--data", default="flowscheme-data", show_default=True, metavar="DIR|URL",
              help="The shop's data: a directory (ledger.log and flows/, created if missing) or a "
                   "postgresql://user@host:port/db URL (the ledger and the flows in that database); the "
                   "same --data as `flowscheme order`.")
@click.option("--load", "loads", metavar="FILE", multiple=True, type=click.Path(dir_okay=False),
              help="A .scm file of defflows to load into the shop's flow runtime, so its flows can be "
                   "started, resumed and moved by the worker (repeatable).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. The default serves this machine only; another address "
                   "exposes the service to the network (put TLS in front of it).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The TCP port to listen on (0: any free port, printed at start).")
@click.option("--admin-token-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="A file holding the admin token that mutating endpoints require (Authorization: "
                   "Bearer <token>). Default: $FLOWSCHEME_ADMIN_TOKEN. With neither, mutating endpoints "
                   "(other than the webhook) are refused with 403.")
@click.option("--webhook-secret-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="A file holding the secret payment webhooks are signed with (HMAC-SHA256). Default: "
                   "$FLOWSCHEME_WEBHOOK_SECRET. With neither, webhooks are refused with 403.")
@click.option("--payment-window", metavar="SECONDS", type=click.FloatRange(min=0, min_open=True),
              help="Seconds a new order waits for its payment before it expires (default: the shop's, 1800).")
@click.option("--idle", default=1.0, show_default=True, metavar="SECONDS", type=click.FloatRange(0.01, 60),
              help="The worker's longest sleep between looks for due timers, deadlines and retries.")
@click.option("--grace", default=30.0, show_default=True, metavar="SECONDS", type=click.FloatRange(0, 3600),
              help="On SIGTERM or Ctrl-C: how long in-flight requests may take to finish before they are cut.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log one line per request on stderr.")
@click.pass_context
def serve(ctx, data, loads, host, port, admin_token_file, webhook_secret_file, payment_window, idle, grace,
          access_log):
    """Serve the shop in --data over HTTP: the JSON API (OpenAPI document at
    /openapi.json), signed payment webhooks (POST /webhooks/payment), the
    dashboard (/), Prometheus metrics (/metrics) and /healthz — and run the
    worker beside it in a thread (payment deadlines, flow timers and retries).
    On start it finishes what a crash left half-done (as `order recover`).
    SIGTERM or Ctrl-C: stop accepting, let in-flight requests finish, stop the
    worker after its current step, exit 0.

    \b
    export FLOWSCHEME_ADMIN_TOKEN=... FLOWSCHEME_WEBHOOK_SECRET=...
    flowscheme serve --data shop-data --load loan.scm --port 8000
    flowscheme serve --data postgresql://shop@db.internal/shop --load loan.scm
    """
    import uvicorn

    from .app import create_app
    from .auth import ADMIN_ENV, WEBHOOK_ENV, AdminToken
    from .service import Service

    admin = _secret(ctx, ADMIN_ENV, admin_token_file, "admin token")
    secret = _secret(ctx, WEBHOOK_ENV, webhook_secret_file, "webhook secret")
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("flowscheme.serve.access").setLevel(logging.INFO if access_log else logging.WARNING)
    service = guarded(ctx, lambda: Service(data, loads=loads, payment_window=payment_window, idle=idle))
    sock = _bind(ctx, host, port)
    port = sock.getsockname()[1]
    app = create_app(service, admin=AdminToken(admin), webhook_secret=secret)
    url = _url(host, port)
    click.echo(f"flowscheme serve: listening on {url} (data {_shown(data)}; OpenAPI {url}/openapi.json)")
    click.echo(f"dashboard: {url}/")
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: reachable from the network", err=True)
    if admin is None:
        click.echo(f"note: no admin token ({ADMIN_ENV} or --admin-token-file): mutating endpoints refuse (403)",
                   err=True)
    if secret is None:
        click.echo(f"note: no webhook secret ({WEBHOOK_ENV} or --webhook-secret-file): webhooks refuse (403)",
                   err=True)
    sys.stdout.flush()
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=grace, server_header=False)
    server = _Server(config, service)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if service.worker.alive():  # (the lifespan did not get to stop it: startup failed)
            service.stop()
    click.echo("flowscheme serve: stopped")
    if not server.started:
        ctx.exit(1)
    if getattr(server, "stopped_by", None) == signal.SIGINT:
        ctx.exit(130)

