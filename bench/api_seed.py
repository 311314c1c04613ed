"""The MOBPROC v1 API's benchmark data, in a mobproc database (the server stopped): the demo
tenant XYZ with the benchmark's accounts, and ``--orders`` orders in it, each made by mobproc's
own order rules from the same request (one real NEW_ACTIVATION, stored under as many numbers).

    .venv/bin/python bench/api_seed.py --database sqlite:///db.sqlite --accounts command://user0 ... --orders 10000

Run with mobproc's own Python (bench/run.py does): it imports mobproc."""

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import yaml
from sqlalchemy import insert

from mobproc.config import load_settings
from mobproc.procurement.orders import OrderDesk, order_document
from mobproc.procurement.tenant_data import load
from mobproc.procurement.views import View
from mobproc.storage.database import Database
from mobproc.storage.procurement import SqlProcurementStore
from mobproc.storage.procurement_schema import api_orders

REQUEST = {
    "transactionType": "NEW_ACTIVATION", "regionId": "5100", "postalCode": "06477",
    "shoppingCart": {"deviceId": "880101", "planId": "660101", "optionalFeatureIds": ["31"], "accessoryIds": ["990101"]},
    "properties": [{"groupId": "MISCELLANEOUS", "fields": [{"id": "CONTACT_NUMBER", "type": "TEXT", "text": "2035550101"}]}],
    "shipTo": {"name": "Robin Okafor", "regionId": "5100", "expedite": False, "address": [
        {"id": "LINE_1", "value": "1 Harbor Road"}, {"id": "CITY", "value": "Orange"},
        {"id": "STATE", "value": "CT"}, {"id": "POSTAL_CODE", "value": "06477"}]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--accounts", nargs="+", required=True)
    parser.add_argument("--orders", type=int, default=0)
    args = parser.parse_args()
    settings = load_settings(database_url=args.database)
    database = Database(settings.database_url)
    store = SqlProcurementStore(database, settings.environment.value)
    tenant = yaml.safe_load((files("mobproc.procurement") / "demo_tenant.yaml").read_text())
    tenant["tenants"][0]["accounts"] = [{"username": name, "employee": "40001", "actsFor": ["*"], "approver": True}
                                        for name in args.accounts]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(yaml.safe_dump(tenant))
        store.replace_tenants(load(path))
    if args.orders:
        me = store.record("XYZ", "employee", "40001")
        desk = OrderDesk(View(store, "XYZ", "USD"), store.tenant("XYZ"), holder=me, requester=me)
        checked = desk.check({"externalOrderNumber": "BENCH-0", **REQUEST})
        now = time.time()
        document = order_document(checked.confirmation, checked.segment,
                                  datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        rows = [{"environment": settings.environment.value, "tenant": "XYZ", "external_order_number": f"BENCH-{n}",
                 "transaction_type": "NEW_ACTIVATION", "account_holder": "40001", "requested_by": "40001",
                 "needs_approval": False, "ready_at": now, "submitted_at": now,
                 "document": json.dumps({**document, "externalOrderNumber": f"BENCH-{n}"})}
                for n in range(args.orders)]
        with database.transaction(write=True) as transaction:
            transaction.execute_many(insert(api_orders), rows)
    database.dispose()


if __name__ == "__main__":
    main()
