"""CopyOutputs on the local stack: the videos land in the bucket and the results point at them."""

from __future__ import annotations

from tests.support.csv_files import campaign_rows, to_csv


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
