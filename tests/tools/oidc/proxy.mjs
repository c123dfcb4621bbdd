// A real HTTP forward proxy (npm `proxy`, "think Squid") on loopback, for the
// corporate-network tests of lock, token and probe.
//
//   node proxy.mjs [USER:PASSWORD]
//
// With USER:PASSWORD, requests without that Basic Proxy-Authorization get
// 407. Prints one JSON line when listening: {"port": P}. Then one JSON line
// per request it handles: {"method": "CONNECT", "url": "localhost:443",
// "authorized": true}. Exits when its stdin closes.

import { createServer } from 'node:http';
import { createProxy } from 'proxy';

const [credentials] = process.argv.slice(2);
const server = createProxy(createServer());

server.authenticate = (req) => {
  const header = req.headers['proxy-authorization'] ?? '';
  const given = header.startsWith('Basic ')
    ? Buffer.from(header.slice(6), 'base64').toString('utf8')
    : null;
  const authorized = !credentials || given === credentials;
  console.log(JSON.stringify({ method: req.method, url: req.url, authorized }));
  return authorized;
};

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
