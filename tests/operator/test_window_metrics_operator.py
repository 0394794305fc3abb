"""The running operator's /metrics for a CopyActivity with tumbling windows, scraped over HTTP.

In:  the standard objects with four Minute windows (maxConcurrency 2) on the API emulator, the operator
     serving metrics on a free port; the test plays the Job controller and the kubelet, finishing two
     window Jobs back to back with different run summaries, then the rest; then deletes the activity.
Out: the Prometheus text: one start (trigger window) and one success per window, the rows, bytes and
     files of every window's summary summed, the last-run gauges of one window, no run active; after the
     delete, no series names the activity any more.
Faked: the API server (kmock), the Job controller and the kubelet.
"""

from __future__ import annotations

from typing import Any

from tests.operator import harness, manifests
from tests.operator.harness import Cluster, settle, start_operator, until
from tests.operator.test_metrics_operator import free_port, labels, scrape
from tests.operator.test_windows_operator import CA, WINDOWS, created_windows, unfinished, window_set

NS = manifests.NS
COPY = {"namespace": NS, "kind": "CopyActivity", "name": CA}
ROWS = [7, 11, 13, 17]  # rows of the windows' summaries, in the order the test finishes them


async def finish_all_windows(cluster: Cluster) -> None:
    rows = iter(ROWS)
    await until(lambda: len(unfinished(cluster)) == 2, what="two window Jobs")
    while len(created_windows(cluster)) < WINDOWS or unfinished(cluster):
        for job in unfinished(cluster):  # both running windows end back to back
            await cluster.finish(job, manifests.summary(rows=next(rows)))
        await until(
            lambda: not unfinished(cluster) or len(created_windows(cluster)) == WINDOWS,
            what="the next windows",
        )
        await settle(cluster)
    await until(lambda: cluster.status("CopyActivity", CA)["windows"].get("succeededCount") == WINDOWS,
                what="every window succeeded")  # fmt: skip
    await settle(cluster)


async def test_every_window_counts_and_a_deleted_activity_leaves_no_series(
    kmock: Any, cluster: Cluster
) -> None:
    port = free_port()
    operator = await start_operator(kmock, harness.test_settings(metrics_port=port))
    try:
        objects, _ = window_set()
        await cluster.apply(*objects)
        await finish_all_windows(cluster)
        samples = scrape(port)
        await cluster.delete("CopyActivity", CA)
        await until(lambda: not any(f'name="{CA}"' in key for key in scrape(port)), what="the series removed")
    finally:
        await operator.stop()

    done = labels(**COPY, outcome="succeeded")
    assert samples["impala_copy_runs_started_total" + labels(**COPY, trigger="window")] == WINDOWS
    assert (
        samples[
            "impala_copy_runs_finished_total" + labels(**COPY, outcome="succeeded", reason="RunSucceeded")
        ]
        == WINDOWS
    )
    assert samples["impala_copy_rows_copied_total" + done] == sum(ROWS)
    assert samples["impala_copy_bytes_written_total" + done] == sum(ROWS) * 12
    assert samples["impala_copy_files_written_total" + done] == WINDOWS
    assert samples["impala_copy_run_duration_seconds_total" + done] == WINDOWS * 2.5
    assert samples["impala_copy_last_run_rows_copied" + done] in ROWS
    assert samples["impala_copy_last_run_partitions" + done] == 0
    assert samples["impala_copy_active_runs" + labels(namespace=NS, kind="CopyActivity")] == 0
