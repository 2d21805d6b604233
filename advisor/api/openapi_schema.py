"""An OpenAPI schema plugin for msgspec Structs: the document says exactly what the code accepts and sends.

Litestar's own struct plugin, plus corrections:

* a Struct with ``forbid_unknown_fields`` rejects unknown fields (400), so its schema says
  ``additionalProperties: false``;
* a union of ``int`` and ``float`` is documented as ``number`` alone: JSON Schema integers are
  also numbers, so ``oneOf: [integer, number]`` would reject every integer (it matches both branches);
* an integer's bounds are written as integers (``1000``, not ``1000.0``);
* a string without a pattern of its own is documented as holding no NUL (``^[^\\x00]*$``: no store holds one);
* what Litestar loses from field types: a bound of 0 on an optional number, the constraints of a
  list's items and of a dict's keys and values, and ``uniqueItems`` declared with
  ``Meta(extra_json_schema={"uniqueItems": True})``;
* a component's ``description`` from its struct's own docstring (first paragraph). Without it Litestar
  copies the description of the first *field* that uses the struct onto the shared component (a
  ``SourceRef`` would be described as "where the line's main figure comes from" everywhere);
* ``examples`` on a struct's own component schema. Neither msgspec (no schema options on a Struct's
  config) nor Litestar (``Meta(examples=...)`` where a struct is used documents that use, wrapped
  in ``allOf``, not the component) can put them there, so the plugin is given them per type.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.typing import FieldDefinition


def _is(schema: Any, kind: OpenAPIType) -> bool:
    return isinstance(schema, Schema) and schema.type == kind and schema.format is None and not schema.enum


def correct_numbers(schema: Any) -> None:
    """At any depth: drop the ``integer`` branch of a ``oneOf`` that also has a plain ``number`` branch, and
    write an integer's bounds as integers (Litestar writes ``1000.0``, which invites ``1000.0`` as a value)."""
    if not isinstance(schema, Schema):
        return
    if schema.one_of and any(_is(s, OpenAPIType.NUMBER) for s in schema.one_of):
        schema.one_of = [s for s in schema.one_of if not _is(s, OpenAPIType.INTEGER)]
    if schema.type == OpenAPIType.INTEGER:
        for bound in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"):
            value = getattr(schema, bound)
            if isinstance(value, float) and value.is_integer():
                setattr(schema, bound, int(value))
    for child in (*(schema.properties or {}).values(), schema.additional_properties, schema.items,
                  *(schema.one_of or ()), *(schema.any_of or ())):
        correct_numbers(child)


_BOUNDS = (("gt", "exclusive_minimum"), ("ge", "minimum"), ("lt", "exclusive_maximum"), ("le", "maximum"))


def _numeric_type(field_type: Any) -> Any:
    """The int/float type under ``Optional`` and ``Annotated`` metadata, if that is what the field is."""
    if isinstance(field_type, msgspec.inspect.UnionType):
        members = [t for t in field_type.types if not isinstance(t, msgspec.inspect.NoneType)]
        field_type = members[0] if len(members) == 1 else None
    if isinstance(field_type, msgspec.inspect.Metadata):
        field_type = field_type.type
    return field_type if isinstance(field_type, msgspec.inspect.IntType | msgspec.inspect.FloatType) else None


_SEQUENCES = (msgspec.inspect.VarTupleType, msgspec.inspect.ListType, msgspec.inspect.SetType,
              msgspec.inspect.FrozenSetType)


def scalar_schema(kind: Any) -> Schema | None:
    """The schema of a constrained scalar msgspec type (a list's items), or None for anything else."""
    if isinstance(kind, msgspec.inspect.Metadata):
        return scalar_schema(kind.type)
    if isinstance(kind, msgspec.inspect.LiteralType) and all(isinstance(v, str) for v in kind.values):
        return Schema(type=OpenAPIType.STRING, enum=list(kind.values))
    if isinstance(kind, msgspec.inspect.StrType):
        return Schema(type=OpenAPIType.STRING, pattern=kind.pattern, min_length=kind.min_length,
                      max_length=kind.max_length)
    if isinstance(kind, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        schema = Schema(type=OpenAPIType.INTEGER if isinstance(kind, msgspec.inspect.IntType) else OpenAPIType.NUMBER)
        for constraint, key in _BOUNDS:
            setattr(schema, key, getattr(kind, constraint))
        return schema
    return None


def field_corrections(struct: Any, schema: Schema) -> None:
    """What Litestar loses from msgspec field types: a bound of 0 on an optional number (``gt=0`` is falsy),
    the constraints of a list's items (it documents ``tuple[X, ...]`` items as ``oneOf: [X, {}]``) and of a
    dict's keys, values and size, and
    ``uniqueItems`` declared in the field's ``Meta(extra_json_schema=...)``."""
    info = msgspec.inspect.type_info(struct)
    for field in getattr(info, "fields", ()):
        prop = (schema.properties or {}).get(field.encode_name)
        if not isinstance(prop, Schema):
            continue
        numeric = _numeric_type(field.type)
        for constraint, key in _BOUNDS if numeric is not None else ():
            value = getattr(numeric, constraint)
            if value is not None and getattr(prop, key) is None:
                setattr(prop, key, value)
        kind = field.type.type if isinstance(field.type, msgspec.inspect.Metadata) else field.type
        if isinstance(kind, _SEQUENCES) and (items := scalar_schema(kind.item_type)) is not None:
            prop.items = items
        if isinstance(kind, msgspec.inspect.DictType):
            if (values := scalar_schema(kind.value_type)) is not None:
                prop.additional_properties = values
            if (keys := scalar_schema(kind.key_type)) is not None and keys.pattern:
                prop.property_names = keys
            prop.min_properties, prop.max_properties = kind.min_length, kind.max_length
        if isinstance(field.type, msgspec.inspect.Metadata) and (field.type.extra_json_schema or {}).get(
                "uniqueItems"):
            prop.unique_items = True


# No database can store NUL (PostgreSQL refuses it in text): advisor/api/strict_json.py refuses it in every
# string, and the document says so for every string that has no pattern of its own.
STORABLE = r"^[^\x00]*$"


def storable_strings(schema: Any) -> None:
    """At any depth: a free-form string (no pattern, enum, format or const) gets the :data:`STORABLE` pattern."""
    if not isinstance(schema, Schema):
        return
    if schema.type == OpenAPIType.STRING and not (schema.pattern or schema.enum or schema.format or schema.const):
        schema.pattern = STORABLE
    for child in (*(schema.properties or {}).values(), schema.additional_properties, schema.items,
                  *(schema.one_of or ()), *(schema.any_of or ())):
        storable_strings(child)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def __init__(self, examples: Mapping[type, Sequence[Any]] | None = None) -> None:
        self.examples = dict(examples or {})  # struct type -> example values for its component schema

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        own_doc = vars(field_definition.type_).get("__doc__")
        if own_doc and schema.description is None:
            schema.description = inspect.cleandoc(own_doc).split("\n\n")[0].replace("\n", " ")
        if (examples := self.examples.get(field_definition.type_)) is not None:
            schema.examples = list(examples)
        config = getattr(field_definition.type_, "__struct_config__", None)
        if config is not None and config.forbid_unknown_fields:
            schema.additional_properties = False
        field_corrections(field_definition.type_, schema)
        correct_numbers(schema)
        storable_strings(schema)
        return schema
