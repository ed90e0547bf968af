"""A small reader for prisma/schema.prisma: enums, models, scalar fields, keys and uniques."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SCALARS = {"String", "Int", "BigInt", "Boolean", "DateTime", "Json", "Float", "Bytes"}


@dataclass
class Field:
    name: str
    type: str
    optional: bool
    unique: bool
    id: bool
    db_type: str | None


@dataclass
class Model:
    name: str
    table: str
    fields: list[Field] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Schema:
    enums: dict[str, list[str]]
    models: dict[str, Model]


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def parse(path: Path) -> Schema:
    text = _strip_comments(path.read_text())
    enums = {name: body.split() for name, body in re.findall(r"\benum\s+(\w+)\s*\{([^}]*)\}", text)}
    models: dict[str, Model] = {}
    blocks = re.findall(r"\bmodel\s+(\w+)\s*\{([^}]*)\}", text)
    model_names = {name for name, _ in blocks}
    for name, body in blocks:
        model = Model(name=name, table=name)
        for line in (line.strip() for line in body.splitlines()):
            if not line:
                continue
            if line.startswith("@@"):
                columns = (
                    tuple(re.findall(r"\w+", re.search(r"\[([^\]]*)\]", line).group(1)))
                    if "[" in line
                    else ()
                )
                if line.startswith("@@id"):
                    model.primary_key = columns
                elif line.startswith("@@unique"):
                    model.uniques.append(columns)
                elif line.startswith("@@map"):
                    model.table = re.search(r'"([^"]+)"', line).group(1)
                continue
            parts = line.split()
            field_name, raw_type = parts[0], parts[1]
            attributes = " ".join(parts[2:])
            base_type = raw_type.rstrip("?").removesuffix("[]")
            if base_type in model_names or (raw_type.endswith("[]") and base_type not in SCALARS):
                continue  # relation fields have no column
            if raw_type.endswith("[]"):
                base_type += "[]"  # a scalar list: a PostgreSQL array column
            db_type = re.search(r"@db\.(\w+)", attributes)
            model.fields.append(
                Field(
                    name=field_name,
                    type=base_type,
                    optional=raw_type.endswith("?"),
                    unique="@unique" in attributes,
                    id=re.search(r"@id\b", attributes) is not None,
                    db_type=db_type.group(1) if db_type else None,
                )
            )
        for schema_field in model.fields:
            if schema_field.id:
                model.primary_key = (schema_field.name,)
            if schema_field.unique:
                model.uniques.append((schema_field.name,))
        models[name] = model
    return Schema(enums=enums, models=models)
