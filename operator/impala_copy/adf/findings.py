"""What an import could not map: each item with the file, the JSON path and the reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """One item of the import report: where in the ADF JSON (file, JSON path), about what, and why."""

    origin: str  # the file it came from
    path: str  # JSON path inside that file, e.g. $.properties.activities[2]
    subject: str  # e.g. "pipeline 'Daily'"
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.path}: {self.subject}: {self.reason}"


@dataclass
class Findings:
    """The findings of one import, in the order they were made (duplicates kept once)."""

    items: list[Finding] = field(default_factory=list)

    def add(self, origin: str, path: str, subject: str, reason: str) -> None:
        item = Finding(origin, path, subject, reason)
        if item not in self.items:
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)
