"""AWS Signature Version 4 (AWS4-HMAC-SHA256), both sides of it.

`verify_request` is what the test Lambda service runs on every Invoke
request; `sign_request` is the small client-side signer the tests use. Both
build the canonical request with the same function, so the tests also check
the verifier against independent clients (Debian's awscli, curl) and against
the published example signatures in sigv4_test.py.

Canonicalization, as AWS documents it for every service except S3:
  * canonical URI: the request path as it came over the wire, dot segments
    and empty segments removed, then each segment URI-encoded once more
    (so a function name `arn:aws:...`, sent as `arn%3Aaws%3A...`, is signed
    as `arn%253Aaws%253A...`); an empty path is `/`.
  * canonical query: every name=value pair decoded, URI-encoded (RFC 3986
    unreserved characters kept, space as %20), sorted by name then value.
  * canonical headers: the signed headers, names lowercased and sorted,
    values trimmed with inner runs of whitespace collapsed to one space,
    repeated headers joined by commas.
  * payload hash: the x-amz-content-sha256 header when present (it must then
    match the body), else the hex SHA-256 of the body.
Stdlib only.
"""

import calendar
import datetime
import email.utils
import hashlib
import hmac
import re
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def uri_encode(text, keep_slash=False):
    """AWS UriEncode: each byte but A-Z a-z 0-9 - _ . ~ as %XX (upper case)."""
    return urllib.parse.quote(text, safe="/~" if keep_slash else "~")


def remove_dot_segments(path):
    """RFC 3986 5.2.4, also dropping empty segments (consecutive slashes)."""
    if not path:
        return "/"
    out = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
        else:
            out.append(segment)
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing


def canonical_uri(wire_path):
    """The canonical URI of a path exactly as sent on the request line."""
    return uri_encode(remove_dot_segments(wire_path), keep_slash=True)


def canonical_query(wire_query):
    """The canonical query string of a raw query (the part after '?')."""
    pairs = []
    for part in wire_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(name)),
                      uri_encode(urllib.parse.unquote(value))))
    return "&".join("%s=%s" % p for p in sorted(pairs))


def trim_all(value):
    return " ".join(value.split())


def canonical_headers(headers, signed_names):
    """headers: (name, value) pairs as received. Returns (text, missing)."""
    values = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(trim_all(value))
    lines = []
    missing = []
    for name in signed_names:
        if name not in values:
            missing.append(name)
            continue
        lines.append("%s:%s\n" % (name, ",".join(values[name])))
    return "".join(lines), missing


def canonical_request(method, wire_path, wire_query, headers, signed_names,
                      payload_hash):
    text, missing = canonical_headers(headers, signed_names)
    return "\n".join([
        method.upper(),
        canonical_uri(wire_path),
        canonical_query(wire_query),
        text,
        ";".join(signed_names),
        payload_hash,
    ]), missing


def signing_key(secret, date, region, service):
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def string_to_sign(amz_date, scope, creq):
    return "\n".join([ALGORITHM, amz_date, scope,
                      sha256_hex(creq.encode())])


