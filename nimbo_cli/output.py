"""Output as the OpenStack client prints it: a Field/Value table for one object, columns for lists."""

import json

from prettytable import PrettyTable


def _cell(value):
    if isinstance(value, (dict, list)):
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return "\n".join(", ".join(f"{k}='{v}'" for k, v in item.items() if v not in (None, "")) for item in value)
        return json.dumps(value)
    return "" if value is None else str(value)


def show(obj, fmt="table", out=print):
    if fmt == "json":
        out(json.dumps(obj, indent=2, sort_keys=True))
        return
    table = PrettyTable(["Field", "Value"], align="l")
    for key in sorted(obj):
        table.add_row([key, _cell(obj[key])])
    out(table.get_string())


def listing(rows, columns, fmt="table", out=print):
    if fmt == "json":
        out(json.dumps(rows, indent=2, sort_keys=True))
        return
    table = PrettyTable([c.replace("_", " ").title().replace("Uuid", "ID") for c in columns], align="l")
    for row in rows:
        table.add_row([_cell(row.get(c)) for c in columns])
    out(table.get_string())
