"""Drives examples/python/zaikio_token_client.py against a local broker, as a new user would:
the environment `npm start` prints, endpoints passed by hand. Prints one JSON line per step with
sha256 digests of tokens, never a token, and the AWS calls each step made (counted by botocore's
own event hooks, so a step served from memory shows that it sent nothing).
"""

import hashlib
import json
import os
import sys
import time

import boto3
import botocore

import zaikio_token_client as ztc

ORG = sys.argv[1]
PERSON = sys.argv[2]
calls = {"GetItem": 0, "UpdateItem": 0, "Invoke": 0, "other": 0}


def count(event_name, **_):
    operation = event_name.rsplit(".", 1)[-1]
    calls[operation if operation in calls else "other"] += 1


def digest(token):
    return hashlib.sha256(token.access_token.encode("utf-8")).hexdigest()


def make_client(**overrides):
    options = dict(
        dynamodb_endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
        lambda_endpoint_url=os.environ["AWS_ENDPOINT_URL_LAMBDA"],
    )
    options.update(overrides)
    client = ztc.TokenClient(**options)
    # Every HTTP request either client sends passes this hook first.
    client.dynamodb.meta.events.register("before-send", count)
    client.lambda_client.meta.events.register("before-send", count)
    return client


def step(name, action):
    for key in calls:
        calls[key] = 0
    started = time.perf_counter()
    record = {"step": name}
    try:
        token = action()
        record.update(source=token.source, digest=digest(token), scopes=list(token.scopes))
        record["validForSeconds"] = round((token.expires_at - time.time() * 1000) / 1000)
        record["repr"] = repr(token)
    except ztc.BrokerError as error:
        record["error"] = {
            "class": type(error).__name__,
            "isBrokerError": isinstance(error, ztc.BrokerError),
            "code": error.code,
            "details": error.details,
            "transient": error.transient,
            "message": str(error),
        }
    record["micros"] = round((time.perf_counter() - started) * 1_000_000, 1)
    record["calls"] = dict(calls)
    print(json.dumps(record), flush=True)
    return record


# What boto3 does on its own with the printed environment: before 1.28 it ignores the endpoint
# variables, which is why the module takes the endpoints explicitly.
plain = boto3.client("dynamodb")
print(
    json.dumps(
        {
            "step": "environment",
            "boto3": boto3.__version__,
            "botocore": botocore.__version__,
            "python": sys.version.split()[0],
            "regionFromEnvironment": plain.meta.region_name,
            "endpointFromEnvironment": plain.meta.endpoint_url == os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
        }
    ),
    flush=True,
)

tokens = make_client()
items_read = dict(organization_id=ORG, scopes=["warehouse.items.r"])
step("organization first", lambda: tokens.get_access_token(**items_read))
step("organization again", lambda: tokens.get_access_token(**items_read))
step(
    "organization scope string",
    lambda: tokens.get_access_token(scope=f"Org/{ORG}.warehouse.items.r"),
)
tokens.clear_memory()
step("organization after memory reset", lambda: tokens.get_access_token(**items_read))
step("organization from a new client", lambda: make_client().get_access_token(**items_read))

step("person first", lambda: tokens.get_access_token(person_id=PERSON, scopes=["zaikio.person.r"]))
tokens.clear_memory()
step("person after memory reset", lambda: tokens.get_access_token(person_id=PERSON, scopes=["zaikio.person.r"]))

step("ungranted scope", lambda: tokens.get_access_token(organization_id=ORG, scopes=["procurement.orders.r"]))
step(
    "unknown organization",
    lambda: tokens.get_access_token(organization_id="0d5e2c1a-0000-4000-8000-000000000000", scopes=["warehouse.items.r"]),
)
step("malformed scope", lambda: tokens.get_access_token(organization_id=ORG, scopes=["Warehouse.items.r"]))
step("two bearer forms", lambda: tokens.get_access_token(organization_id=ORG, person_id=PERSON, scopes=["warehouse.items.r"]))
step("unknown client", lambda: tokens.get_access_token(client="nope", **items_read))
step(
    "wrong function name",
    lambda: make_client(mint_function_name="no-such-function").get_access_token(
        organization_id=ORG, scopes=["zaikio.organization.r"]
    ),
)

# Past the token's check point (half its life: ~5 of its 10 minutes), as this client's clock says:
# the first call reads the item again and reports the use (an Event Invoke of the mint), the next is
# memory. (The mint, on the real clock, serves the token; whether it records the use is its own rule,
# tested with the broker.)
later = make_client(clock=lambda: time.time() + 330)
step("organization past its check point", lambda: later.get_access_token(**items_read))
step("organization past its check point again", lambda: later.get_access_token(**items_read))

# A remembered token reaching its check point: memory answers, with the read and the report behind it.
shift = {"seconds": 0}
holder = make_client(clock=lambda: time.time() + shift["seconds"])
holder.get_access_token(**items_read)
shift["seconds"] = 330
step("organization remembered past its check point", lambda: holder.get_access_token(**items_read))
step("organization remembered, checked", lambda: holder.get_access_token(**items_read))

tokens.clear_memory()
step("organization before the refusal", lambda: tokens.get_access_token(**items_read))
remembered = tokens.get_access_token(**items_read).access_token
step("force refresh", lambda: tokens.force_refresh(rejected_token=remembered, **items_read))
step("force refresh of an already replaced token", lambda: tokens.force_refresh(rejected_token=remembered, **items_read))
