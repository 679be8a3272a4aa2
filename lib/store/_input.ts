/**
 * Input checks shared by the store back ends: ids, vectors, labels, metadata, filters and
 * settings. Everything a write needs is checked here before anything is written.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptionKeys } from "../validate.ts";
import {
  DimensionMismatchError,
  DuplicateIdError,
  NonFiniteEmbeddingError,
  UnknownFieldError,
  UnknownMetricError,
} from "./errors.ts";
import {
  type Condition,
  type FieldType,
  type Filter,
  type HnswSettings,
  type IndexKind,
  type IvfflatSettings,
  type Metadata,
  type MetadataValue,
  STORE_METRICS,
  type StoreMetric,
  type StoreOptions,
  type Vectors,
} from "./types.ts";

/** The option names of {@linkcode StoreOptions}. */
export const STORE_OPTION_KEYS = [
  "dim",
  "metric",
  "index",
  "hnsw",
  "ivfflat",
  "batchSize",
  "progress",
] as const;

/** Settings every back end resolves from {@linkcode StoreOptions}. */
export interface Settings {
  metric: StoreMetric;
  index: IndexKind;
  hnsw: Required<HnswSettings>;
  ivfflat: Required<IvfflatSettings>;
  batchSize: number;
  progress: boolean;
}

/** Throws unless `value` is an integer in [min, max]. */
export function checkInteger(
  fn: string,
  name: string,
  value: unknown,
  min: number,
  max = 2 ** 31 - 1,
) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${fn}: ${name} must be an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
}

/** The metric, checked. */
export function checkMetric(fn: string, metric: unknown): StoreMetric {
  if (!STORE_METRICS.includes(metric as StoreMetric)) {
    throw new UnknownMetricError(
      `${fn}: unknown metric ${JSON.stringify(metric)}; metrics: ${STORE_METRICS.join(", ")}`,
      String(metric),
    );
  }
  return metric as StoreMetric;
}

/** Resolves and checks the settings of {@linkcode StoreOptions} (`kinds`: the indexes allowed). */
export function resolveSettings(
  fn: string,
  options: StoreOptions,
  kinds: readonly IndexKind[],
  extraKeys: readonly string[] = [],
): Settings {
  checkOptionKeys(fn, options, [...STORE_OPTION_KEYS, ...extraKeys]);
  checkOptionKeys(fn, options.hnsw, ["M", "efConstruction", "efSearch"], "hnsw.");
  checkOptionKeys(fn, options.ivfflat, ["lists", "probes"], "ivfflat.");
  const metric = checkMetric(fn, options.metric ?? "euclidean");
  const index = options.index ?? "exact";
  if (!kinds.includes(index)) {
    throw new UnknownMetricError(
      `${fn}: index must be one of ${kinds.join(", ")} for this back end, got ${
        JSON.stringify(index)
      }`,
      String(index),
    );
  }
  const hnsw = { M: 16, efConstruction: 64, efSearch: 40, ...options.hnsw };
  checkInteger(fn, "hnsw.M", hnsw.M, 2, 100);
  checkInteger(fn, "hnsw.efConstruction", hnsw.efConstruction, 4, 1000);
  checkInteger(fn, "hnsw.efSearch", hnsw.efSearch, 1, 1000);
  const ivfflat = { lists: 0, probes: 0, ...options.ivfflat };
  if (options.ivfflat?.lists !== undefined) {
    checkInteger(fn, "ivfflat.lists", ivfflat.lists, 1, 32768);
  }
  if (options.ivfflat?.probes !== undefined) {
    checkInteger(fn, "ivfflat.probes", ivfflat.probes, 1, 32768);
  }
  const batchSize = options.batchSize ?? 1000;
  checkInteger(fn, "batchSize", batchSize, 1, 1_000_000);
  if (options.progress !== undefined && typeof options.progress !== "boolean") {
    throw new TypeError(`${fn}: progress must be a boolean, got ${String(options.progress)}`);
  }
  if (options.dim !== undefined) checkInteger(fn, "dim", options.dim, 1, 16000);
  return { metric, index, hnsw, ivfflat, batchSize, progress: options.progress ?? true };
}

/** pgvector's advice for the number of IVFFlat lists of `rows` rows. */
export function defaultLists(rows: number): number {
  return Math.max(1, rows <= 1_000_000 ? Math.round(rows / 1000) : Math.round(Math.sqrt(rows)));
}

function checkText(fn: string, name: string, s: string): void {
  if (s.includes("\u0000")) throw new TypeError(`${fn}: ${name} holds a NUL character`);
  if (!s.isWellFormed()) throw new TypeError(`${fn}: ${name} holds a lone UTF-16 surrogate`);
}

