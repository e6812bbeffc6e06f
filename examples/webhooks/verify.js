// Verify a wxlogin webhook delivery (Node 16+, no dependencies).
//
// wxlogin POSTs each event with
//   Wxlogin-Event-Id: <event id>
//   Wxlogin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// Check the signature over the RAW body bytes (before any JSON parsing), refuse a
// timestamp more than 5 minutes from now (a replayed old delivery), compare in constant
// time, then deduplicate by the event id: delivery is at least once.
//
//   const express = require('express');
//   const { verifyWebhook } = require('./verify');
//   app.post('/wxlogin-events', express.raw({ type: 'application/json' }), async (req, res) => {
//     if (!verifyWebhook(process.env.WXLOGIN_WEBHOOK_SECRET, req.get('Wxlogin-Signature'), req.body)) {
//       return res.status(400).end();
//     }
//     const event = JSON.parse(req.body);
//     // INSERT ... ON CONFLICT (event_id) DO NOTHING: a duplicate is answered 2xx too.
//     if (await alreadyHandled(event.id)) return res.status(204).end();
//     await handle(event);
//     res.status(204).end();
//   });
'use strict';

const crypto = require('node:crypto');

const TOLERANCE_SECONDS = 5 * 60;

/** True when `signatureHeader` signs `rawBody` (a Buffer or string) with `secret`. */
function verifyWebhook(secret, signatureHeader, rawBody, nowSeconds = Math.floor(Date.now() / 1000)) {
  const fields = {};
  for (const part of String(signatureHeader || '').split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  if (!/^\d{1,15}$/.test(fields.t || '') || !/^[0-9a-f]{64}$/.test(fields.v1 || '')) return false;
  if (Math.abs(nowSeconds - Number(fields.t)) > TOLERANCE_SECONDS) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${fields.t}.`).update(rawBody).digest();
  return crypto.timingSafeEqual(Buffer.from(fields.v1, 'hex'), expected);
}

module.exports = { verifyWebhook, TOLERANCE_SECONDS };

// node verify.js SECRET SIGNATURE BODY_FILE NOW: exit 0 when valid (used by the tests).
if (require.main === module) {
  const [secret, signature, bodyFile, now] = process.argv.slice(2);
  const body = require('node:fs').readFileSync(bodyFile);
  process.exit(verifyWebhook(secret, signature, body, Number(now)) ? 0 : 1);
}
