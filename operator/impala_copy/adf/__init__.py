"""Azure Data Factory JSON -> impala-copy manifests (`impala-copy import-adf`).

Pure: the command (cli/adf_import.py) reads the files and writes the folder; this package turns ADF
resources into manifests and a report.

- `reader`: ADF JSON as ADF writes it (single resource files of a Git repository, ARM template
  exports with their parameters) -> `AdfResource`s;
- `arm`: the few ARM template functions an ADF export uses (parameters, variables, concat);
- `fields` and `mapping`: the tables, one per kind, from ADF property paths to our fields with a
  converter each; `docs` renders the same tables into docs/migrating-from-adf.md;
- `triggers` and `timezones`: schedule and tumbling-window triggers -> `spec.schedule`;
- `expressions`: which ADF expressions are kept as written, which are reported;
- `names`: Kubernetes names from ADF names, collisions resolved;
- `convert`: the whole import, `findings`: what could not be mapped, with its JSON path.
"""
