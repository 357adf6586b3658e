"""Zaikio access tokens from the token broker, for Python (standard library and boto3 only).

The same order as the TypeScript consumer client: this process's memory, then one DynamoDB GetItem
of the readable attributes, then one synchronous Invoke of the mint function. The contract it
implements (key, readable attributes, servable rule, mint request and errors) is in
docs/consumers.md.

    from zaikio_token_client import TokenClient, ScopeNotGrantedError

    tokens = TokenClient()  # module level: the memory cache lives as long as the process
    token = tokens.get_access_token(organization_id="b1475f65-…", scopes=["warehouse.items.r"])
    headers = {"Authorization": f"Bearer {token.access_token}"}

Clients and endpoints are taken explicitly because boto3 before 1.28.0 (Debian 12 ships 1.26)
ignores AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_LAMBDA and reads only AWS_DEFAULT_REGION.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

__all__ = [
    "AccessToken",
    "BrokerError",
    "DependencyUnavailableError",
    "HubUnavailableError",
    "InvalidClientError",
    "InvalidRequestError",
    "RateLimitedError",
    "ScopeNotGrantedError",
    "TokenClient",
]

# The attributes a consumer may read (functions/core/store/schema.ts READABLE_ATTRIBUTES). IAM denies
# a GetItem that asks for any other, or for all of them without a projection.
READABLE_ATTRIBUTES = (
    "pk",
    "sk",
    "accessToken",
    "tokenType",
    "grantedScopes",
    "expiresAt",
    "issuedAt",
    "version",
    "status",
    "lastError",
    "lastRequestedAt",
)
# Placeholders for every name: `status` is a DynamoDB reserved word, and others may become one.
_PROJECTION_NAMES = {f"#a{index}": name for index, name in enumerate(READABLE_ATTRIBUTES)}
_PROJECTION = ", ".join(_PROJECTION_NAMES)

DEFAULT_MIN_VALIDITY_SECONDS = 60
MAX_MIN_VALIDITY_SECONDS = 3600
# A contended miss may wait for another container's mint and then the Hub: up to the mint
# function's timeout (60 s by default), so the read timeout leaves room for it.
MINT_READ_TIMEOUT_SECONDS = 70

# The request grammar the mint function enforces (functions/core/scopes.ts), checked here so a
# malformed request fails before any network call, as in the TypeScript client.
_BEARER_ID = re.compile(r"^[a-z0-9-]+$")
_APP = re.compile(r"^[a-z][a-z0-9_]{2,}$")
_SCOPE_NAME = re.compile(r"^[a-z][a-z_]{2,}$")
_CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_MAX_SCOPES = 50
_MAX_SORT_KEY_BYTES = 1024
_BEARER_PREFIX = {"Org": "organization_id", "Per": "person_id"}
_PAYLOAD_FIELD = {"Org": "organizationId", "Per": "personId"}

# `<message> [code=<code> details=<JSON>]`: only the last suffix is the mint function's, because a
# message may quote caller input.
_WIRE_SUFFIX = re.compile(r"^ \[code=([a-z_]+) details=(\{.*\})\]$", re.DOTALL)
# AWS errors that no retry fixes: the configuration or the grant is wrong.
_CONFIGURATION_ERRORS = {"ResourceNotFoundException", "AccessDeniedException", "InvalidParameterValueException"}


class BrokerError(Exception):
    """A broker error: `error_type` (the class name), `code`, `details` and `transient`."""

    error_type = "BrokerError"
    transient = False
    # The codes each type carries; the first is the one used when a reported code is not its own.
    codes: Tuple[str, ...] = ()

    def __init__(self, code: str, message: str, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code if code in self.codes else (self.codes[0] if self.codes else code)
        self.message = message
        self.details: Dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.error_type} ({self.code}): {self.message}"


class InvalidRequestError(BrokerError):
    """Bad payload, malformed scope, unknown client, or a wrong table/function name or grant."""

    error_type = "InvalidRequestError"
    codes = ("invalid_request", "malformed_scope", "unknown_client")


class ScopeNotGrantedError(BrokerError):
    """The bearer has not granted (all) the scopes; details: `hubCodes`, `missingScopes`."""

    error_type = "ScopeNotGrantedError"
    codes = ("scope_not_granted", "partial_grant")


class AccessDeniedError(BrokerError):
    """The consumer's grant does not cover the request (bearer, scope, app), or it did not invoke its alias."""

    error_type = "AccessDeniedError"
    codes = (
        "access_denied",
        "unidentified_caller",
        "bearer_not_allowed",
        "scope_not_allowed",
        "client_not_allowed",
        "new_key_limit",
    )

    @property
    def transient(self) -> bool:  # type: ignore[override]
        # Only the new-key ceiling passes: it resets within the hour (details carry retryAt).
        return self.code == "new_key_limit"


