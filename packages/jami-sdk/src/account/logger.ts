import createDebug from "debug";

/** A debug logger (`jami:sdk:<name>`, silent unless DEBUG says otherwise). */
export type Logger = (format: string, ...args: unknown[]) => void;

/** Loggers whose lines start with the device short id: several accounts in one process stay apart. */
export type ComponentLogger = (name: string) => Logger;

export function componentLogger(deviceShortId: string): ComponentLogger {
  const prefix = deviceShortId.slice(0, 8);
  return (name) => {
    const debug = createDebug(`jami:sdk:${name}`);
    return (format, ...args) => debug(`[${prefix}] ${format}`, ...args);
  };
}
