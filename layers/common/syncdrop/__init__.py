"""syncdrop: a CSV of videos in S3 becomes lipsync generations on sync.so's Batch API."""