class InvalidClientError(BrokerError):
    """The Hub refused the app's credentials, or the broker's secret is missing or malformed."""

    error_type = "InvalidClientError"
    codes = ("invalid_client", "secret_unavailable", "secret_malformed")


class RateLimitedError(BrokerError):
    """The Hub rate-limited the app; retry after `retry_at` (epoch seconds, from `details.retryAt`)."""

    error_type = "RateLimitedError"
    transient = True
    codes = ("rate_limited",)

    @property
    def retry_at(self) -> Optional[float]:
        text = self.details.get("retryAt")
        return _parse_iso(text) / 1000 if isinstance(text, str) else None


class HubUnavailableError(BrokerError):
    """No token could be had now from the Hub (or another mint did not finish in time): retry with backoff."""

    error_type = "HubUnavailableError"
    transient = True
    codes = (
        "hub_unavailable",
        "hub_timeout",
        "hub_invalid_response",
        "lease_wait_timeout",
        "corrupt_item",
    )


class DependencyUnavailableError(BrokerError):
    """An AWS service the broker depends on (table, Secrets Manager, mint function) failed: retry with backoff."""

    error_type = "DependencyUnavailableError"
    transient = True
    codes = (
        "dependency_unavailable",
        "store_unavailable",
        "mint_unavailable",
        "secrets_unavailable",
    )


_ERROR_CLASSES = {
    cls.error_type: cls
    for cls in (
        InvalidRequestError,
        ScopeNotGrantedError,
        AccessDeniedError,
        InvalidClientError,
        RateLimitedError,
        HubUnavailableError,
        DependencyUnavailableError,
    )
}


@dataclass(frozen=True)
class AccessToken:
    """A token and where it came from: `memory` (no network call), `table` (one GetItem) or `mint`."""

    # Kept out of repr() so that logging the object never logs the token.
    access_token: str = field(repr=False)
    expires_at: int  # epoch milliseconds
    scopes: Tuple[str, ...]
    source: str
    token_type: str = "Bearer"


@dataclass(frozen=True)
class _Request:
    pk: str
    sk: str
    min_validity_ms: int
    payload: Dict[str, Any]

    @property
    def memory_key(self) -> str:
        return f"{self.pk} {self.sk}"


def _parse_iso(text: str) -> int:
    """ISO 8601 to epoch ms; Python before 3.11 does not accept the trailing `Z`."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _bad(message: str, code: str = "invalid_request") -> InvalidRequestError:
    return InvalidRequestError(code, message)


def _parse_bare_scope(scope: Any) -> str:
    if not isinstance(scope, str) or scope == "":
        raise _bad('each scope must be a non-empty string like "warehouse.items.r"', "malformed_scope")
    parts = scope.split(".")
    if len(parts) != 3:
        raise _bad(f"scope {scope!r} must be app.scope.permission", "malformed_scope")
    app, name, permission = parts
    if not _APP.match(app):
        raise _bad(f"scope {scope!r}: app {app!r} must match {_APP.pattern}", "malformed_scope")
    if not _SCOPE_NAME.match(name):
        raise _bad(f"scope {scope!r}: scope name {name!r} must match {_SCOPE_NAME.pattern}", "malformed_scope")
    if permission not in ("r", "w", "rw"):
        raise _bad(f"scope {scope!r}: permission {permission!r} must be r, w or rw", "malformed_scope")
    return scope


def _parse_scope_string(text: Any) -> Tuple[str, str, List[str]]:
    """Zaikio's `Org/<id>.app.scope.perm,…` form: (bearer prefix, id, bare scopes)."""
    if not isinstance(text, str) or text.strip() == "":
        raise _bad('scope must be a non-empty string like "Org/<uuid>.warehouse.items.r"', "malformed_scope")
    prefix: Optional[str] = None
    bearer_id: Optional[str] = None
    bare: List[str] = []
    for raw in text.split(","):
        full = raw.strip()
        head, dot, rest = full.partition(".")
        kind, slash, identifier = head.partition("/")
        if not slash or kind not in _BEARER_PREFIX or not _BEARER_ID.match(identifier):
            raise _bad(f'scope {full!r} must start with a bearer "Org/<id>." or "Per/<id>."', "malformed_scope")
        if not dot:
            raise _bad(f"scope {full!r} names a bearer but no app.scope.permission", "malformed_scope")
        if prefix is not None and (kind != prefix or identifier != bearer_id):
            raise _bad(f"all scopes must name the same bearer; {full!r} differs from the first", "malformed_scope")
        prefix, bearer_id = kind, identifier
        bare.append(rest)
    if prefix is None or bearer_id is None:
        raise _bad("scope names no bearer", "malformed_scope")
    return prefix, bearer_id, bare


