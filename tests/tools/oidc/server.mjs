// A real OpenID provider (oidc-provider) and a resource server that verifies
// bearer tokens against the provider's JWKS the way Istio's jwt filter does.
//
//   node server.mjs CERT KEY
//
// Both listen on 127.0.0.1 over HTTPS with the given pair (issued for
// `localhost`); the trust anchor comes from NODE_EXTRA_CA_CERTS. When both are
// up, one JSON line on stdout names them:
//   {"issuer": "https://localhost:P", "resource": "https://localhost:Q", ...}
//
// Clients (client_credentials, client_secret_basic):
//   kexpose / kexpose-secret          tokens for 10 minutes
//   short-lived / short-lived-secret  tokens for 1 second
//
// The resource server answers like an Istio sidecar with a RequestAuthentication
// and an AuthorizationPolicy requiring a principal: no token -> 403
// "RBAC: access denied"; an invalid, expired or foreign token -> 401
// "Jwt verification fails"; a valid one -> 200 with its claims as JSON. Paths
// under /write also require the scope `write` (403 otherwise); paths under
// /public are not protected at all (200 for anyone).
//
// The process exits when its stdin closes, so it never outlives the tests.

import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import Provider, { errors } from 'oidc-provider';
import * as jose from 'jose';

const [certFile, keyFile] = process.argv.slice(2);
const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
const AUDIENCE = 'https://api.kexpose.test';

async function listen(handler) {
  const server = createServer(tls, (req, res) => handler.current(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://localhost:${server.address().port}`;
}

const providerHandler = { current: (req, res) => { res.statusCode = 503; res.end(); } };
const issuer = await listen(providerHandler);

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = await jose.exportJWK(privateKey);
jwk.kid = await jose.calculateJwkThumbprint(jwk);
jwk.use = 'sig';
jwk.alg = 'RS256';

const client = (id, ttl) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'read write',
  'urn:kexpose:ttl': ttl,
});

const provider = new Provider(issuer, {
  jwks: { keys: [jwk] },
  clients: [client('kexpose', 600), client('short-lived', 1)],
  extraClientMetadata: { properties: ['urn:kexpose:ttl'] },
  scopes: ['read', 'write'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => {
        if (resource !== AUDIENCE) throw new errors.InvalidTarget();
        return {
          scope: 'read write',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: client['urn:kexpose:ttl'],
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
providerHandler.current = provider.callback();

const jwksUri = `${issuer}/jwks`;
const keys = jose.createRemoteJWKSet(new URL(jwksUri));

function answer(res, status, body) {
  res.statusCode = status;
  res.setHeader('content-type', typeof body === 'string' ? 'text/plain' : 'application/json');
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const resourceHandler = {
  current: async (req, res) => {
    if (req.url.startsWith('/public')) return answer(res, 200, 'public');
    const header = req.headers.authorization;
    if (!header) return answer(res, 403, 'RBAC: access denied');
    const match = /^Bearer (.+)$/.exec(header);
    if (!match) return answer(res, 401, 'Jwt is missing');
    let claims;
    try {
      ({ payload: claims } = await jose.jwtVerify(match[1], keys, { issuer, clockTolerance: 0 }));
    } catch (e) {
      return answer(res, 401, e.code === 'ERR_JWT_EXPIRED' ? 'Jwt is expired' : 'Jwt verification fails');
    }
    const scopes = (claims.scope ?? '').split(' ');
    if (req.url.startsWith('/write') && !scopes.includes('write')) {
      return answer(res, 403, 'RBAC: access denied');
    }
    return answer(res, 200, claims);
  },
};
const resource = await listen(resourceHandler);

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ issuer, resource, jwksUri, kid: jwk.kid, audience: AUDIENCE })}\n`);
