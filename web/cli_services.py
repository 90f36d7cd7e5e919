"""The services as every `semsearch` command opens them: the errors a user can fix (a store
another process holds, a model that does not match the collection...) become one clear line
on stderr and exit status 2, instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from inference.errors import SemsearchError
from web.services import Services, open_services
from web.settings import Settings

err = Console(stderr=True)


@contextmanager
def opened_services(settings: Settings | None = None) -> Iterator[Services]:
    try:
        with open_services(settings or Settings()) as services:
            yield services
    except SemsearchError as error:
        err.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(2) from None