/** Ids: non-empty well-formed strings without NUL, unique within the call. */
export function checkIds(fn: string, ids: readonly string[], unique = true): string[] {
  if (!Array.isArray(ids)) {
    throw new TypeError(`${fn}: ids must be an array of strings, got ${typeof ids}`);
  }
  const seen = new Set<string>();
  const dup: string[] = [];
  ids.forEach((id, i) => {
    if (typeof id !== "string" || id.length === 0) {
      throw new TypeError(`${fn}: ids[${i}] must be a non-empty string, got ${JSON.stringify(id)}`);
    }
    checkText(fn, `ids[${i}]`, id);
    if (seen.has(id)) dup.push(id);
    seen.add(id);
  });
  if (unique && dup.length > 0) {
    throw new DuplicateIdError(
      `${fn}: ids appear more than once in one call: ${
        dup.slice(0, 20).map((d) => JSON.stringify(d)).join(", ")
      }; nothing was stored`,
      dup.slice(0, 20),
    );
  }
  return [...ids];
}

/**
 * Vectors as row-major float32 `[n * dim]`, checked for shape and finiteness (after the float32
 * conversion, so values beyond float32's range are caught too).
 */
export async function toRows(
  fn: string,
  name: string,
  vectors: Vectors,
  dim: number,
): Promise<{ data: Float32Array; n: number }> {
  let data: Float32Array;
  let source: ArrayLike<number> | null = null;
  const mismatch = (got: number, detail: string) =>
    new DimensionMismatchError(
      `${fn}: ${name} ${detail}, but the store's dimension is ${dim}`,
      dim,
      got,
    );
  if (vectors instanceof tf.Tensor) {
    if (vectors.rank !== 2) {
      throw new TypeError(
        `${fn}: ${name} must be a rank-2 tensor [n, ${dim}], got [${vectors.shape}]`,
      );
    }
    if (vectors.shape[1] !== dim) {
      throw mismatch(vectors.shape[1], `has shape [${vectors.shape}]`);
    }
    data = Float32Array.from(await vectors.data() as Float32Array);
  } else if (vectors instanceof Float32Array || vectors instanceof Float64Array) {
    if (vectors.length % dim !== 0) {
      throw mismatch(vectors.length, `holds ${vectors.length} values, not a multiple of ${dim}`);
    }
    data = Float32Array.from(vectors);
    source = vectors;
  } else if (Array.isArray(vectors)) {
    data = new Float32Array(vectors.length * dim);
    vectors.forEach((row, i) => {
      if (!Array.isArray(row) && !(row instanceof Float32Array)) {
        throw new TypeError(`${fn}: ${name}[${i}] must be an array of numbers`);
      }
      if (row.length !== dim) throw mismatch(row.length, `row ${i} has ${row.length} values`);
      for (let j = 0; j < dim; j++) {
        const v = row[j];
        if (typeof v !== "number") {
          throw new TypeError(`${fn}: ${name}[${i}][${j}] is not a number (${String(v)})`);
        }
        data[i * dim + j] = v;
        if (!Number.isFinite(data[i * dim + j])) {
          throw new NonFiniteEmbeddingError(
            `${fn}: ${name} row ${i} holds ${describe(v)} (column ${j}); vectors must be finite` +
              `${Number.isFinite(v) ? " float32 values" : ""}; nothing was stored`,
            i,
            j,
          );
        }
      }
    });
    return { data, n: vectors.length };
  } else {
    throw new TypeError(
      `${fn}: ${name} must be a [n, ${dim}] tensor, a Float32Array or an array of rows`,
    );
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const original = source ? source[i] : data[i];
      const row = Math.floor(i / dim), column = i % dim;
      throw new NonFiniteEmbeddingError(
        `${fn}: ${name} row ${row} holds ${describe(original)} (column ${column}); vectors ` +
          `must be finite${Number.isFinite(original) ? " float32 values" : ""}; nothing was stored`,
        row,
        column,
      );
    }
  }
  return { data, n: data.length / dim };
}

function describe(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return `${v} (beyond float32's range)`;
}

/** Throws when a row has zero norm (cosine distance is undefined there). */
export function checkNonZero(fn: string, name: string, data: Float32Array, dim: number): void {
  for (let o = 0, row = 0; o < data.length; o += dim, row++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += data[o + t] * data[o + t];
    if (s === 0) {
      throw new RangeError(
        `${fn}: ${name} row ${row} is the zero vector, whose cosine distance is undefined; ` +
          `nothing was stored`,
      );
    }
  }
}

