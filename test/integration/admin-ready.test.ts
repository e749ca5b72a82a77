import t from 'tap';
import { startHarness } from '../helpers/harness.js';

t.test('/ready: 200 while every farm has an UP server, 503 with a JSON reason otherwise; /health stays 200', async (t) => {
  const h = await startHarness({ servers: 2, admin: {} });
  t.teardown(() => h.close());
  const base = `http://127.0.0.1:${h.gateway.admin!.port}`;
  const ready = async () => {
    const r = await fetch(`${base}/ready`);
    return { status: r.status, json: (await r.json()) as { ready: boolean; reason?: string } };
  };
  const post = (server: string, state: string) =>
    fetch(`${base}/servers/farm/${server}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state }) });

  t.same(await ready().then((r) => [r.status, r.json.ready]), [200, true]);
  t.equal((await post('s1', 'drain')).status, 200);
  t.equal((await ready()).status, 200, 'one server left UP: still ready');
  t.equal((await post('s2', 'maint')).status, 200);
  const down = await ready();
  t.equal(down.status, 503, 'no server UP: not ready');
  t.equal(down.json.ready, false);
  t.match(down.json.reason, /farm farm: no server UP \(0 of 2\)/);
  const health = await fetch(`${base}/health`);
  t.equal(health.status, 200, '/health is liveness only');
  t.equal((await post('s1', 'ready')).status, 200);
  t.equal((await ready()).status, 200, 'ready again once a server is UP');

  const stopping = h.gateway.stop(0);
  const during = await ready().catch(() => null);
  if (during) t.equal(during.status, 503, 'stopping: not ready');
  await stopping;
});
