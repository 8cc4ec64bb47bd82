// The alert tests' webhook receiver (t/65-alerts.t).
//
//   node receiver.js PORT LOGFILE SECRET [SCRIPT] [CERT KEY]
//
// Listens on 127.0.0.1:PORT (HTTPS when CERT and KEY are given) and appends
// one JSON line per request to LOGFILE: method, url, headers, body, when it
// arrived (ms), the status answered, and whether the Standard Webhooks
// reference library (npm "standardwebhooks") verifies its signature with
// SECRET ("-" for none). SCRIPT says what to answer, request after request:
// a comma-separated list of statuses or "hang" (never answer); the last one
// repeats ("204" when none). Prints "ready" once listening.

'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { Webhook } = require('standardwebhooks');

const [port, logfile, secret, script, cert, key] = process.argv.slice(2);
const answers = (script || '204').split(',');
let n = 0;

function handle(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const answer = answers[Math.min(n++, answers.length - 1)];
    let verified = false;
    let error = null;
    if (secret !== '-') {
      try {
        new Webhook(secret).verify(body, req.headers);
        verified = true;
      } catch (e) {
        error = String(e && e.message || e);
      }
    }
    fs.appendFileSync(logfile, JSON.stringify({
      method: req.method, url: req.url, headers: req.headers, body,
      at: Date.now(), answer, verified, error,
    }) + '\n');
    if (answer === 'hang') {
      return;                    // the client's timeout ends it
    }
    res.writeHead(Number(answer), { 'Content-Type': 'text/plain' });
    res.end('ok\n');
  });
}

const server = cert
  ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, handle)
  : http.createServer(handle);

server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
