import t from 'tap';
import type { RequestBody } from '../../../src/core/types.js';
import { ReplayBody } from '../../../src/proxy/replay-body.js';

function source(chunks: string[]): RequestBody & { pulls: number } {
  const s = {
    length: null,
    pulls: 0,
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) {
        s.pulls++;
        yield Buffer.from(c);
      }
    },
  };
  return s;
}

async function drain(it: AsyncIterable<Buffer>, max = Infinity): Promise<string> {
  let out = '';
  let n = 0;
  for await (const c of it) {
    out += c.toString();
    if (++n >= max) break;
  }
  return out;
}

t.test('a body under the limit is replayed whole, read from the client once', async (t) => {
  const src = source(['ab', 'cd', 'ef']);
  const b = new ReplayBody(src, 100);
  t.equal(await drain(b.attempt(), 2), 'abcd', 'first attempt failed after two chunks');
  t.equal(b.replayable, true);
  t.equal(await drain(b.attempt()), 'abcdef', 'second attempt sends everything from the start');
  t.equal(src.pulls, 3, 'each client chunk was read once');
  t.equal(await drain(b.attempt()), 'abcdef', 'and again');
});

t.test('a body over the limit is not replayable once the limit was passed', async (t) => {
  const b = new ReplayBody(source(['aaaa', 'bbbb', 'cccc']), 6);
  t.equal(await drain(b.attempt()), 'aaaabbbbcccc', 'streams through');
  t.equal(b.replayable, false);
  t.throws(() => b.attempt());
});
