"""``semsearch generation …``: the text-generation node from the command line."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from generation.check import check_connection
from web.services import open_generation
from web.settings import Settings

generation_app = typer.Typer(help="The text-generation node (answers).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@generation_app.command("check")
def generation_check(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the text-generation configuration: provider, token, model, one short answer.

    Exits 1 when the check fails or answers are off. Opens only the node, not the store."""
    settings = Settings()
    in_use = open_generation(settings)
    try:
        report = check_connection(in_use.client, settings.generation(), not_open=in_use.error)
    finally:
        if in_use.client is not None:
            in_use.client.close()
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    elif report.ok:
        out.print(
            f"ok: {report.provider} ({report.reason}), model {report.model or '-'}, "
            f"answered {report.reply!r} in {report.took_ms:.0f} ms",
            highlight=False,
        )
    else:
        err.print(f"[red]failed:[/red] {report.error}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
