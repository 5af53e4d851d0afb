"""The `engagements` command: thin wrappers over the pipeline, server and tools.

Each command group lives in its own module and registers itself on ``app``.
Errors a user can cause are :class:`EngagementsError`; they become one red line
(plus detail) and the error's exit code, never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from defence_engagements.errors import EngagementsError

app = typer.Typer(
    name="engagements",
    help="Build, check and serve the defence-engagements linked-data publication.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True, highlight=False)


def report_error(error: EngagementsError) -> None:
    err_console.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)
    if error.detail:
        err_console.print(error.detail, markup=False, soft_wrap=True)


def _register_commands() -> None:
    # Imported for their side effect of adding commands to ``app``.
    import importlib

    for module in ("pipeline", "serve", "links", "publish"):
        try:
            importlib.import_module(f"defence_engagements.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"defence_engagements.cli.{module}":
                raise


def main(argv: list[str] | None = None) -> None:
    _register_commands()
    try:
        app(args=argv, standalone_mode=True)
    except EngagementsError as error:
        report_error(error)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
