"""docs/migrating-from-adf.md, generated from the mapping the importer uses (adf/mapping.py, triggers.py,
expressions.py, timezones.py).

`make generate` runs `python -m impala_copy.adf.docs --output docs/migrating-from-adf.md`; a test fails
when the committed file differs from what the tables give.
"""

from __future__ import annotations

from collections.abc import Callable

from impala_copy.adf import mapping
from impala_copy.adf.activities import CONTAINERS, INCREMENTAL_HINT
from impala_copy.adf.expressions import KEPT
from impala_copy.adf.fields import FieldMap, KindMap
from impala_copy.adf.timezones import WINDOWS_TO_IANA
from impala_copy.adf.triggers import RETRY_FIELDS, WINDOW_FIELDS
from impala_copy.api.doc_output import write_page

STEPS = """\
# Migrating from Azure Data Factory

`impala-copy import-adf` turns the ADF JSON of linked services, datasets, pipelines and triggers into
manifests. This page is generated from the tables the import reads through, so each row says exactly
what the import does with an ADF property.

## Steps

1. Get the JSON of the factory: the folder of its Git repository (`linkedService/`, `dataset/`,
   `pipeline/`, `trigger/`), or an ARM template export (`ARMTemplateForFactory.json`, with
   `ARMTemplateParametersForFactory.json` to give the parameters their values).
2. Import it into a new folder:

   ```sh
   impala-copy import-adf path/to/factory -o imported -n analytics
   ```

   Everything the import cannot carry over is listed in `imported/import-report.md` (and on stderr)
   with its file, JSON path and reason; nothing is dropped without a line there. The exit code is
   0 when the input was read, 2 when a file cannot be read (not JSON, missing).
3. Create the Secrets and ConfigMaps with the commands in `imported/README.md`. The import never
   copies a credential: `secrets/` holds templates that show each key with an empty value; a Key
   Vault secret comes with the `az keyvault secret show` command that reads it.
4. Check the folder: `impala-copy validate -f imported -n analytics`.
5. Try a copy on your machine: `impala-copy run -f imported -n analytics -a <copy-activity>`.
6. Apply `imported/manifests/` with `kubectl apply -f` or commit it to the repository Argo CD syncs.
   Activities that ran one after another in a pipeline (`dependsOn`) stand alone here: order them with
   Argo CD sync waves (the `argocd.argoproj.io/sync-wave` annotation; Argo CD itself:
   [argocd.md](argocd.md)).

Names become Kubernetes names: lowercase, every other character run becomes `-`
(`Copy_Orders 2` -> `copy-orders-2`); an activity is named `<pipeline>-<activity>`. When two ADF names
give the same name, the first in sorted order keeps it and the next gets `-2`, `-3`, ...; each object
keeps its ADF name in the annotation `impalacopy.io/adf-name`, and its ADF `description` in
`impalacopy.io/adf-description`.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _conversion(entry: FieldMap) -> str:
    if entry.note:
        return entry.note
    doc = (entry.convert.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def _kind(add: Callable[[str], None], table: KindMap) -> None:
    types = ", ".join(f"`{t}`" for t in table.types)
    add(f"### {table.title} ({types}) -> {table.kind}")
    add("")
    add("| ADF property | impala-copy field | Conversion |")
    add("| --- | --- | --- |")
    for ours, value in table.constants.items():
        add(f"| `type` | `{ours}` | always `{str(value).lower()}` |")
    for entry in table.fields:
        ours = f"`{entry.ours}`" if entry.ours else "(checked only)"
        add(f"| `{entry.adf}` | {ours} | {_cell(_conversion(entry))} |")
    add("")
    if table.dropped:
        add("Reported, not imported:")
        add("")
        add("| ADF property | Why |")
        add("| --- | --- |")
        for dropped in table.dropped:
            add(f"| `{dropped.adf}` | {_cell(dropped.reason)} |")
        add("")
    quiet = ", ".join(f"`{q}`" for q in table.quiet if q not in ("type", "name", "description"))
    if quiet:
        add(
            f"Read without a report line (ADF Studio's bookkeeping, or implied by the fields above): {quiet}."
        )
    add("Any other property is reported as having no counterpart.")
    add("")


def _triggers(add: Callable[[str], None]) -> None:
    add("## Triggers")
    add("")
    add("A trigger gives `spec.schedule` to every imported activity of the pipeline it starts (one")
    add("trigger per pipeline: more are reported). `runtimeState: Stopped` becomes `schedule.suspend: true`.")
    add("")
    add("### Schedule trigger (`ScheduleTrigger`) -> `spec.schedule.cron`")
    add("")
    add("| ADF property | impala-copy field | Conversion |")
    add("| --- | --- | --- |")
    add(
        "| `recurrence.frequency`, `interval`, `startTime` | `spec.schedule.cron` | Minute and Hour: every "
        "`interval` from the start's minute/hour, when `interval` divides 60 or 24; Day and Week: "
        "interval 1; Month: `interval` dividing 12 |"
    )
    add(
        "| `recurrence.schedule.minutes`, `hours` | `spec.schedule.cron` | the minute and hour fields "
        "(default: the start's) |"
    )
    add("| `recurrence.schedule.weekDays` | `spec.schedule.cron` | the day-of-week field |")
    add(
        "| `recurrence.schedule.monthDays` | `spec.schedule.cron` | the day-of-month field; -1 (last day) is "
        "reported |"
    )
    add("| `recurrence.timeZone` | `spec.schedule.timeZone` | Windows name -> IANA name (table below) |")
    add("| `pipelines[].parameters` | the activities' text | bound into `@{pipeline().parameters.X}` |")
    add("")
    add("Reported: `recurrence.endTime` (a cron schedule has no end), `schedule.monthlyOccurrences`, and")
    add("any recurrence five cron fields cannot say exactly.")
    add("")
    add("### Tumbling-window trigger (`TumblingWindowTrigger`) -> `spec.schedule.window` (CopyActivity)")
    add("")
    add("| ADF property | impala-copy field | Conversion |")
    add("| --- | --- | --- |")
    for adf, ours, _, note in WINDOW_FIELDS:
        add(f"| `typeProperties.{adf}` | `spec.schedule.window.{ours}` | {_cell(note)} |")
    for adf, ours, note in RETRY_FIELDS:
        add(f"| `typeProperties.retryPolicy.{adf}` | `spec.policy.{ours}` | {_cell(note)} |")
    add("| `pipeline.parameters` | the activities' text | bound into `@{pipeline().parameters.X}` |")
    add("")
    add("Reported: `typeProperties.dependsOn` (window dependencies), a Lookup activity in the pipeline")
    add("(windows apply to a CopyActivity only), other trigger types.")
    add("")


def _zones(add: Callable[[str], None]) -> None:
    add("### Time zones")
    add("")
    add("ADF writes Windows time zone names; these become IANA names (an IANA name is kept; others are")
    add("reported):")
    add("")
    add("| ADF (Windows) | IANA |")
    add("| --- | --- |")
    for windows, iana in WINDOWS_TO_IANA.items():
        add(f"| {windows} | `{iana}` |")
    add("")


def _expressions(add: Callable[[str], None]) -> None:
    add("## Expressions")
    add("")
    kept = ", ".join(f"`@{{{k}}}`" for k in KEPT)
    add(f"In queries, folder and file names and additional columns, {kept} and their")
    add("`formatDateTime(..., 'yyyy-MM-dd')` forms are kept as written: impala-copy fills them in from the")
    add("run (docs/schedules.md, Placeholders). `@{pipeline().parameters.X}` is replaced by what the trigger")
    add("passes for X, else by X's default value. Every other expression (`@activity(...)`,")
    add("`@variables(...)`, other functions) is reported, and the activity holding it is not imported.")
    add("Values of other properties must be written, not computed.")
    add("")
    add("## Pipelines")
    add("")
    add("Each Copy activity whose source is an `ImpalaSource` becomes a CopyActivity, each Lookup with an")
    add("`ImpalaSource` a LookupActivity. Reported: every other activity type; control flow")
    containers = ", ".join(f"`{c}`" for c in CONTAINERS)
    add(f"({containers}) with each activity inside it; pipeline `variables` and `concurrency`; `dependsOn`.")
    add(f"A pipeline with a Lookup, a Copy and a stored procedure or script: {_cell(INCREMENTAL_HINT)}.")
    add("")


def render() -> str:
    out: list[str] = [STEPS]
    add = out.append
    add("## Linked services")
    add("")
    for table in mapping.LINKED_SERVICES:
        _kind(add, table)
    add("A SecureString, an Azure Key Vault secret reference or a credential written as text becomes a")
    add("`secretKeyRef` to the Secret `<linked-service>-credentials`, whose key is the ADF property name.")
    add("`AzureKeyVault` linked services are read for their vault's address and reported.")
    add("")
    add("## Datasets")
    add("")
    for table in mapping.DATASETS:
        _kind(add, table)
    add("## Activities")
    add("")
    for table in mapping.ACTIVITIES:
        _kind(add, table)
    _triggers(add)
    _zones(add)
    _expressions(add)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    write_page(render, "Write docs/migrating-from-adf.md from the ADF mapping.", argv)


if __name__ == "__main__":
    main()
