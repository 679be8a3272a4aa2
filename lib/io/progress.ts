/**
 * Progress reporting for long work: a one-line bar on a terminal, periodic plain lines otherwise
 * (logs, CI, Jupyter), so output never floods.
 *
 * @module
 */

/** One update of a {@linkcode Progress}. */
export interface ProgressUpdate {
  /** Units done so far (for example steps). */
  done: number;
  /** Extra fields shown after the bar, such as `loss`; non-finite numbers are not shown. */
  fields?: Record<string, string | number>;
}

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Label before the bar. */
  label?: string;
  /** Force the terminal bar on or off (default: whether stderr is a terminal). */
  terminal?: boolean;
  /** In plain mode, seconds between lines. Default 10. */
  intervalSeconds?: number;
  /** Where lines go. Default: stderr. */
  write?: (text: string) => void;
}

/** A progress reporter: call `update` often, `finish` once. */
export interface Progress {
  /** Records progress; prints when due. */
  update(update: ProgressUpdate): void;
  /** Prints the final state and ends the line. */
  finish(update?: ProgressUpdate): void;
}

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Formats seconds as `1h02m`, `3m05s` or `42s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * formatDuration(185); // "3m05s"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * A progress reporter for `total` units of work, with rate and ETA.
 *
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const p = createProgress(100, { label: "train", terminal: false, write: console.log });
 * p.update({ done: 50, fields: { loss: 0.3 } });
 * p.finish();
 * ```
 */
export function createProgress(total: number, options: ProgressOptions = {}): Progress {
  const terminal = options.terminal ?? isTerminal();
  const encoder = new TextEncoder();
  const write = options.write ??
    ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const interval = (options.intervalSeconds ?? 10) * 1000;
  const label = options.label ?? "";
  const start = performance.now();
  let lastPrint = -Infinity;
  let last: ProgressUpdate = { done: 0 };

  const render = (u: ProgressUpdate): string => {
    const elapsed = (performance.now() - start) / 1000;
    const frac = total > 0 ? Math.min(1, u.done / total) : 1;
    const rate = elapsed > 0 ? u.done / elapsed : 0;
    const eta = u.done >= total ? 0 : rate > 0 ? (total - u.done) / rate : NaN;
    // A field without a value yet (NaN, e.g. the loss before the first step) is left out.
    const fields = Object.entries(u.fields ?? {}).filter(([, v]) =>
      typeof v !== "number" || Number.isFinite(v)
    ).map(([k, v]) =>
      `${k} ${typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4)) : v}`
    ).join("  ");
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = terminal ? `[${"#".repeat(filled)}${".".repeat(width - filled)}] ` : "";
    return `${label ? label + " " : ""}${bar}${u.done}/${total} ${
      (frac * 100).toFixed(0)
    }%  ${fields}  ` +
      `elapsed ${formatDuration(elapsed)}  eta ${formatDuration(eta)}`;
  };

  return {
    update(u) {
      last = u;
      const now = performance.now();
      if (terminal) {
        if (now - lastPrint < 100) return;
        lastPrint = now;
        write(`\r\x1b[2K${render(u)}`);
      } else if (now - lastPrint >= interval) {
        lastPrint = now;
        write(render(u) + "\n");
      }
    },
    finish(u) {
      if (u) last = u;
      write(terminal ? `\r\x1b[2K${render(last)}\n` : render(last) + "\n");
    },
  };
}
