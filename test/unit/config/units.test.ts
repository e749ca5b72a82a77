import t from 'tap';
import { MAX_DURATION_MS, parseDuration, parseSize } from '../../../src/config/units.js';

t.test('durations', async (t) => {
  const good: Array<[string | number, number]> = [
    [0, 0],
    [250, 250],
    ['250', 250],
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1s500ms', 1_500],
    ['1m 30s', 90_000],
    [' 10 s ', 10_000],
    ['290s', 290_000],
    [MAX_DURATION_MS, MAX_DURATION_MS],
  ];
  for (const [input, ms] of good) t.same(parseDuration(input), { ok: true, value: ms }, JSON.stringify(input));

  const bad: Array<[string | number, RegExp]> = [
    ['10sec', /unknown duration unit "sec"/],
    ['10S', /unknown duration unit "S"/],
    ['1d', /unknown duration unit "d".*ms, s, m or h/],
    ['30s1m', /largest to smallest/],
    ['1s1s', /largest to smallest/],
    ['1m30', /missing unit after "30"/],
    ['-5s', /invalid duration/],
    ['', /invalid duration/],
    ['s', /invalid duration/],
    ['abc', /invalid duration|unknown/],
    ['0.5ms', /whole number of milliseconds/],
    ['1.5', /invalid duration/],
    [-1, /negative/],
    [1.5, /whole number/],
    [NaN, /negative/],
    ['25d', /unknown/],
    ['600h', /too large/],
    [MAX_DURATION_MS + 1, /too large/],
  ];
  for (const [input, message] of bad) {
    const r = parseDuration(input);
    t.equal(r.ok, false, `${JSON.stringify(input)} is refused`);
    if (!r.ok) t.match(r.message, message, JSON.stringify(input));
  }
});

t.test('sizes', async (t) => {
  const good: Array<[string | number, number]> = [
    [0, 0],
    [4096, 4096],
    ['4096', 4096],
    ['512B', 512],
    ['64KiB', 65_536],
    ['64 KiB', 65_536],
    ['1.5KiB', 1_536],
    ['0.5MiB', 524_288],
    ['2MiB', 2 * 1024 * 1024],
    ['1GiB', 1024 ** 3],
  ];
  for (const [input, bytes] of good) t.same(parseSize(input), { ok: true, value: bytes }, JSON.stringify(input));

  const bad: Array<[string | number, RegExp]> = [
    ['64KB', /unknown size unit "KB".*1024-based, write KiB/],
    ['64kB', /unknown size unit "kB".*write KiB/],
    ['1MB', /unknown size unit "MB".*write MiB/],
    ['1GB', /write GiB/],
    ['64K', /write KiB/],
    ['64kib', /unknown size unit "kib"/],
    ['1TiB', /unknown size unit "TiB"/],
    ['1KiB512B', /invalid size/],
    ['0.1B', /whole number of bytes/],
    ['-1KiB', /invalid size/],
    ['KiB', /invalid size/],
    [-1, /negative/],
    [1.5, /whole number/],
  ];
  for (const [input, message] of bad) {
    const r = parseSize(input);
    t.equal(r.ok, false, `${JSON.stringify(input)} is refused`);
    if (!r.ok) t.match(r.message, message, JSON.stringify(input));
  }
});
