import { readdirSync, readFileSync } from "node:fs";

/** A process's resident memory from /proc, in MB. */
export const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;

/** CPU ticks (user + system, 1/100 s on Linux) of each thread of `pid`. */
export function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // fields after the command's closing parenthesis: state is the 3rd field, utime the 14th, stime the 15th
      const rest = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ticks.set(tid, Number(rest[11]) + Number(rest[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks;
}

export interface ProcessCpu {
  /** The whole process, in cores over the work's time. */
  process: number;
  /** Its busiest thread, in cores. */
  busiestThread: number;
  /** The whole process's CPU time, ms (10 ms steps). */
  ms: number;
}

/** Samples the threads of each of `pids` around `work`: their CPU over the work's time. */
export async function cpuDuring<T>(pids: number[], work: () => Promise<T>): Promise<{ result: T; cpu: ProcessCpu[] }> {
  const before = pids.map(threadTicks);
  const start = Date.now();
  const result = await work();
  const seconds = (Date.now() - start) / 1000;
  const cores = (ticks: number): number => +(ticks / 100 / seconds).toFixed(2);
  const cpu = pids.map((pid, i) => {
    const deltas = [...threadTicks(pid)].map(([tid, t]) => t - (before[i]!.get(tid) ?? 0));
    const total = deltas.reduce((x, y) => x + y, 0);
    return { process: cores(total), busiestThread: cores(Math.max(0, ...deltas)), ms: total * 10 };
  });
  return { result, cpu };
}