def signature(secret, amz_date, region, service, creq):
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = string_to_sign(amz_date, scope, creq)
    return hmac.new(signing_key(secret, amz_date[:8], region, service),
                    sts.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- client


def sign_request(method, url, headers, body, access_key, secret, region,
                 service, session_token=None, now=None,
                 content_sha256_header=False):
    """Returns `headers` plus Host, X-Amz-Date, [X-Amz-Security-Token],
    [x-amz-content-sha256] and Authorization, signing every header given.

    `url`'s path and query must already be percent-encoded as they will be
    sent. `now` is a datetime (UTC) for deterministic signatures.
    """
    parts = urllib.parse.urlsplit(url)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime(AMZ_DATE_FORMAT)
    out = dict(headers)
    lower = {k.lower() for k in out}
    if "host" not in lower:
        out["Host"] = parts.netloc
    out["X-Amz-Date"] = amz_date
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    payload_hash = sha256_hex(body or b"")
    if content_sha256_header:
        out["x-amz-content-sha256"] = payload_hash
    signed = sorted({k.lower() for k in out})
    creq, _ = canonical_request(method, parts.path or "/", parts.query,
                                list(out.items()), signed, payload_hash)
    sig = signature(secret, amz_date, region, service, creq)
    out["Authorization"] = (
        "%s Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
        "Signature=%s" % (ALGORITHM, access_key, amz_date[:8], region,
                          service, ";".join(signed), sig))
    return out


# ---------------------------------------------------------------- server


class SignatureError(Exception):
    """A request that fails authentication: AWS's error type and message."""

    def __init__(self, error_type, message, status=403):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


_AUTH_FIELD = re.compile(r"\s*([A-Za-z]+)=([^,\s]*)\s*")


def parse_authorization(value):
    if not value:
        raise SignatureError("MissingAuthenticationTokenException",
                             "Missing Authentication Token")
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm': '%s'" % algorithm, 400)
    fields = {}
    for item in rest.split(","):
        m = _AUTH_FIELD.fullmatch(item)
        if m:
            fields[m.group(1)] = m.group(2)
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise SignatureError(
                "IncompleteSignatureException",
                "Authorization header requires '%s' parameter. "
                "Authorization=%s" % (name, value), 400)
    return fields


def parse_request_time(headers):
    """datetime (UTC) of X-Amz-Date, else of an RFC 1123 Date header."""
    amz = headers.get("x-amz-date")
    try:
        if amz:
            return datetime.datetime.strptime(amz, AMZ_DATE_FORMAT).replace(
                tzinfo=datetime.timezone.utc), amz
        date = headers.get("date")
        if date:
            parsed = email.utils.parsedate_tz(date)
            if parsed:
                ts = calendar.timegm(parsed[:9]) - (parsed[9] or 0)
                when = datetime.datetime.fromtimestamp(
                    ts, datetime.timezone.utc)
                return when, when.strftime(AMZ_DATE_FORMAT)
    except ValueError:
        pass
    raise SignatureError(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' "
        "or a 'Date' header.", 400)


def verify_request(method, wire_path, wire_query, headers, body, keys,
                   region, service, session_tokens=(), max_skew_s=300,
                   now=None):
    """Checks a request's Authorization header; raises SignatureError.

    headers: (name, value) pairs as received. keys: {access key id: secret}.
    session_tokens: the X-Amz-Security-Token values accepted; a request
    without one is accepted too (a long-term key). Returns the canonical
    request (for logging).
    """
    first = {}
    for name, value in headers:
        first.setdefault(name.lower(), value)
    fields = parse_authorization(first.get("authorization"))
    when, amz_date = parse_request_time(first)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    skew = (when - now).total_seconds()
    if skew < -max_skew_s:
        raise SignatureError(
            "InvalidSignatureException",
            "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
                amz_date, (now - datetime.timedelta(seconds=max_skew_s))
                .strftime(AMZ_DATE_FORMAT), now.strftime(AMZ_DATE_FORMAT)))
    if skew > max_skew_s:
        raise SignatureError(
            "InvalidSignatureException",
            "Signature not yet current: %s is still later than %s (%s + 5 "
            "min.)" % (amz_date, (now + datetime.timedelta(
                seconds=max_skew_s)).strftime(AMZ_DATE_FORMAT),
                       now.strftime(AMZ_DATE_FORMAT)))
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise SignatureError(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term, got '%s'" % fields["Credential"],
            400)
    key_id, date, cred_region, cred_service, _ = credential
    if key_id not in keys:
        raise SignatureError("UnrecognizedClientException",
                             "The security token included in the request is "
                             "invalid.")
    token = first.get("x-amz-security-token")
    if token is not None and token not in session_tokens:
        raise SignatureError("UnrecognizedClientException",
                             "The security token included in the request is "
                             "invalid.")
    if date != amz_date[:8]:
        raise SignatureError(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            "version of date from HTTP: '%s' != '%s', from '%s'." % (
                date, amz_date[:8], amz_date))
    if cred_region != region:
        raise SignatureError(
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not '%s'. " %
            cred_region)
    if cred_service != service:
        raise SignatureError(
            "InvalidSignatureException",
            "Credential should be scoped to correct service: '%s'. " %
            service)
    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(set(signed)) or any(n != n.lower() for n in signed):
        raise SignatureError(
            "InvalidSignatureException",
            "SignedHeaders must be lowercase, sorted and without duplicates: "
            "'%s'" % fields["SignedHeaders"])
    if "host" not in signed:
        raise SignatureError(
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
            "Authorization.")
    if token is not None and "x-amz-security-token" not in signed:
        raise SignatureError(
            "InvalidSignatureException",
            "'X-Amz-Security-Token' must be a 'SignedHeader' when present.")
    payload_hash = sha256_hex(body)
    declared = first.get("x-amz-content-sha256")
    if declared is not None:
        if declared != payload_hash:
            raise SignatureError(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match "
                "what was computed.", 400)
        payload_hash = declared
    creq, missing = canonical_request(method, wire_path, wire_query, headers,
                                      signed, payload_hash)
    if missing:
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the "
            "signature you provided: signed header(s) %s not in the "
            "request." % ", ".join(missing))
    expected = signature(keys[key_id], amz_date, region, service, creq)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the "
            "signature you provided. Check your AWS Secret Access Key and "
            "signing method. Consult the service documentation for details."
            "\n\nThe Canonical String for this request should have been\n'%s'"
            "\n\nThe String-to-Sign should have been\n'%s'\n" % (
                creq, string_to_sign(amz_date, "%s/%s/%s/aws4_request" % (
                    date, region, service), creq)))
    return creq
