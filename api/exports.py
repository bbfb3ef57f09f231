"""Tables for download: rows as a JSON array of objects or as CSV with a header line."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from fastapi.responses import Response

Format = Literal["json", "csv"]
EXPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One row per record: a JSON array of objects, or CSV with a header line.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


def export_table(rows: list[dict[str, object]], fmt: Format, name: str) -> Response:
    """Rows as a JSON array of objects, or as CSV with a header line (a download named `name`.csv)."""
    if fmt == "json":
        return Response(json.dumps(rows, default=str), media_type="application/json")
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
