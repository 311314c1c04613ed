"""``mobproc data``: the MOBPROC v1 sandbox's tenant data (employees, catalog, assets, rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._common import fail
from ._server import DatabaseOption, EnvironmentOption, open_services

data_app = typer.Typer(help="The MOBPROC v1 API's tenant data.", no_args_is_help=True)


def load_file(services, path: Path) -> list[str]:  # noqa: ANN001
    """Check the file, then replace its tenants' data with it in one transaction; the codes of
    the tenants loaded. A file with any problem changes nothing."""
    from ..procurement.tenant_data import load

    tenants = load(path)
    services.procurement.replace_tenants(tenants)
    return [tenant.code for tenant in tenants]


@data_app.command("load")
def data_load(
    file: Annotated[Path, typer.Argument(help="A YAML or JSON tenant data file", show_default=False)],
    database: DatabaseOption = None,
    environment: EnvironmentOption = None,
) -> None:
    """Load tenants' data from FILE (loading it again changes nothing; a bad file changes nothing)."""
    from ..procurement.tenant_data import TenantDataError
    from ..storage.database import DatabaseUnavailable

    services = open_services(database, environment)
    try:
        codes = load_file(services, file)
    except TenantDataError as error:
        fail(f"{file} was not loaded:\n{error.describe()}", 2)
    except DatabaseUnavailable as error:
        fail(f"the database cannot be reached ({error})")
    typer.echo(f"loaded tenant{'s' if len(codes) > 1 else ''} {', '.join(codes)} from {file}")
