"""`digital-spaces protocol export-schemas`: write a JSON Schema per message to docs/protocol/."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from devices.protocol.parse import MESSAGE_TYPES


def schema_documents() -> dict[str, str]:
    """File name -> JSON Schema text, one per message of the contract."""
    documents = {}
    for model in MESSAGE_TYPES:
        name, _, version = model.SCHEMA.partition("/")
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"{name}/{version}"
        documents[f"{name}.v{version}.schema.json"] = (
            json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    return documents


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="digital-spaces protocol")
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export-schemas", help="write docs/protocol/*.schema.json")
    export.add_argument("--out", type=Path, default=Path("docs/protocol"))
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    for file_name, text in schema_documents().items():
        (options.out / file_name).write_text(text, encoding="utf-8")
        print(options.out / file_name)
    return 0
