"""The `engagements` command: thin wrappers over the pipeline, server and tools.

Each command group lives in its own module (``cli/<group>.py``) and registers
itself on ``app`` when imported; :data:`COMMAND_MODULES` lists them. A module that
is not there (yet) is skipped, any other import failure is a bug and surfaces.
Errors a user can cause are :class:`EngagementsError`; they become one red line
(plus detail) and the error's exit code, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console

from defence_engagements.errors import EngagementsError

COMMAND_MODULES = ("pipeline", "serve", "links", "publish")

app = typer.Typer(
    name="engagements",
    help="Build, check and serve the defence-engagements linked-data publication.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
err_console = Console(stderr=True, highlight=False)


@dataclass
class CliState:
    quiet: bool = False


state = CliState()


@app.callback()
def _options(
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Only errors and results: no progress, no summary."),
    ] = False,
) -> None:
    """Build, check and serve the defence-engagements linked-data publication.

    Exit codes: 0 ok, 1 the data (or query) is wrong, 2 usage or environment.
    """
    state.quiet = quiet


def report_error(error: EngagementsError) -> None:
    err_console.print(
        f"[bold red]error:[/] {error.message}",
        markup=True,
        soft_wrap=True,
        highlight=False,
        emoji=False,
    )
    if error.detail:
        err_console.print(error.detail, markup=False, soft_wrap=True, emoji=False)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = f"{__name__}.{name}"
        try:
            importlib.import_module(module)  # registers its commands on ``app``
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but something it needs does not
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
