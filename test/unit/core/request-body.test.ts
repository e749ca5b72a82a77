import t from 'tap';
import { RequestBody } from '../../../src/core/request-body.js';

function body(length: number | null = null, replayLimit = 100, highWater = 1000): RequestBody & { pauses: number; resumes: number } {
  const ctl = { pauses: 0, resumes: 0 };
  const b = new RequestBody(length, { pause: () => ctl.pauses++, resume: () => ctl.resumes++ }) as RequestBody & { pauses: number; resumes: number };
  b.configure({ replayLimit, highWater });
  Object.defineProperty(b, 'pauses', { get: () => ctl.pauses });
  Object.defineProperty(b, 'resumes', { get: () => ctl.resumes });
  return b;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function drain(it: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const c of it) out += c.toString();
  return out;
}

t.test('a body under the replay limit is replayed whole by a new reader', async (t) => {
  const b = body();
  b.push(Buffer.from('ab'));
  b.push(Buffer.from('cd'));
  const r1 = b.reader();
  t.equal((await r1.next()).value.toString(), 'ab');
  const r2 = b.reader();
  b.push(Buffer.from('ef'));
  b.end();
  t.equal(await drain(r2), 'abcdef', 'the new reader starts at byte 0');
  t.equal(await drain(b.reader()), 'abcdef', 'and again');
});

t.test('issue 11 item 1: a pending next() of the old reader never takes a chunk after a hand-over', async (t) => {
  const b = body();
  b.push(Buffer.from('A'));
  const r1 = b.reader();
  t.equal((await r1.next()).value.toString(), 'A');
  const pending = r1.next(); // the failed attempt still waits for the client's next chunk
  const r2 = b.reader();
  await t.rejects(pending, { code: 'LH_BODY_READER_CLOSED' }, 'the old reader is closed at once');
  b.push(Buffer.from('B'));
  b.push(Buffer.from('C'));
  b.end();
  t.equal(await drain(r2), 'ABC', 'no chunk skipped, none doubled');
  await t.rejects(r1.next(), { code: 'LH_BODY_READER_CLOSED' }, 'the old reader can never consume again');
});

t.test('past the replay limit consumed chunks are dropped and the body is no longer replayable', async (t) => {
  const b = body(null, 6);
  b.push(Buffer.from('aaaa'));
  b.push(Buffer.from('bbbb'));
  const r = b.reader();
  t.equal(b.replayable, true, 'nothing consumed yet: still replayable');
  await r.next();
  t.equal(b.replayable, false);
  t.equal(b.held, 4, 'only the unread chunk is held');
  t.throws(() => b.reader(), { code: 'LH_BODY_TOO_LARGE_TO_REPLAY' });
  b.end();
  t.equal(await drain(r), 'bbbb');
});

t.test('a declared length above the replay limit retains nothing', async (t) => {
  const b = body(8, 4);
  b.push(Buffer.from('abcd'));
  const r = b.reader();
  await r.next();
  t.equal(b.held, 0);
  t.equal(b.replayable, false);
});

t.test('back-pressure: paused above high water, resumed when the reader drained, held bytes bounded', async (t) => {
  const b = body(null, 0, 10);
  for (let i = 0; i < 4; i++) b.push(Buffer.alloc(4));
  t.equal(b.pauses, 1, 'paused once above 10 unread bytes');
  const r = b.reader();
  await r.next();
  await r.next();
  t.equal(b.resumes, 0, '8 unread bytes: still paused');
  await r.next();
  t.equal(b.resumes, 1, 'resumed at half of high water');
  t.equal(b.highWaterMark, 16);
});

t.test('whenBuffered waits for the bytes or the end, and rejects when the client fails', async (t) => {
  const b = body();
  let done = false;
  const p = b.whenBuffered(5).then(() => (done = true));
  b.push(Buffer.from('abc'));
  await tick();
  t.equal(done, false);
  b.push(Buffer.from('def'));
  await p;
  t.equal(done, true);
  const c = body();
  const q = c.whenBuffered(5);
  c.fail(Object.assign(new Error('gone'), { code: 'LH_CLIENT_ABORTED' }));
  await t.rejects(q, { code: 'LH_CLIENT_ABORTED' });
});

t.test('discard: the reader ends, nothing is held, the client is resumed', async (t) => {
  const b = body(null, 0, 2);
  b.push(Buffer.alloc(4));
  const r = b.reader();
  b.discard();
  t.equal(b.resumes, 1);
  t.same(await r.next(), { value: undefined, done: true });
  b.push(Buffer.alloc(4));
  t.equal(b.held, 0);
});

t.test('a client below the minimum upload rate fails the body with LH_CLIENT_SLOW_UPLOAD; paused time never counts', async (t) => {
  // The rate timer is unref'd (a socket keeps a real process alive): keep this one alive.
  const keep = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keep));
  const b = new RequestBody(null, { pause: () => {}, resume: () => {} }, { windowMs: 30, minRate: 1000 });
  b.configure({ replayLimit: 0, highWater: 4 });
  const r = b.reader();
  const p = r.next();
  b.push(Buffer.alloc(1)); // 1 byte in 30 ms < 30 bytes needed
  await p;
  await t.rejects(r.next(), { code: 'LH_CLIENT_SLOW_UPLOAD' });
  const paused = new RequestBody(null, { pause: () => {}, resume: () => {} }, { windowMs: 10, minRate: 1000 });
  paused.configure({ replayLimit: 0, highWater: 4 });
  paused.push(Buffer.alloc(8)); // above high water: paused by us, the rate clock stops
  await new Promise((r) => setTimeout(r, 40));
  t.equal(paused.failed, null, 'a client paused by the gateway is never slow');
  paused.fail(new Error('done'));
});
