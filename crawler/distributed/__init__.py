"""A crawl spread over many fetch workers that share one frontier in Redis, with one archive writer.

`cablearchive crawl SEEDS --redis URL` runs the coordinator (crawler.distributed.coordinator):
it puts the job and the seeds into Redis, hands expired leases back to the queue, ingests the
workers' closed WARC files into the archive (it is the archive's only writer), shows progress
and writes one report for the cluster. `cablearchive worker --redis URL` (any number, on any
machine that reaches Redis and the spool folder) fetches (crawler.distributed.worker).

crawler.distributed.cluster holds every Redis key and script (the data structures are listed
there); crawler.distributed.spool the names and format of the workers' files.
"""