/** Labels `[n]`: integers in PostgreSQL's integer range, or null for none. */
export function checkLabels(
  fn: string,
  labels: ArrayLike<number> | undefined,
  n: number,
): (number | null)[] {
  if (labels === undefined) return new Array(n).fill(null);
  if (typeof labels !== "object" || labels === null || typeof labels.length !== "number") {
    throw new TypeError(`${fn}: labels must be an array of integers`);
  }
  if (labels.length !== n) {
    throw new RangeError(`${fn}: ${labels.length} labels for ${n} rows`);
  }
  const out: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (typeof v !== "number" || !Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) {
      throw new TypeError(
        `${fn}: labels[${i}] is ${String(v)}, not an integer in [−2³¹+1, 2³¹−1]`,
      );
    }
    out.push(v === 0 ? 0 : v); // −0 → 0
  }
  return out;
}

/** The reserved field names (not usable as metadata keys). */
export const RESERVED_FIELDS: readonly string[] = ["id", "label"];

function typeOfValue(v: unknown): FieldType | null {
  if (typeof v === "string") return "string";
  if (typeof v === "number") return Number.isFinite(v) ? "number" : null;
  if (typeof v === "boolean") return "boolean";
  return null;
}

/**
 * Metadata `[n]`, checked against the known field types (a field keeps the type of the first
 * value stored in it); returns the rows and the fields new to the store.
 */
export function checkMetadata(
  fn: string,
  metadata: readonly (Metadata | undefined | null)[] | undefined,
  n: number,
  known: Readonly<Record<string, FieldType>>,
): { rows: Metadata[]; newFields: Record<string, FieldType> } {
  if (metadata === undefined) return { rows: Array.from({ length: n }, () => ({})), newFields: {} };
  if (!Array.isArray(metadata)) throw new TypeError(`${fn}: metadata must be an array of objects`);
  if (metadata.length !== n) {
    throw new RangeError(`${fn}: ${metadata.length} metadata entries for ${n} rows`);
  }
  const newFields: Record<string, FieldType> = {};
  const rows = metadata.map((m, i) => {
    if (m === undefined || m === null) return {};
    const proto = typeof m === "object" ? Object.getPrototypeOf(m) : undefined;
    if (
      typeof m !== "object" || Array.isArray(m) || (proto !== Object.prototype && proto !== null)
    ) {
      throw new TypeError(`${fn}: metadata[${i}] must be a plain object`);
    }
    const row: Metadata = {};
    for (const [key, value] of Object.entries(m)) {
      if (key.length === 0) throw new TypeError(`${fn}: metadata[${i}] has an empty key`);
      checkText(fn, `metadata[${i}] key ${JSON.stringify(key)}`, key);
      if (RESERVED_FIELDS.includes(key)) {
        throw new TypeError(
          `${fn}: metadata[${i}] uses the reserved key "${key}" (ids and labels have their own arguments)`,
        );
      }
      const type = typeOfValue(value);
      if (type === null) {
        throw new TypeError(
          `${fn}: metadata[${i}].${key} is ${
            typeof value === "number" ? String(value) : typeof value
          }; metadata values are strings, finite numbers or booleans`,
        );
      }
      if (type === "string") checkText(fn, `metadata[${i}].${key}`, value as string);
      const expected = known[key] ?? newFields[key];
      if (expected !== undefined && expected !== type) {
        throw new TypeError(
          `${fn}: metadata[${i}].${key} is a ${type}, but the field "${key}" holds ${expected}s; ` +
            `nothing was stored`,
        );
      }
      if (expected === undefined) newFields[key] = type;
      row[key] = value === 0 ? 0 : value as MetadataValue;
    }
    return row;
  });
  return { rows, newFields };
}

/** One checked condition of a filter. */
export interface Clause {
  /** The field (`id`, `label` or a metadata key). */
  field: string;
  /** Where it lives. */
  scope: "id" | "label" | "meta";
  /** Its type. */
  type: FieldType;
  /** The comparison. */
  op: "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "in";
  /** The value (an array for `in`). */
  value: MetadataValue | MetadataValue[];
}

const OPS = ["eq", "ne", "lt", "lte", "gt", "gte", "in"] as const;

