"""CopyOutputs on the local stack: the videos land in the bucket and the results point at them."""

from __future__ import annotations

from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import run_to_the_end


def test_finished_videos_are_copied_and_the_report_points_at_the_copies(local_system):
    system = local_system(parameters={"CopyOutputs": "true"})
    rows = campaign_rows(30, fail={5})
    system.drop("incoming/spring/campaign.csv", to_csv(rows))
    system.settle()
    system.finish_batches()
    system.settle()
    snap = system.snapshot()
    assert snap["status"] == "COMPLETED"
    s3 = system.runtime.stack.client("s3")
    listed = s3.list_objects_v2(Bucket=system.bucket, Prefix="outputs/spring/campaign/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert len(keys) == 29  # every COMPLETED row, not the failed one
    assert "outputs/spring/campaign/r1.mp4" in keys
    video = s3.get_object(Bucket=system.bucket, Key="outputs/spring/campaign/r1.mp4")
    assert video["ContentType"] == "video/mp4"
    assert video["Body"].read()[4:8] == b"ftyp"  # a real MP4 container
    table = system.results_csv("results/spring/campaign.results.csv")
    header, body = table[0], table[1:]
    url = header.index("output_url")
    done = [r for r in body if r[header.index("status")] == "COMPLETED"]
    assert all(r[url].startswith(f"s3://{system.bucket}/outputs/spring/campaign/") for r in done)
    (email,) = system.runtime.collect_emails()
    assert f"s3://{system.bucket}/outputs/spring/campaign/" in email.body


def test_videos_that_cannot_be_downloaded_keep_syncs_link_and_say_why(local_system):
    """Refused and reset downloads: retried, then recorded; the one email still goes out."""
    system = local_system(parameters={"CopyOutputs": "true"})
    system.emulator.faults.media_refused_rows = frozenset({"r3"})
    system.emulator.faults.media_reset_rows = frozenset({"r7"})
    system.drop("incoming/spring/campaign.csv", to_csv(campaign_rows(30)))
    run_to_the_end(system, files=1, timeout=90)
    (email,) = system.runtime.collect_emails()
    table = system.results_csv("results/spring/campaign.results.csv")
    header, body = table[0], table[1:]
    by_id = {r[header.index("request_id")]: dict(zip(header, r, strict=False)) for r in body}
    assert {r["status"] for r in by_id.values()} == {"COMPLETED"}
    for broken in ("r3", "r7"):
        row = by_id[broken]
        assert row["error_code"] == "COPY_FAILED"
        assert "could not be copied" in row["error_message"]
        assert row["output_url"].startswith(system.emulator.url)  # Sync's own link, kept
    copied = [r for r in by_id.values() if r["output_url"].startswith("s3://")]
    assert len(copied) == 28
    assert f"s3://{system.bucket}/outputs/spring/campaign/" in email.body
