"""Writes to a Kinesis endpoint with boto3 (a client independent of kwb) and prints, per shard,
what the answers said: records accepted, their bytes (partition key + data) and records
throttled. Throttled records name no shard in the answer; their shard is worked out here from
the MD5 of the key and the stream's hash-key ranges.

Usage: boto3_writer.py ENDPOINT STREAM
"""

import hashlib
import json
import sys

import boto3
from botocore.config import Config

endpoint, stream = sys.argv[1], sys.argv[2]
client = boto3.client(
    "kinesis",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="boto3",
    aws_secret_access_key="boto3-secret",
    # No hidden retries: every attempt the server counts is one the answers below show.
    config=Config(retries={"total_max_attempts": 1}),
)
shards = [
    s
    for s in client.list_shards(StreamName=stream)["Shards"]
    if "EndingSequenceNumber" not in s["SequenceNumberRange"]
]


def shard_of(key):
    h = int(hashlib.md5(key.encode()).hexdigest(), 16)
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise ValueError(key)


counts = {}


def note(shard, accepted, nbytes, throttled):
    c = counts.setdefault(shard, [0, 0, 0])
    c[0] += accepted
    c[1] += nbytes
    c[2] += throttled


spread = [(f"user-{i}", b"x" * (i % 70)) for i in range(200)]
hot = [("hot", b"y" * 20) for _ in range(500)]
for batch in [spread] + [hot] * 5:
    answer = client.put_records(
        StreamName=stream,
        Records=[{"PartitionKey": k, "Data": d} for k, d in batch],
    )
    for (key, data), result in zip(batch, answer["Records"]):
        if "ErrorCode" not in result:
            assert result["ShardId"] == shard_of(key)
            note(result["ShardId"], 1, len(key) + len(data), 0)
        elif result["ErrorCode"] == "ProvisionedThroughputExceededException":
            note(shard_of(key), 0, 0, 1)
        else:
            raise RuntimeError(result)

# One PutRecord on a shard the burst did not touch.
key = next(k for k, _ in spread if shard_of(k) != shard_of("hot"))
single = client.put_record(StreamName=stream, PartitionKey=key, Data=b"single")
note(single["ShardId"], 1, len(key) + len(b"single"), 0)

print(json.dumps(counts))
