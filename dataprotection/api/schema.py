"""The OpenAPI schema's shared parts: the error body every operation can
answer with, added once here rather than on each view, so the schema stays truthful
for the fuzzer that checks every response against it (.ci/fuzz-api)."""

from __future__ import annotations

from dataprotection.api.serializers import ERROR_DESCRIPTIONS

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# The same shape as ``ErrorSerializer`` (what drf-spectacular generates for it when a
# view names it through ``error_responses``): written out here because the hook may run
# when no view has named it yet.
ERROR_COMPONENTS = {
    "ErrorDetail": {
        "type": "object",
        "description": "The inside of every error body (dataprotection.api.errors).",
        "properties": {
            "status": {"type": "integer", "description": "The HTTP status code, repeated."},
            "code": {
                "type": "string",
                "description": "A stable machine-readable code, e.g. invalid, not_found, throttled.",
            },
            "message": {"type": "string", "description": "The first problem, in the person's language."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "Per input field (or non_field_errors), its messages. Only on 400.",
            },
        },
        "required": ["code", "message", "status"],
    },
    "Error": {
        "type": "object",
        "description": '``{"error": {"status", "code", "message", "fields"?}}``: every 4xx of the API.',
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
        "required": ["error"],
    },
}

WRITE_METHODS = {"post", "put", "patch"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _error(status: int) -> dict:
    return {"description": ERROR_DESCRIPTIONS[status], "content": {"application/json": {"schema": ERROR_REF}}}


def statuses_for(path: str, method: str, operation: dict) -> set[int]:
    """The error statuses any operation of this shape can answer with, whatever its
    view does: authentication (401), the scope/CSRF/personal-endpoint checks (403),
    throttling (429), the path's objects (404), input (400/413/415), idempotency (422)."""
    statuses = {401, 403, 429}
    parameters = operation.get("parameters", [])
    if "{" in path:
        statuses.add(404)
    if any(parameter.get("in") == "query" for parameter in parameters):
        statuses.add(400)
    if any(parameter.get("in") == "query" and parameter.get("name") == "page" for parameter in parameters):
        statuses.add(404)  # a page after the last one
    if method in WRITE_METHODS or "requestBody" in operation:
        statuses |= {400, 413, 415}
    if any(parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key" for parameter in parameters):
        statuses |= {400, 422}
    return statuses


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ERROR_COMPONENTS.items():
        components.setdefault(name, schema)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses_for(path, method, operation)):
                responses.setdefault(str(status), _error(status))
    return result
