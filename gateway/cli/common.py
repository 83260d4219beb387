"""What every command shares: reading settings, opening the store, and start-up failures.

A start-up failure is a :class:`StartupError`: ``main`` prints its one line (the cause and the
fix) and exits 1, never a traceback. Foreign exceptions are translated here, once.
"""

from __future__ import annotations

import argparse
import errno
import socket
from typing import TYPE_CHECKING

from pydantic import ValidationError as PydanticValidationError

from gateway.errors import GatewayError, MigrationsPending
from gateway.redaction import database_password, install_log_masking
from gateway.redaction import mask_urls as masked_url
from gateway.settings import Settings
from gateway.store.engine import open_failure

if TYPE_CHECKING:
    from gateway.store import Store

STARTUP_FAILURE_EXIT = 1


class StartupError(Exception):
    """A command cannot start: ``str(self)`` is one line naming the cause and the fix."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default (flags: ``off``; required ones say so in their
    help); epilogs, which hold the examples, keep their lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.required
            or action.default in (None, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        if action.nargs == 0:  # store_true / store_false
            return text + (" (default: on)" if action.default else " (default: off)")
        return text + " (default: %(default)s)"


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    example: str,
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` shows its defaults and an example."""
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=Formatter,
    )


def load_settings() -> Settings:
    """The settings from the environment and ``.env``; a bad value is a one-line failure."""
    try:
        settings = Settings()
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise StartupError(
            f"bad setting {name}={first.get('input')!r}: {first['msg']}; "
            "fix it in the environment or in .env"
        ) from exc
    try:
        settings.allowed_networks()
    except ValueError as exc:
        raise StartupError(
            f"bad setting GATEWAY_ALLOW_PRIVATE_NETWORKS={settings.allow_private_networks!r}: "
            f"{exc}; use comma-separated CIDRs such as 127.0.0.1/32, or *"
        ) from exc
    # Every log line from here on masks the database password, whichever logger writes it.
    install_log_masking(database_password(settings.database_url))
    return settings


def open_store_or_fail(settings: Settings, *, run_migrations: bool | None = None) -> Store:
    """Open the store (migrating as ``open_store`` decides); a missing, unreachable or misnamed
    database, or pending migrations on PostgreSQL: one line."""
    from gateway.store import open_store

    where = masked_url(settings.database_url)
    try:
        return open_store(settings, run_migrations=run_migrations)
    except OSError as exc:
        raise StartupError(
            f"cannot open the database {where}: {exc.strerror or exc}; "
            "point GATEWAY_DATABASE_URL at a writable path"
        ) from exc
    except MigrationsPending as exc:
        raise StartupError(exc.message) from exc
    except Exception as exc:
        failure = database_failure(exc, settings)
        if failure is exc:
            raise
        raise failure from exc


def database_failure(exc: Exception, settings: Settings) -> Exception:
    """The one-line ``StartupError`` for a database that cannot be used, or ``exc`` itself
    when it is not about the database (a bug keeps its traceback)."""
    where = masked_url(settings.database_url)
    # The store translates driver errors (StoreUnavailable); the driver's words say why.
    failure = open_failure(exc)
    if failure is None and exc.__cause__ is not None:
        failure = open_failure(exc.__cause__)
    if failure is None:
        if isinstance(exc, GatewayError):
            return StartupError(f"{exc.message}; fix the setting it names")
        return exc
    kind, cause = failure
    if kind == "url":
        return StartupError(
            f"bad setting GATEWAY_DATABASE_URL={where}: {cause}; "
            "use sqlite:///./gateway.db or postgresql+psycopg://user@host/db"
        )
    return StartupError(f"cannot open the database {where}: {cause}; {_database_fix(cause)}")


def _database_fix(cause: str) -> str:
    text = cause.lower()
    if "does not exist" in text:
        return "create it (createdb NAME) or fix the name in GATEWAY_DATABASE_URL"
    if "connection refused" in text or "could not connect" in text or "timeout" in text:
        return "start the database server, or fix host and port in GATEWAY_DATABASE_URL"
    if "password" in text or "authentication" in text:
        return "fix the user or password in GATEWAY_DATABASE_URL"
    if "unable to open" in text:
        return "point GATEWAY_DATABASE_URL at a writable path"
    return "check GATEWAY_DATABASE_URL"


def bind_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` before anything else starts, so a clash fails first."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except socket.gaierror as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}: {exc.strerror}; check --host") from exc
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; "
                "stop the process using it or pick another port with --port"
            ) from exc
        if exc.errno == errno.EACCES:
            raise StartupError(
                f"not allowed to listen on {host}:{port}; pick a port above 1023 with --port"
            ) from exc
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host and --port"
        ) from exc
    return sock