/** Checks a filter against the known fields; returns its clauses (AND). */
export function parseFilter(
  fn: string,
  filter: Filter | undefined,
  fields: Readonly<Record<string, FieldType>>,
): Clause[] {
  if (filter === undefined) return [];
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
    throw new TypeError(`${fn}: filter must be an object of field conditions`);
  }
  const clauses: Clause[] = [];
  for (const [field, cond] of Object.entries(filter)) {
    let scope: Clause["scope"], type: FieldType;
    if (field === "id") [scope, type] = ["id", "string"];
    else if (field === "label") [scope, type] = ["label", "number"];
    else if (fields[field] !== undefined) [scope, type] = ["meta", fields[field]];
    else {
      const known = ["id", "label", ...Object.keys(fields).sort()];
      throw new UnknownFieldError(
        `${fn}: filter names the unknown field ${JSON.stringify(field)}; known fields: ${
          known.join(", ")
        }`,
        field,
        known,
      );
    }
    const check = (v: unknown, op: string) => {
      const t = typeOfValue(v);
      if (t !== type || (field === "label" && !Number.isInteger(v))) {
        throw new TypeError(
          `${fn}: filter ${field}.${op} is ${JSON.stringify(v)}, but ${field} holds ${
            field === "label" ? "integer" : type
          }s`,
        );
      }
      return v as MetadataValue;
    };
    const add = (op: Clause["op"], v: unknown) => {
      if (op === "in") {
        if (!Array.isArray(v)) throw new TypeError(`${fn}: filter ${field}.in must be an array`);
        clauses.push({ field, scope, type, op, value: v.map((x) => check(x, "in")) });
        return;
      }
      if (op !== "eq" && op !== "ne" && type !== "number") {
        throw new TypeError(
          `${fn}: filter ${field}.${op} compares order, but ${field} holds ${type}s`,
        );
      }
      clauses.push({ field, scope, type, op, value: check(v, op) });
    };
    if (Array.isArray(cond)) add("in", cond);
    else if (typeof cond === "object" && cond !== null) {
      const entries = Object.entries(cond as Condition);
      if (entries.length === 0) throw new TypeError(`${fn}: filter ${field} has no condition`);
      for (const [op, v] of entries) {
        if (!(OPS as readonly string[]).includes(op)) {
          throw new TypeError(
            `${fn}: filter ${field} has the unknown operator "${op}"; operators: ${OPS.join(", ")}`,
          );
        }
        add(op as Clause["op"], v);
      }
    } else add("eq", cond);
  }
  return clauses;
}

/** Whether a row satisfies every clause (the memory back end's filter). */
export function matches(
  clauses: readonly Clause[],
  id: string,
  label: number | null,
  metadata: Metadata,
): boolean {
  for (const c of clauses) {
    const v = c.scope === "id" ? id : c.scope === "label" ? label : metadata[c.field];
    if (v === undefined || v === null) return false;
    switch (c.op) {
      case "eq":
        if (v !== c.value) return false;
        break;
      case "ne":
        if (v === c.value) return false;
        break;
      case "in":
        if (!(c.value as MetadataValue[]).includes(v)) return false;
        break;
      case "lt":
        if (!((v as number) < (c.value as number))) return false;
        break;
      case "lte":
        if (!((v as number) <= (c.value as number))) return false;
        break;
      case "gt":
        if (!((v as number) > (c.value as number))) return false;
        break;
      case "gte":
        if (!((v as number) >= (c.value as number))) return false;
        break;
    }
  }
  return true;
}

/** Checks the search arguments shared by the back ends. */
export function checkSearchOptions(
  fn: string,
  k: number,
  options: Record<string, unknown>,
): void {
  checkOptionKeys(fn, options, ["filter", "metric", "efSearch", "probes", "exact"]);
  checkInteger(fn, "k", k, 1, 100_000);
  if (options.metric !== undefined) checkMetric(fn, options.metric);
  if (options.efSearch !== undefined) checkInteger(fn, "efSearch", options.efSearch, 1, 1000);
  if (options.probes !== undefined) checkInteger(fn, "probes", options.probes, 1, 32768);
  if (options.exact !== undefined && typeof options.exact !== "boolean") {
    throw new TypeError(`${fn}: exact must be a boolean`);
  }
}

/** Checks `add`'s options. */
export function checkAddOptions(fn: string, options: Record<string, unknown>): void {
  checkOptionKeys(fn, options, ["labels", "metadata", "upsert", "batchSize", "progress"]);
  if (options.upsert !== undefined && typeof options.upsert !== "boolean") {
    throw new TypeError(`${fn}: upsert must be a boolean`);
  }
  if (options.batchSize !== undefined) {
    checkInteger(fn, "batchSize", options.batchSize, 1, 1_000_000);
  }
  if (options.progress !== undefined && typeof options.progress !== "boolean") {
    throw new TypeError(`${fn}: progress must be a boolean`);
  }
}

/** Guards the dimension given to an existing store's opener. */
export function checkDim(fn: string, stored: number, given: number | undefined): void {
  if (given !== undefined && given !== stored) {
    throw new DimensionMismatchError(
      `${fn}: dim ${given} differs from the store's dimension ${stored}`,
      stored,
      given,
    );
  }
}
