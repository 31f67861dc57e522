/**
 * Which way a GCS token request goes (drivers/gcs/index.ts tokenAgents): a service-account key's token endpoint
 * through the proxy the environment names for its URL, NO_PROXY honoured; the metadata server at a link-local
 * address or metadata.google.internal always directly (a proxy cannot reach this pod's node-local server).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenAgents } from '../../../../../src/storage/drivers/gcs/index.js';
import { ConfigError } from '../../../../../src/errors.js';

const kind = async (vars: Parameters<typeof tokenAgents>[0], url: string): Promise<string> => {
  const agent = await tokenAgents(vars)(new URL(url));
  const name = agent?.constructor.name ?? 'direct';
  agent?.destroy();
  return name;
};

test('the token endpoint through the proxy of its scheme; NO_PROXY and no variable: direct', async () => {
  const vars = { https: 'http://proxy:3128', http: 'http://proxy:3128' };
  assert.equal(await kind(vars, 'https://oauth2.googleapis.com/token'), 'HttpsProxyAgent');
  assert.equal(await kind(vars, 'http://127.0.0.1:8080/oauth2/token'), 'HttpProxyAgent');
  assert.equal(await kind({ ...vars, noProxy: '.googleapis.com' }, 'https://oauth2.googleapis.com/token'), 'direct');
  assert.equal(await kind({ http: 'http://proxy:3128' }, 'https://oauth2.googleapis.com/token'), 'direct');
  assert.equal(await kind(undefined, 'https://oauth2.googleapis.com/token'), 'direct');
});

test('the metadata server: link-local and metadata.google.internal directly, whatever the variables say; another host as NO_PROXY says', async () => {
  const vars = { http: 'http://proxy:3128' };
  for (const host of ['169.254.169.254', 'metadata.google.internal', 'METADATA.google.internal', '[fe80::a9fe:a9fe]', '169.254.1.2:8080']) {
    assert.equal(await kind(vars, `http://${host}/computeMetadata/v1/instance/service-accounts/default/token`), 'direct', host);
  }
  assert.equal(await kind(vars, 'http://127.0.0.1:9000/computeMetadata/v1/x'), 'HttpProxyAgent');
  assert.equal(await kind({ ...vars, noProxy: '127.0.0.1:9000' }, 'http://127.0.0.1:9000/computeMetadata/v1/x'), 'direct');
});

test('a SOCKS proxy for a token URL is a ConfigError without the value', async () => {
  await assert.rejects(tokenAgents({ https: 'socks5://u:tok-pass-3@p:1080' })(new URL('https://oauth2.googleapis.com/token')), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.ok(!err.message.includes('tok-pass-3'));
    return true;
  });
});
