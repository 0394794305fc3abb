"""The objects of the load and soak benchmarks are valid manifests whose references all resolve.

In:  bench/population.py's namespaces (two of them), written as YAML files.
Out: what `impala-copy validate` reports on them (nothing), the count of each kind per namespace, and
     that each namespace's objects refer only to objects of that namespace.
Faked: nothing (the CLI's own manifest loader and reference checks).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml
from bench.population import PER_NAMESPACE, Population

from impala_copy.cli.manifests import load, validate_all

MIX = {
    "Secret": 3,
    "PersistentVolumeClaim": 1,
    "ImpalaLinkedService": 2,
    "AmazonS3LinkedService": 1,
    "PostgreSqlLinkedService": 1,
    "ImpalaDataset": 20,
    "ParquetDataset": 6,
    "DelimitedTextDataset": 3,
    "JsonDataset": 3,
    "PostgreSqlTableDataset": 4,
    "CopyActivity": 50,
    "LookupActivity": 6,
}


def test_every_object_is_valid_and_every_reference_resolves_in_its_namespace(tmp_path: Path) -> None:
    population = Population(2)
    objects = population.objects()
    for namespace in population.names():
        mine = [o for o in objects if o["metadata"]["namespace"] == namespace]
        (tmp_path / f"{namespace}.yaml").write_text(yaml.safe_dump_all(mine))
        assert Counter(o["kind"] for o in mine) == MIX
    # One namespace alone resolves on its own: nothing refers across namespaces.
    assert validate_all(load(tmp_path / "bench-00.yaml")) == []
    assert validate_all(load(tmp_path)) == []
    assert sum(MIX.values()) == PER_NAMESPACE
    assert len(Population.ours(objects)) == 2 * (PER_NAMESPACE - 4)
