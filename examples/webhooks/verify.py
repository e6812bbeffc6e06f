"""Verify a wxlogin webhook delivery (Python 3.7+, standard library only).

wxlogin POSTs each event with
  Wxlogin-Event-Id: <event id>
  Wxlogin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
Check the signature over the RAW body bytes (before any JSON parsing), refuse a timestamp
more than 5 minutes from now (a replayed old delivery), compare in constant time, then
deduplicate by the event id: delivery is at least once.

  # Flask
  @app.post("/wxlogin-events")
  def wxlogin_events():
      body = request.get_data()  # the raw bytes
      if not verify_webhook(os.environ["WXLOGIN_WEBHOOK_SECRET"],
                            request.headers.get("Wxlogin-Signature", ""), body):
          return "", 400
      event = json.loads(body)
      # INSERT ... ON CONFLICT (event_id) DO NOTHING: a duplicate is answered 2xx too.
      if not already_handled(event["id"]):
          handle(event)
      return "", 204
"""
import hashlib
import hmac
import re
import sys
import time

TOLERANCE_SECONDS = 5 * 60


def verify_webhook(secret, signature_header, raw_body, now=None):
    """True when signature_header signs raw_body (bytes) with secret (str)."""
    fields = {}
    for part in (signature_header or "").split(","):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    timestamp, given = fields.get("t", ""), fields.get("v1", "")
    if not re.fullmatch(r"\d{1,15}", timestamp) or not re.fullmatch(r"[0-9a-f]{64}", given):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), given)


# python3 verify.py SECRET SIGNATURE BODY_FILE NOW: exit 0 when valid (used by the tests).
if __name__ == "__main__":
    secret, signature, body_file, now = sys.argv[1:5]
    with open(body_file, "rb") as body:
        sys.exit(0 if verify_webhook(secret, signature, body.read(), int(now)) else 1)
