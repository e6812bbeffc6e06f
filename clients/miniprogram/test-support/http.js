'use strict';
// Plain HTTP for the tests (node's http module only): the fake wx.request and direct
// calls to the server and the simulator's device side.

const http = require('node:http');

function httpRequest({ method, url, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = http.request(
      {
        method,
        hostname: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') })
        );
        response.on('error', reject);
      }
    );
    request.setTimeout(15000, () => request.destroy(new Error('timed out after 15 s')));
    request.on('error', reject);
    if (body !== undefined) request.write(body);
    request.end();
  });
}

// POSTs JSON and parses the JSON answer; rejects on anything but 2xx.
async function postJson(url, payload, headers = {}) {
  const answer = await httpRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
  let body = null;
  try {
    body = answer.text ? JSON.parse(answer.text) : null;
  } catch {
    body = answer.text;
  }
  return { status: answer.status, body };
}

async function postJsonOk(url, payload) {
  const { status, body } = await postJson(url, payload);
  if (status < 200 || status >= 300) {
    throw new Error(`POST ${url} answered ${status}: ${JSON.stringify(body)}`);
  }
  return body;
}

module.exports = { httpRequest, postJson, postJsonOk };
