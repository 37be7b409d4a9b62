"""schemathesis hooks of the third-party run (tests/api/third_party/schemathesis.rs).

Negative data for a body of `type: object`: schemathesis changes the type and
leaves the rest free, so an array comes with arbitrary items, and an array of
the object's field values in order (which serde, unless told otherwise, reads
into a struct field by field) is almost never generated. This hook fills each
negative array body with the values of the body schema's example, in order
(as many as the generated array has items, its extra items kept), so that
the negative runs always try that shape.
"""

import schemathesis


def _body_example(case):
    """The example of the operation's JSON body schema, resolving one $ref."""
    body = case.operation.definition.raw.get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    reference = schema.get("$ref", "")
    if reference.startswith("#/"):
        schema = case.operation.schema.raw_schema
        for part in reference[2:].split("/"):
            schema = schema.get(part, {})
    example = schema.get("example")
    return example if isinstance(example, dict) else None


@schemathesis.hook
def map_case(context, case):
    if case.meta is None or not case.meta.generation.mode.is_negative:
        return case
    if not isinstance(case.body, list) or not case.body:
        return case
    example = _body_example(case)
    if example:
        values = list(example.values())
        case.body = values[: len(case.body)] + case.body[len(values) :]
    return case
