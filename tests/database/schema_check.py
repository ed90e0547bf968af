"""Compare a live database with prisma/schema.prisma."""

from __future__ import annotations

from pathlib import Path

from tests.database import prisma_schema
from tests.support import postgres

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "prisma" / "schema.prisma"

POSTGRES_TYPES = {
    "String": "text",
    "Int": "integer",
    "BigInt": "bigint",
    "Json": "jsonb",
    "Boolean": "boolean",
    "DateTime": "timestamp with time zone",
    "Float": "double precision",
    "Bytes": "bytea",
    "Decimal": "numeric",
    "String[]": "ARRAY",
    "Int[]": "ARRAY",
    'Unsupported("tsvector")': "tsvector",
}


async def differences(url: str) -> list[str]:
    """Every way the database at ``url`` departs from the schema of record (empty when none)."""
    schema = prisma_schema.parse(SCHEMA_PATH)
    problems: list[str] = []

    enum_rows = await postgres.fetch(
        url,
        """SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname""",
    )
    enums = {row["typname"]: list(row["labels"]) for row in enum_rows}
    for name, values in schema.enums.items():
        if enums.get(name) != values:
            problems.append(f"enum {name}: expected {values}, found {enums.get(name)}")

    for model in schema.models.values():
        columns = {
            row["column_name"]: row
            for row in await postgres.fetch(
                url,
                """SELECT column_name, data_type, udt_name, is_nullable
                   FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1""",
                model.table,
            )
        }
        if not columns:
            problems.append(f'table "{model.table}" is missing')
            continue
        expected_names = {f.name for f in model.fields}
        for extra in sorted(set(columns) - expected_names):
            problems.append(f'"{model.table}"."{extra}" is not in the schema')
        for schema_field in model.fields:
            column = columns.get(schema_field.name)
            where = f'"{model.table}"."{schema_field.name}"'
            if column is None:
                problems.append(f"{where} is missing")
                continue
            if schema_field.type in schema.enums:
                if column["udt_name"] != schema_field.type:
                    problems.append(f"{where}: expected enum {schema_field.type}, found {column['udt_name']}")
            elif column["data_type"] != POSTGRES_TYPES[schema_field.type]:
                problems.append(
                    f"{where}: expected {POSTGRES_TYPES[schema_field.type]}, found {column['data_type']}"
                )
            nullable = column["is_nullable"] == "YES"
            if nullable != schema_field.optional:
                problems.append(f"{where}: expected {'nullable' if schema_field.optional else 'NOT NULL'}")

        index_rows = await postgres.fetch(
            url,
            """SELECT i.indisprimary AS primary, i.indisunique AS unique, i.indpred IS NOT NULL AS partial,
                      array_agg(a.attname ORDER BY k.ord) AS columns
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indrelid
               JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
               WHERE c.relname = $1 AND c.relnamespace = 'public'::regnamespace
               GROUP BY i.indexrelid, i.indisprimary, i.indisunique, i.indpred""",
            model.table,
        )
        primary = [tuple(r["columns"]) for r in index_rows if r["primary"]]
        if primary != [model.primary_key]:
            problems.append(f'"{model.table}": expected primary key {model.primary_key}, found {primary}')
        uniques = {tuple(r["columns"]) for r in index_rows if r["unique"] and not r["partial"]}
        for unique in model.uniques:
            if unique not in uniques:
                problems.append(f'"{model.table}": expected a unique index on {unique}')
        for unique in uniques - set(model.uniques) - {model.primary_key}:
            problems.append(f'"{model.table}": unique index on {unique} is not in the schema')
    return problems
