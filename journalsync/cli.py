"""The ``journalsync`` command line (Typer + Rich): wiring only — each command lives in its
``*_cmd`` module."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from core.errors import JournalSyncError
from core.logging import configure_logging
from core.process import tune_gc
from journalsync._common import EXIT_FAILED, die, exit_code_for, report_unexpected, store_options
from journalsync.accounts_cmd import accounts_app
from journalsync.alerts_cmd import alerts_app
from journalsync.config_cmd import config_app
from journalsync.credentials_cmd import credentials_app
from journalsync.doctor_cmd import doctor
from journalsync.migrate_cmd import migrate_app
from journalsync.package_cmd import package
from journalsync.report_cmd import report
from journalsync.runs_cmd import runs_app
from journalsync.sandbox_cmd import sandbox_app
from journalsync.school_cmd import demo, drift, import_, pull, push, status, sync
from journalsync.serve_cmd import serve, worker
from journalsync.template_cmd import template
from journalsync.tokens_cmd import tokens_app
from journalsync.web_cmd import web
from journalsync.worklist_cmd import worklist

app = typer.Typer(
    name="journalsync",
    help="Sync school e-journals between Russian regional platforms and a local store.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(credentials_app, name="credentials")
app.add_typer(accounts_app, name="accounts")
app.command("worklist")(worklist)
app.command("package")(package)
app.command("report")(report)
app.add_typer(config_app, name="config")
app.add_typer(runs_app, name="runs")
app.add_typer(migrate_app, name="migrate")
app.command("serve")(serve)
app.command("worker")(worker)
app.command("doctor")(doctor)
app.command("web")(web)
app.add_typer(tokens_app, name="tokens")
app.command("template")(template)
app.add_typer(alerts_app, name="alerts")
app.command("pull")(pull)
app.command("drift")(drift)
app.command("push")(push)
app.command("sync")(sync)
app.command("import")(import_)
app.command("status")(status)
app.command("demo")(demo)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="Log as JSON lines.")] = False,
    init_store: Annotated[
        bool,
        typer.Option(
            "--init-store",
            help="Add journalsync's tables to a SQLite database that holds other tables.",
        ),
    ] = False,
) -> None:
    configure_logging(json=json_logs, level="DEBUG" if verbose else "WARNING")
    store_options.init = init_store


def main() -> None:
    """The entry point: every failure ends as one message and the README's exit code."""
    # Owner-only files and folders for whatever is created without an explicit mode (SQLite's
    # temporary files, third-party writers); core's writers set 0600/0700 themselves.
    os.umask(0o077)
    tune_gc()
    try:
        app()
    except JournalSyncError as exc:  # raised outside a command's own reported_errors()
        die(exc.message, exit_code_for(exc), exc.hint)
    except KeyboardInterrupt:
        die("interrupted", EXIT_FAILED)
    except Exception as exc:  # the last resort: a message, not a traceback
        report_unexpected(exc)
