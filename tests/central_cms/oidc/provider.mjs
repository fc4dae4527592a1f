// A real OpenID provider for the CMS single sign-on tests: oidc-provider (OpenID certified)
// with one confidential client and static accounts carrying a `groups` claim, as Entra ID
// sends them. Usage: node provider.mjs SETTINGS_JSON
//   {"port": 0, "client_id": "...", "client_secret": "...", "redirect_uri": "...",
//    "post_logout_redirect_uri": "...", "accounts_file": "accounts.json"}
// accounts.json: {"login": {"password": "...", "name": "...", "groups": ["..."]}}, read at
// each sign-in, so a test can take someone out of a group as IT would at the provider.
// Prints "listening <issuer>" on stdout once it accepts connections.
import http from 'node:http';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
function accounts() {
  return JSON.parse(readFileSync(settings.accounts_file, 'utf8'));
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>`
    + '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
    + `<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginForm(uid, error) {
  const problem = error ? `<p role="alert">${escape(error)}</p>` : '';
  return page('City identity sign-in', `${problem}
    <form method="post" action="/interaction/${uid}">
      <label for="login">Account</label> <input id="login" name="login" autocomplete="username">
      <label for="password">Passphrase</label>
      <input id="password" name="password" type="password" autocomplete="current-password">
      <button type="submit">Continue</button>
    </form>`);
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function listen(server, port) {
  return new Promise((resolve) => { server.listen(port, '127.0.0.1', () => resolve()); });
}

const server = http.createServer();
await listen(server, settings.port);
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: settings.client_id,
    client_secret: settings.client_secret,
    redirect_uris: [settings.redirect_uri],
    post_logout_redirect_uris: [settings.post_logout_redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  // Every client must send a PKCE challenge, not only public ones: the CMS does.
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  scopes: ['openid', 'profile', 'groups'],
  // Claims in the ID token itself (Entra ID's "groups" claim arrives there too).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['test-provider-cookie-key'] },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: account.name, preferred_username: id, groups: account.groups };
      },
    };
  },
  // The CMS is a first-party client: its consent is given by the city, not by each person.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile groups');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const providerHandler = provider.callback();
server.on('request', async (req, res) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(req.url.split('?')[0]);
  if (!match) {
    providerHandler(req, res);
    return;
  }
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(loginForm(details.uid));
      return;
    }
    const form = await formBody(req);
    const account = accounts()[form.get('login')];
    if (!account || account.password !== form.get('password')) {
      res.statusCode = 401;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(loginForm(details.uid, 'Unknown account or wrong passphrase.'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, {
      mergeWithLastSubmission: false,
    });
  } catch (error) {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`interaction failed: ${error.message}`);
  }
});

process.stdout.write(`listening ${issuer}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.close(); process.exit(0); });
}