def _epoch_ms(item: Dict[str, Any], name: str, key: str) -> Optional[int]:
    value = item.get(name)
    if value is None or value.get("NULL") is True:
        return None
    try:
        return int(float(value["N"]))
    except (KeyError, TypeError, ValueError):
        raise HubUnavailableError("corrupt_item", f"stored item {key} is corrupt: {name} is not a number")


def _string(item: Dict[str, Any], name: str, key: str) -> Optional[str]:
    value = item.get(name)
    if value is None or value.get("NULL") is True:
        return None
    if "S" not in value:
        raise HubUnavailableError("corrupt_item", f"stored item {key} is corrupt: {name} is not a string")
    return value["S"]


def _strings(item: Dict[str, Any], name: str, key: str) -> Tuple[str, ...]:
    value = item.get(name)
    if value is None or value.get("NULL") is True:
        return ()
    if "SS" in value:
        return tuple(value["SS"])
    entries = value.get("L")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) and "S" in entry for entry in entries):
        raise HubUnavailableError("corrupt_item", f"stored item {key} is corrupt: {name} is not a list of strings")
    return tuple(entry["S"] for entry in entries)


def _aws_error_name(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def error_from_wire(error_type: Any, error_message: Any, function_name: str = "mint") -> BrokerError:
    """The typed error for a mint function error (`errorType`, `errorMessage` of the payload)."""
    cls = _ERROR_CLASSES.get(error_type) if isinstance(error_type, str) else None
    if cls is None or not isinstance(error_message, str):
        # A runtime failure (timeout, crash): its message may quote anything, so only its type is kept.
        kind = error_type if isinstance(error_type, str) else "an unnamed error"
        return DependencyUnavailableError("mint_unavailable", f"the mint function {function_name} failed with {kind}")
    at = error_message.rfind(" [code=")
    match = _WIRE_SUFFIX.match(error_message[at:]) if at >= 0 else None
    if match is None:
        return cls("", error_message)
    try:
        details = json.loads(match.group(2))
    except ValueError:
        details = {}
    return cls(match.group(1), error_message[:at], details if isinstance(details, dict) else {})


class TokenClient:
    """Tokens for organizations and persons. Create one per process and keep it: it is the cache.

    Every argument is optional and overrides the environment the CDK grant sets:

    - ``table_name``: ``TOKENS_TABLE_NAME``; ``mint_function_name``: ``MINT_FUNCTION_NAME``;
    - ``default_client``: ``ZAIKIO_DEFAULT_CLIENT``, else ``default`` (the app in the key and the request);
    - ``usage_record_interval_ms``: ignored (use is now reported once per token: rule 4 of docs/consumers.md);
    - ``min_validity_seconds``: 60, the default for each call;
    - ``dynamodb`` / ``lambda_client``: boto3 clients to use as they are; otherwise made from
      ``session`` (or boto3's default session) with ``region_name`` and ``dynamodb_endpoint_url`` /
      ``lambda_endpoint_url`` (boto3 before 1.28.0 does not read ``AWS_ENDPOINT_URL_*`` itself);
    - ``clock``: seconds since the epoch, ``time.time``.
    """

    def __init__(
        self,
        *,
        table_name: Optional[str] = None,
        mint_function_name: Optional[str] = None,
        default_client: Optional[str] = None,
        min_validity_seconds: int = DEFAULT_MIN_VALIDITY_SECONDS,
        usage_record_interval_ms: Optional[int] = None,
        dynamodb: Any = None,
        lambda_client: Any = None,
        session: Any = None,
        region_name: Optional[str] = None,
        dynamodb_endpoint_url: Optional[str] = None,
        lambda_endpoint_url: Optional[str] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ
        table = table_name or env.get("TOKENS_TABLE_NAME")
        function = mint_function_name or env.get("MINT_FUNCTION_NAME")
        if not table:
            raise _bad("no token table: pass table_name or set TOKENS_TABLE_NAME")
        if not function:
            raise _bad("no mint function: pass mint_function_name or set MINT_FUNCTION_NAME")
        self.table_name: str = table
        self.mint_function_name: str = function
        self.default_client = default_client or env.get("ZAIKIO_DEFAULT_CLIENT") or "default"
        _check_min_validity(min_validity_seconds)
        self.min_validity_seconds = min_validity_seconds
        del usage_record_interval_ms  # accepted so that older callers keep working
        self._clock = clock
        factory = session or boto3
        self.dynamodb = dynamodb or factory.client(
            "dynamodb", region_name=region_name, endpoint_url=dynamodb_endpoint_url
        )
        self.lambda_client = lambda_client or factory.client(
            "lambda",
            region_name=region_name,
            endpoint_url=lambda_endpoint_url,
            config=Config(read_timeout=MINT_READ_TIMEOUT_SECONDS, connect_timeout=5),
        )
        self._memory: Dict[str, AccessToken] = {}
        # When each remembered token reaches its check point (half its life) and its use is to be
        # reported: rule 4 of docs/consumers.md. No entry: nothing (more) to report for that token.
        self._check_at: Dict[str, int] = {}

    # -- public API -------------------------------------------------------------------------------

    def get_access_token(
        self,
        *,
        organization_id: Optional[str] = None,
        person_id: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        scope: Optional[str] = None,
        client: Optional[str] = None,
        min_validity_seconds: Optional[int] = None,
    ) -> AccessToken:
        """A token valid for at least `min_validity_seconds`: memory, then the table, then the mint.

        Exactly one form: `organization_id` or `person_id` with `scopes` (``app.scope.permission``),
        or `scope` in Zaikio's ``Org/<id>.app.scope.permission,…`` form. Raises a BrokerError.
        """
        request = self._resolve(organization_id, person_id, scopes, scope, client, min_validity_seconds)
        now = self._now_ms()
        remembered = self._memory.get(request.memory_key)
        if remembered is not None and remembered.expires_at - now >= request.min_validity_ms:
            check_at = self._check_at.get(request.memory_key)
            if check_at is not None and now >= check_at:
                # Rule 4: read the item again and report the use. Never the caller's problem: on any
                # failure, or an item that is not servable, memory still answers.
                self._check_at.pop(request.memory_key, None)
                try:
                    self._read_table(request, now)
                except BrokerError:
                    pass
            return AccessToken(remembered.access_token, remembered.expires_at, remembered.scopes, "memory")
        stored = self._read_table(request, now)
        if stored is not None:
            self._memory[request.memory_key] = stored
            return stored
        return self._mint(request, force_refresh=False)

    def force_refresh(
        self,
        *,
        organization_id: Optional[str] = None,
        person_id: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        scope: Optional[str] = None,
        client: Optional[str] = None,
        min_validity_seconds: Optional[int] = None,
        rejected_token: Optional[str] = None,
    ) -> AccessToken:
        """An API refused the token (`jwt_expired`, `invalid_jwt`): mint a new one. Once per refusal.

        With `rejected_token`, a token already replaced in memory is returned without an Invoke.
        """
        request = self._resolve(organization_id, person_id, scopes, scope, client, min_validity_seconds)
        remembered = self._memory.get(request.memory_key)
        if (
            rejected_token is not None
            and remembered is not None
            and remembered.access_token != rejected_token
            and remembered.expires_at - self._now_ms() >= request.min_validity_ms
        ):
            return AccessToken(remembered.access_token, remembered.expires_at, remembered.scopes, "memory")
        self._memory.pop(request.memory_key, None)
        # Named by its SHA-256, so the broker serves a token someone already put in its place
        # instead of minting again; a token this client never held cannot be named.
        named = rejected_token if rejected_token is not None else (remembered.access_token if remembered else None)
        return self._mint(request, force_refresh=True, rejected=named)

    def clear_memory(self) -> None:
        """Forget every remembered token (the next call reads the table again)."""
        self._memory.clear()
        self._check_at.clear()

    # -- steps ------------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _resolve(
        self,
        organization_id: Optional[str],
        person_id: Optional[str],
        scopes: Optional[Sequence[str]],
        scope: Optional[str],
        client: Optional[str],
        min_validity_seconds: Optional[int],
    ) -> _Request:
        forms = [organization_id is not None, person_id is not None, scope is not None]
        if sum(forms) != 1:
            raise _bad("give exactly one of organization_id, person_id or scope")
        if scope is not None:
            if scopes is not None:
                raise _bad("scopes goes with organization_id or person_id, not with scope")
            prefix, bearer_id, bare = _parse_scope_string(scope)
        else:
            prefix = "Org" if organization_id is not None else "Per"
            bearer_id = organization_id if organization_id is not None else person_id
            field_name = _BEARER_PREFIX[prefix]
            if not isinstance(bearer_id, str) or not _BEARER_ID.match(bearer_id):
                raise _bad(f"{field_name} must be a lowercase id of letters, digits and '-' (a UUID in practice)")
            if isinstance(scopes, str) or scopes is None:
                raise _bad("scopes must be a list like ['warehouse.items.r']")
            bare = list(scopes)
        if not bare:
            raise _bad("at least one scope is required")
        if len(bare) > _MAX_SCOPES:
            raise _bad(f"at most {_MAX_SCOPES} scopes per request")
        unique = sorted({_parse_bare_scope(entry) for entry in bare})
        app = client if client is not None else self.default_client
        if not isinstance(app, str) or not _CLIENT_NAME.match(app):
            raise _bad('client must be an app name of lowercase letters, digits, "-" and "_" (at most 63)')
        minimum = self.min_validity_seconds if min_validity_seconds is None else min_validity_seconds
        _check_min_validity(minimum)
        sk = f"{app}#{','.join(unique)}"
        if len(sk.encode("utf-8")) > _MAX_SORT_KEY_BYTES:
            raise _bad("the scope list is too long for one token; request fewer scopes")
        # The same app in the key and the request, so both always name the same token.
        payload: Dict[str, Any] = {
            _PAYLOAD_FIELD[prefix]: bearer_id,
            "scopes": unique,
            "client": app,
            "minValiditySeconds": minimum,
        }
        return _Request(pk=f"{prefix}/{bearer_id}", sk=sk, min_validity_ms=minimum * 1000, payload=payload)

    def _read_table(self, request: _Request, now: int) -> Optional[AccessToken]:
        key = request.memory_key
        try:
            output = self.dynamodb.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": request.pk}, "sk": {"S": request.sk}},
                ProjectionExpression=_PROJECTION,
                ExpressionAttributeNames=_PROJECTION_NAMES,
                # Eventually consistent costs half; a stale answer at worst sends us to the mint function.
                ConsistentRead=False,
            )
        except (ClientError, BotoCoreError) as error:
            name = _aws_error_name(error)
            if name in _CONFIGURATION_ERRORS:
                raise _bad(
                    f"the token table {self.table_name} cannot be read ({name}): check TOKENS_TABLE_NAME and the grant"
                ) from error
            raise DependencyUnavailableError(
                "store_unavailable", f"the token table could not be read ({name}); try again"
            ) from error
        item = output.get("Item")
        if not item:
            return None
        access_token = _string(item, "accessToken", key)
        expires_at = _epoch_ms(item, "expiresAt", key)
        issued_at = _epoch_ms(item, "issuedAt", key)
        status = _string(item, "status", key) or "active"
        last_requested = _epoch_ms(item, "lastRequestedAt", key)
        granted = _strings(item, "grantedScopes", key)
        # The servable rule of docs/consumers.md.
        if access_token is None or expires_at is None or issued_at is None:
            return None
        if status not in ("active", "failing"):  # revoked, or a status this module does not know
            return None
        if expires_at - now < request.min_validity_ms:
            return None
        check_at = _use_check_at(issued_at, expires_at)
        if now >= check_at and (last_requested is None or last_requested < check_at):
            self._report_use(request)
        self._remember_check(request.memory_key, issued_at, expires_at, now)
        return AccessToken(access_token, expires_at, granted, "table")

    def _remember_check(self, key: str, issued_at: Optional[int], expires_at: int, now: int) -> None:
        check_at = None if issued_at is None else _use_check_at(issued_at, expires_at)
        if check_at is not None and now < check_at:
            self._check_at[key] = check_at
        else:
            self._check_at.pop(key, None)

    def _report_use(self, request: _Request) -> None:
        """Rule 4: an asynchronous Invoke of the mint function with the request; it records the use.

        Lambda accepts an ``Event`` invocation at once, so the caller hardly waits. Any failure is
        ignored: a lost report costs at most one mint later, never this call's token.
        """
        try:
            self.lambda_client.invoke(
                FunctionName=self.mint_function_name,
                InvocationType="Event",
                Payload=json.dumps({**request.payload, "useReport": True}).encode("utf-8"),
            )
        except (ClientError, BotoCoreError):
            pass

    def _mint(self, request: _Request, force_refresh: bool, rejected: Optional[str] = None) -> AccessToken:
        payload = dict(request.payload)
        if force_refresh:
            payload["forceRefresh"] = (
                {"accessTokenSha256": hashlib.sha256(rejected.encode("utf-8")).hexdigest()}
                if rejected is not None
                else True
            )
        function = self.mint_function_name
        try:
            answer = self.lambda_client.invoke(
                FunctionName=function,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode("utf-8"),
            )
            raw = answer["Payload"].read()
        except (ClientError, BotoCoreError) as error:
            name = _aws_error_name(error)
            if name in _CONFIGURATION_ERRORS:
                raise _bad(
                    f"the mint function {function} cannot be invoked ({name}): check MINT_FUNCTION_NAME and the grant"
                ) from error
            raise DependencyUnavailableError(
                "mint_unavailable", f"the mint function {function} could not be invoked ({name}); try again"
            ) from error
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if answer.get("FunctionError"):
            fields = body if isinstance(body, dict) else {}
            raise error_from_wire(fields.get("errorType"), fields.get("errorMessage"), function)
        token, issued_at = _parse_mint_response(body)
        self._memory[request.memory_key] = token
        # The mint function reports a use of a stored token it serves past its check point itself.
        self._remember_check(request.memory_key, issued_at, token.expires_at, self._now_ms())
        return token


