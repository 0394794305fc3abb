"""The body of `impala-copy import-adf`: read ADF JSON, write a folder of manifests, a README and the report.

The folder:
- `manifests/`: linked services, datasets and activities (what `kubectl apply -f` takes);
- `secrets/`: one template per Secret or ConfigMap the manifests refer to, with keys and no values;
- `README.md`: the steps of the migration and one `kubectl create` command per template;
- `import-report.md`: everything that was not imported, with its file, JSON path and reason (the same
  lines go to stderr).
Exit code 0 when the input was read (whatever the report holds), 2 when it could not be.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from impala_copy.adf.convert import ImportResult, Manifest, import_resources
from impala_copy.adf.findings import Findings
from impala_copy.adf.reader import AdfInputError, read
from impala_copy.adf.secrets import SECRET, Template
from impala_copy.api.common import SecretKeySelector
from impala_copy.api.plan import secret_env_name
from impala_copy.cli import local, manifests, report
from impala_copy.cli.failures import one_line_errors, stderr_console, stdout_console
from impala_copy.engine.errors import EXIT_CONFIGURATION

GROUPS = (
    ("10-linked-services.yaml", ("LinkedService",)),
    ("20-datasets.yaml", ("Dataset",)),
    ("30-activities.yaml", ("Activity",)),
)
REPORT_FILE = "import-report.md"
# Rounds of `write_valid`: leaving an object out can leave out those that refer to it, one level a round.
MAX_PASSES = 4


def import_adf(
    paths: list[Path],
    output: Path,
    namespace: str | None,
    *,
    out: Console | None = None,
    err: Console | None = None,
) -> int:
    out = out or stdout_console()
    err = err or stderr_console()
    with one_line_errors(err) as failure:
        if namespace:
            local.check_namespace(namespace)
        findings = Findings()
        try:
            resources = read(paths, findings)
        except AdfInputError as exc:
            report.say(err, report.error_line("UnreadableInput", str(exc)))
            return EXIT_CONFIGURATION
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            report.say(err, report.error_line("OutputNotEmpty", f"{output}: choose a new or empty folder"))
            return EXIT_CONFIGURATION
        result = import_resources(resources, findings, namespace)
        written = write_valid(result, output)
    if failure.exit_code is not None:
        return failure.exit_code
    for item in result.findings.items:
        report.say(err, f"not imported: {item}")
    report.say(
        out,
        f"{len(result.manifests)} object(s) and {len(result.templates)} Secret/ConfigMap template(s) written "
        f"to {output} ({len(written)} files); {len(result.findings)} item(s) not imported: see "
        f"{output / REPORT_FILE}",
    )
    return 0


def write_valid(result: ImportResult, output: Path) -> list[Path]:
    """Write the folder, then check it as `impala-copy validate` does: an object it finds an error in
    is reported and left out, and the folder written again (the import's own checks make this rare:
    this is the last word)."""
    namespace = result.namespace or manifests.DEFAULT_NAMESPACE
    for _ in range(MAX_PASSES):
        written = write(result, output)
        if not any(path.suffix == ".yaml" for path in written):
            return written
        errors = {(e.kind, e.name): e for e in manifests.validate_all(manifests.load(output, namespace))}
        invalid = [m for m in result.manifests if (m.kind, m.name) in errors]
        if not invalid:
            return written
        for made in invalid:
            error = errors[(made.kind, made.name)]
            where = f"{error.path}: " if error.path else ""
            reason = f"not imported: {made.kind} {made.name!r}: impala-copy validate: {where}{error.message}"
            result.findings.add(made.origin, made.path, f"{made.kind} {made.name!r}", reason)
            result.manifests.remove(made)
        for path in written:
            path.unlink()
    return write(result, output)


def write(result: ImportResult, output: Path) -> list[Path]:
    """Write the folder (see the module docstring); the paths written."""
    written: list[Path] = []
    (output / "manifests").mkdir(parents=True, exist_ok=True)
    for file, suffixes in GROUPS:
        group = [m for m in result.manifests if m.kind.endswith(suffixes)]
        if group:
            written.append(_yaml(output / "manifests" / file, [_with_origin(m) for m in group]))
    if result.templates:
        (output / "secrets").mkdir(exist_ok=True)
    for template in result.templates:
        header = (
            f"# A template: fill in the values with the command in ../README.md, never in this file.\n"
            f"# {template.kind} for the ADF linked service {_comment(template.owner)}.\n"
        )
        doc = template.manifest(result.namespace)
        written.append(
            _yaml(output / "secrets" / f"{template.kind.lower()}-{template.name}.yaml", [doc], header)
        )
    written.append(_text(output / "README.md", readme(result)))
    written.append(_text(output / REPORT_FILE, report_markdown(result)))
    return written


def _with_origin(manifest: Manifest) -> tuple[str, dict[str, Any]]:
    return f"# From {_comment(manifest.origin)} at {_comment(manifest.path)}\n", manifest.doc


def _comment(text: str) -> str:
    return report.escape(text).replace("\n", " ")


def _yaml(path: Path, docs: list[Any], header: str = "") -> Path:
    parts = []
    for doc in docs:
        comment, body = doc if isinstance(doc, tuple) else ("", doc)
        parts.append(comment + yaml.safe_dump(body, sort_keys=False, allow_unicode=False, width=100))
    path.write_text(header + "---\n".join(parts), encoding="utf-8")
    return path


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ markdown

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def md(text: object) -> str:
    """Text from the input, safe inside a Markdown table cell or list item."""
    escaped = html.escape(report.escape(text).replace("\n", " "), quote=False)
    return _CONTROLS.sub(" ", escaped).replace("|", "\\|").replace("`", "\\`").replace("*", "\\*")


def report_markdown(result: ImportResult) -> str:
    lines = [
        "# ADF import report",
        "",
        f"{len(result.manifests)} object(s) imported; {len(result.findings)} item(s) below were not "
        "(docs/migrating-from-adf.md says what each ADF property becomes).",
        "",
    ]
    if result.findings.items:
        lines += ["| File | JSON path | ADF object | Reason |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {md(f.origin)} | {md(f.path)} | {md(f.subject)} | {md(f.reason)} |"
            for f in result.findings.items
        ]
    else:
        lines.append("Everything was imported.")
    return "\n".join(lines) + "\n"


def readme(result: ImportResult) -> str:
    ns = f" -n {result.namespace}" if result.namespace else ""
    lines = [
        "# Manifests imported from Azure Data Factory",
        "",
        "Generated by `impala-copy import-adf`. Steps:",
        "",
        "1. Read `import-report.md`: what was not imported, and why.",
        "2. Create the Secrets and ConfigMaps below (the templates in `secrets/` show their keys; never put "
        "values into them).",
        f"3. Check the folder: `impala-copy validate -f .{ns}`.",
        f"4. Apply the manifests: `kubectl apply{ns} -f manifests/` (or commit `manifests/` to the "
        "repository Argo CD syncs).",
        "",
    ]
    if not result.templates:
        return "\n".join([*lines, "No Secret or ConfigMap is needed.", ""])
    lines += ["## Secrets and ConfigMaps", ""]
    for template in result.templates:
        lines.append(f"`{template.kind} {template.name}`, for the ADF linked service {md(template.owner)}:")
        lines.append("")
        lines += [f"- `{key}`: {md(source.description)}" for key, source in template.keys.items()]
        lines += ["", "```sh", template.command(result.namespace), "```", ""]
        if template.kind == SECRET:
            lines += _local_run(template)
    return "\n".join(lines)


def _local_run(template: Template) -> list[str]:
    """The environment variables `impala-copy run` reads these keys from (they win over the template)."""
    lines = ["For `impala-copy run` on this machine, set instead:", "", "```sh"]
    for key, source in template.keys.items():
        name = secret_env_name(SecretKeySelector(name=template.name, key=key))
        lines.append(f"export {name}={source.shell_value}")
    return [*lines, "```", ""]
