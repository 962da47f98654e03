"""Cross-checks kwb's KPL aggregates with the reference implementation (aws-kinesis-agg).

Reads one JSON object on stdin:
  {"aggregates": [base64, ...],                        # written by kwb: deaggregate each
   "user_records": [{"pk": s, "ehk": s|null, "data": base64}, ...]}  # aggregate these
Writes one JSON object on stdout:
  {"decoded": [[{"pk", "ehk", "data"}, ...], ...],     # per kwb aggregate
   "encoded": [{"pk", "ehk", "data"}, ...]}            # the reference's aggregates
"""
import base64
import json
import sys

from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg.deaggregator import deaggregate_records


def decode(aggregate_b64):
    record = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "sequenceNumber": "0",
            "approximateArrivalTimestamp": 0,
            "partitionKey": "a",
            "data": aggregate_b64,
        }
    }
    out = []
    for user in deaggregate_records([record]):
        k = user["kinesis"]
        if not k.get("aggregated"):
            raise SystemExit("the reference did not see an aggregate")
        out.append({
            "pk": k["partitionKey"],
            "ehk": k.get("explicitHashKey"),
            "data": k["data"].decode() if isinstance(k["data"], bytes) else k["data"],
        })
    return out


def encode(user_records):
    aggregator = RecordAggregator()
    out = []
    for r in user_records:
        full = aggregator.add_user_record(r["pk"], base64.b64decode(r["data"]), r["ehk"])
        if full is not None:
            out.append(full)
    last = aggregator.clear_and_get()
    if last is not None:
        out.append(last)
    encoded = []
    for agg in out:
        pk, ehk, data = agg.get_contents()
        encoded.append({"pk": pk, "ehk": ehk, "data": base64.b64encode(data).decode()})
    return encoded


request = json.load(sys.stdin)
json.dump({
    "decoded": [decode(a) for a in request["aggregates"]],
    "encoded": encode(request["user_records"]),
}, sys.stdout)