def _check_min_validity(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MIN_VALIDITY_SECONDS:
        raise _bad(f"min_validity_seconds must be a whole number from 0 to {MAX_MIN_VALIDITY_SECONDS}")


def _use_check_at(issued_at: int, expires_at: int) -> int:
    """Half way through the token's life: useCheckAt in functions/core/lifecycle/serve.ts."""
    return issued_at + max(0, expires_at - issued_at) // 2


def _parse_mint_response(body: Any) -> Tuple[AccessToken, Optional[int]]:
    def invalid(what: str) -> HubUnavailableError:
        # Never the payload itself: it may hold a token.
        return HubUnavailableError("hub_invalid_response", f"the mint function's answer is not a token: {what}")

    if not isinstance(body, dict):
        raise invalid("not a JSON object")
    access_token = body.get("accessToken")
    if not isinstance(access_token, str) or access_token == "":
        raise invalid("no accessToken")
    if body.get("tokenType") != "Bearer":
        raise invalid("tokenType is not Bearer")
    expires = body.get("expiresAt")
    try:
        expires_at = _parse_iso(expires) if isinstance(expires, str) else None
    except ValueError:
        expires_at = None
    if expires_at is None:
        raise invalid("expiresAt is not an ISO 8601 time")
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(entry, str) for entry in scopes):
        raise invalid("scopes is not a list of strings")
    # Brokers before use reports did not send issuedAt; without it no use is reported.
    issued = body.get("issuedAt")
    try:
        issued_at = _parse_iso(issued) if isinstance(issued, str) else None
    except ValueError:
        issued_at = None
    return AccessToken(access_token, expires_at, tuple(scopes), "mint"), issued_at
