"""Which objects looked at which: a change of a referenced object wakes the objects that refer to it."""

from __future__ import annotations

ObjectKey = tuple[str, str, str]  # kind, namespace, name
RefKey = tuple[str, str, str]  # namespace, kind, name


class Dependents:
    """Which objects looked at which (kind, name): a change of the latter wakes the former."""

    def __init__(self) -> None:
        self._by_ref: dict[RefKey, set[ObjectKey]] = {}
        self._refs: dict[ObjectKey, set[RefKey]] = {}

    def record(self, key: ObjectKey, refs: frozenset[tuple[str, str]]) -> None:
        new = {(key[1], kind, name) for kind, name in refs}
        old = self._refs.get(key, set())
        for ref in old - new:
            users = self._by_ref.get(ref)
            if users is not None:
                users.discard(key)
                if not users:
                    del self._by_ref[ref]
        for ref in new - old:
            self._by_ref.setdefault(ref, set()).add(key)
        if new:
            self._refs[key] = new
        else:
            self._refs.pop(key, None)

    def forget(self, key: ObjectKey) -> None:
        self.record(key, frozenset())

    def of(self, namespace: str, kind: str, name: str) -> set[ObjectKey]:
        return set(self._by_ref.get((namespace, kind, name), ()))

    def __len__(self) -> int:
        return len(self._refs)
