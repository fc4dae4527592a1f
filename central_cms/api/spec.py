"""What the OpenAPI document says beyond the schemas: rules across fields, required
bodies, and links from a created resource to its next steps."""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask
from flask.sansio.blueprints import BlueprintSetupState

from devices.protocol import ItemKind

PREFIX = "/api/v1"


def refine_spec(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    """Say in the document what marshmallow cannot: rules across fields, and that a body
    with required fields is itself required. Without them a client (or schemathesis)
    meets a 422 it could not have predicted."""
    if isinstance(spec, str):  # SPEC_PROCESSOR_PASS_OBJECT is off: always the dict
        return spec
    schemas = spec["components"]["schemas"]
    # apispec has no keyword for the keys of a Dict field.
    schemas["CommandIn"]["properties"]["args"]["propertyNames"] = {"maxLength": 64}
    schemas["TargetsIn"]["anyOf"] = [
        {"required": [name], "properties": {name: {"minItems": 1}}}
        for name in ("sites", "tags", "kinds", "profiles")
    ]
    for name in ("ItemIn", "PlaylistItemIn"):
        schemas[name]["if"] = {"properties": {"kind": {"const": ItemKind.TEXT.value}}}
        schemas[name]["then"] = {"required": ["text"], "properties": {"text": {"type": "object"}}}
        schemas[name]["else"] = {
            "required": ["media_id"],
            "properties": {"media_id": {"type": "integer"}},
        }
    for operations in spec["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                if schemas.get(ref.rsplit("/", 1)[-1], {}).get("required"):
                    operation["requestBody"]["required"] = True
    return spec


def install_refinements(state: BlueprintSetupState) -> None:
    """Blueprint setup hook: the app, not the blueprint, processes the document."""
    app = state.app
    if isinstance(app, APIFlask):
        app.spec_processor(refine_spec)


def links(parameter: str, steps: dict[str, str]) -> dict[str, Any]:
    """OpenAPI links from a created resource to what can be done with it next."""

    def ref(step: str) -> str:
        method, path = step.split(" ", 1)
        escaped = f"{PREFIX}{path}".replace("~", "~0").replace("/", "~1")
        return f"#/paths/{escaped}/{method}"

    return {
        name: {"operationRef": ref(step), "parameters": {parameter: "$response.body#/id"}}
        for name, step in steps.items()
    }
