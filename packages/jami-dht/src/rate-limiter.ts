/** OpenDHT's request limits: a sliding one-second window, globally and per source IP. */
export const DEFAULT_GLOBAL_RATE = 8192;
export const DEFAULT_PER_IP_RATE = DEFAULT_GLOBAL_RATE / 8;

class Window {
  private readonly times: number[] = [];
  private head = 0;

  constructor(private readonly max: number) {}

  take(now: number): boolean {
    while (this.head < this.times.length && this.times[this.head]! <= now - 1000) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    if (this.times.length - this.head >= this.max) return false;
    this.times.push(now);
    return true;
  }

  get empty(): boolean {
    return this.head >= this.times.length;
  }
}

export class RateLimiter {
  private readonly global: Window;
  private readonly perIp = new Map<string, Window>();

  constructor(
    private readonly globalRate = DEFAULT_GLOBAL_RATE,
    private readonly ipRate = DEFAULT_PER_IP_RATE,
  ) {
    this.global = new Window(globalRate);
  }

  /** True if a request from `ip` may be processed now. `Infinity` rates disable the limit (dhtnode `-U`). */
  allow(ip: string, now: number): boolean {
    if (this.globalRate === Infinity) return true;
    let w = this.perIp.get(ip);
    if (!w) {
      if (this.perIp.size > 65536) for (const [k, v] of this.perIp) if (v.empty) this.perIp.delete(k);
      this.perIp.set(ip, (w = new Window(this.ipRate)));
    }
    return w.take(now) && this.global.take(now);
  }
}
