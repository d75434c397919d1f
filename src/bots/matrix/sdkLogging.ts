import { createRequire } from "node:module";
import { format } from "node:util";
import type { Logger as SdkLogger } from "matrix-js-sdk/lib/logger.js";
import { getLogger } from "../../core/logger.ts";

/**
 * matrix-js-sdk logs through two paths: the per-client `logger` option, and module-level
 * `loglevel` loggers that write straight to `console`. Hearth's stdout belongs to the console chat
 * and every log line must pass the secret redactor, so both paths are routed into our pino logger,
 * one level quieter (the SDK reports routine events at info/warn).
 */

const log = getLogger("matrix");

function line(args: unknown[]): string {
  return format(...args).slice(0, 2000);
}

/** A matrix-js-sdk `Logger` that writes to Hearth's log. */
export function sdkLogger(ns = "sdk"): SdkLogger {
  const child = log.child({ sdk: ns });
  return {
    trace: (...m: unknown[]) => child.trace(line(m)),
    debug: (...m: unknown[]) => child.trace(line(m)),
    info: (...m: unknown[]) => child.debug(line(m)),
    warn: (...m: unknown[]) => child.debug(line(m)),
    error: (...m: unknown[]) => child.warn(line(m)),
    getChild: (n: string) => sdkLogger(`${ns}.${n}`),
  };
}

interface LogLevelLogger {
  methodFactory: (method: string, level: number, name: string | symbol) => (...args: unknown[]) => void;
  rebuild(): void;
  setLevel(level: string, persist?: boolean): void;
}
interface LogLevelRoot extends LogLevelLogger {
  getLoggers(): Record<string, LogLevelLogger>;
}

let routed = false;

/** Send the SDK's module-level console logging to our logger (idempotent). */
export function routeSdkConsoleLogging(): void {
  if (routed) return;
  routed = true;
  // Resolve loglevel from matrix-js-sdk's own location so we patch the very instance it uses.
  const req = createRequire(createRequire(import.meta.url).resolve("matrix-js-sdk"));
  const root = req("loglevel") as LogLevelRoot;
  const target = sdkLogger("global");
  const factory: LogLevelLogger["methodFactory"] = (method) => {
    const fn = (target as unknown as Record<string, (...a: unknown[]) => void>)[method] ?? target.debug;
    return function (this: { prefix?: string }, ...args: unknown[]) {
      fn(...(this?.prefix ? [this.prefix, ...args] : args));
    };
  };
  for (const l of [root, ...Object.values(root.getLoggers())]) {
    l.methodFactory = factory;
    l.rebuild();
  }
}
