// What the bench reads about a proxy process from /proc: CPU time (utime + stime) and peak RSS
// (VmHWM), summed over the process and its children (nginx: master + worker).
import { readFileSync, writeFileSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ on every mainstream kernel config

function children(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const tid of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) {
      if (tid !== '') out.push(Number(tid), ...children(Number(tid)));
    }
    return out;
  } catch {
    return [];
  }
}

export function processTree(pid: number): number[] {
  return [pid, ...children(pid)];
}

/** CPU seconds (user + system) used so far by pid and its children; NaN if unreadable. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // Fields after "(comm)": state is field 3; utime is 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      if (p === pid) return NaN;
    }
  }
  return ticks / CLK_TCK;
}

function statusKiB(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Peak RSS in MiB since start or since the last resetPeakRss, summed over the tree; NaN if unreadable. */
export function peakRssMiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      kib += statusKiB(p, 'VmHWM');
    } catch {
      if (p === pid) return NaN;
    }
  }
  return kib / 1024;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, `echo 5 > clear_refs`); false if not permitted. */
export function resetPeakRss(pid: number): boolean {
  let ok = true;
  for (const p of processTree(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      ok = false;
    }
  }
  return ok;
}
