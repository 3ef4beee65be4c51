/** A Keystone token for an account, through the application_credential method (its AccessKey pair). */
export async function keystoneToken(endpoint: string, pair: { accessKeyId: string; accessKeySecret: string }): Promise<string> {
  const res = await fetch(`${endpoint}/identity/v3/auth/tokens`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['application_credential'], application_credential: { id: pair.accessKeyId, secret: pair.accessKeySecret } } } }),
  });
  if (res.status !== 201) throw new Error(`Keystone token: HTTP ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token')!;
}
