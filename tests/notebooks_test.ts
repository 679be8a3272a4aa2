/**
 * Executes every notebook in `notebooks/` headless through Deno's Jupyter kernel (nbconvert from
 * Debian, `SIMLEARN_FAST=1`), and fails on any error output or on a notebook that shows no Plotly
 * figure. Then every figure the notebooks showed is rendered in headless Chromium, all in one
 * session (`checkFigures`): each trace must draw marks inside its plot area and each figure must
 * fit a 1,200 px page. `bash tools/setup.sh test` (run by `deno task test`) installs Jupyter,
 * Chromium and registers the kernel; without Jupyter and without root (so that it could not be
 * installed) the tests are skipped with a message.
 *
 * `SIMLEARN_NOTEBOOKS=01,03` runs only the notebooks whose names start with those prefixes.
 */
import assert from "node:assert/strict";
import { checkFigures, figureProblems, type NamedFigure } from "../lib/viz/figure_check.ts";
import { findChromium } from "../lib/viz/export.ts";
import type { PlotlyFigure } from "../lib/viz/figures.ts";

const PYTHON = "/usr/bin/python3";
const NOTEBOOKS = new URL("../notebooks/", import.meta.url);

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}
interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name?: string; language?: string } };
  nbformat: number;
}

async function isRoot(): Promise<boolean> {
  try {
    const status = await Deno.readTextFile("/proc/self/status");
    return /^Uid:\s+0\s/m.test(status);
  } catch {
    return false;
  }
}

async function jupyterAvailable(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(PYTHON, {
      args: ["-c", "import nbconvert, nbclient, jupyter_client"],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

const notebookFiles: string[] = [];
for await (const entry of Deno.readDir(NOTEBOOKS)) {
  if (entry.isFile && entry.name.endsWith(".ipynb")) notebookFiles.push(entry.name);
}
notebookFiles.sort();
const only = (Deno.env.get("SIMLEARN_NOTEBOOKS") ?? "").split(",").filter(Boolean);
const selected = notebookFiles.filter((f) =>
  only.length === 0 || only.some((p) => f.startsWith(p))
);
/** The Plotly figures each executed notebook showed, for the Chromium check at the end. */
const shown = new Map<string, NamedFigure[]>();

const haveJupyter = await jupyterAvailable();
const root = await isRoot();
if (!haveJupyter) {
  const why = root
    ? "Jupyter is missing although we are root: run `bash tools/setup.sh test`"
    : "Jupyter (Debian: jupyter-notebook, python3-nbconvert) is missing and we are not root";
  console.warn(`notebooks_test: ${why}${root ? "" : " — skipping notebook execution"}`);
}

Deno.test("the notebooks are in order, nbformat 4 with the Deno kernel, outputs cleared", async () => {
  // Every notebook in the folder, numbered: two-digit prefixes, unique, in order, the story's
  // 01–07 first (others, 08 onwards, join as they land).
  const numbers = notebookFiles.map((f) => f.slice(0, 2));
  for (const [i, f] of notebookFiles.entries()) {
    assert.match(f, /^\d\d_[a-z0-9_]+\.ipynb$/, `notebook name ${f}`);
    if (i > 0) assert.ok(numbers[i - 1] < numbers[i], `${notebookFiles[i - 1]} before ${f}`);
  }
  assert.deepEqual(numbers.slice(0, 7), ["01", "02", "03", "04", "05", "06", "07"]);
  for (const file of notebookFiles) {
    const nb = JSON.parse(await Deno.readTextFile(new URL(file, NOTEBOOKS))) as Notebook;
    assert.equal(nb.nbformat, 4, file);
    assert.equal(nb.metadata.kernelspec?.name, "deno", file);
    assert.equal(nb.metadata.kernelspec?.language, "typescript", file);
    const code = nb.cells.filter((c) => c.cell_type === "code");
    assert.ok(code.length > 0, `${file}: no code cells`);
    for (const c of code) {
      assert.deepEqual(c.outputs, [], `${file}: outputs are not cleared`);
      assert.equal(c.execution_count, null, `${file}: execution counts are not cleared`);
    }
    const first = [code[0].source].flat().join("");
    assert.match(first, /SIMLEARN_FAST/, `${file}: the first cell must read SIMLEARN_FAST`);
    // Every notebook: prose plus library calls, and a first output that says which data and
    // which backend the run used.
    assert.match(first, /describeSetup\(/, `${file}: the first cell must print describeSetup(...)`);
    code.forEach((c, i) => {
      const lines = logicLines([c.source].flat().join(""));
      assert.ok(
        lines <= 20,
        `${file}: code cell ${i + 1} has ${lines} lines besides imports (> 20)`,
      );
    });
    assert.match(
      nb.cells.map((c) => [c.source].flat().join("")).join("\n"),
      /from "\.\.\/lib\//,
      `${file}: must import the library`,
    );
  }
});

/** Notebooks 01–07 tell the source document's story. */
const STORY = /^0[1-7]_/;

/** Lines of a code cell, not counting import statements. */
function logicLines(source: string): number {
  const withoutImports = source.replace(/^import[^;]*;\s*$/gms, "");
  return withoutImports.split("\n").filter((l) => l.trim() !== "").length;
}

/** The executed notebook's problems: error outputs, and the Plotly figures it showed. */
function inspect(nb: Notebook, file: string): { errors: string[]; figures: NamedFigure[] } {
  const errors: string[] = [];
  const figures: NamedFigure[] = [];
  nb.cells.forEach((cell, i) => {
    for (const out of cell.outputs ?? []) {
      if (out.output_type === "error") {
        errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      }
      if (
        STORY.test(file) && out.output_type === "execute_result" && out.data &&
        !["application/vnd.plotly.v1+json", "text/html", "text/markdown"].some((m) =>
          m in out.data!
        )
      ) {
        // A cell whose last statement has a value prints it (a model, a record): noise for a reader.
        const text = [out.data["text/plain"] ?? ""].flat().join("").slice(0, 60);
        errors.push(`cell ${i}: shows a stray value (${JSON.stringify(text)}…)`);
      }
      const figure = out.data?.["application/vnd.plotly.v1+json"] as PlotlyFigure | undefined;
      if (figure) {
        const title = (figure.layout?.title as { text?: string } | undefined)?.text ?? "";
        figures.push({
          name: `${file} cell ${i} figure ${figures.length + 1}${title ? ` "${title}"` : ""}`,
          figure,
        });
      }
    }
  });
  return { errors, figures };
}

for (const file of selected) {
  Deno.test({
    name: `notebook ${file} runs under the Deno kernel and shows Plotly figures`,
    ignore: !haveJupyter && !root,
    fn: async () => {
      assert.ok(haveJupyter, "Jupyter is missing (run `bash tools/setup.sh test` as root)");
      const outDir = await Deno.makeTempDir({ prefix: "simlearn-nb-" });
      try {
        const started = performance.now();
        const { code, stderr } = await new Deno.Command(PYTHON, {
          args: [
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=600",
            "--ExecutePreprocessor.kernel_name=deno",
            "--output-dir",
            outDir,
            file,
          ],
          cwd: NOTEBOOKS,
          env: { SIMLEARN_FAST: "1", NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const seconds = (performance.now() - started) / 1000;
        const log = new TextDecoder().decode(stderr);
        let executed: Notebook | undefined;
        try {
          executed = JSON.parse(await Deno.readTextFile(`${outDir}/${file}`)) as Notebook;
        } catch {
          // nbconvert stops at the first failing cell and writes nothing
        }
        const found = executed ? inspect(executed, file) : undefined;
        assert.ok(
          code === 0 && found && found.errors.length === 0,
          `${file} failed (exit ${code}):\n${found?.errors.join("\n") ?? ""}\n${
            log.split("\n").slice(-40).join("\n")
          }`,
        );
        assert.ok(found.figures.length > 0, `${file}: no application/vnd.plotly.v1+json output`);
        shown.set(file, found.figures);
        console.log(`${file}: ${found.figures.length} Plotly figure(s) in ${seconds.toFixed(1)} s`);
      } finally {
        await Deno.remove(outDir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "every figure the notebooks show draws marks in headless Chromium and fits a 1,200 px page",
  ignore: !haveJupyter && !root,
  fn: async () => {
    const missing = selected.filter((f) => !shown.has(f));
    assert.deepEqual(missing, [], `notebooks that did not run to the end: ${missing.join(", ")}`);
    assert.ok(
      await findChromium(),
      "chromium is missing (run `bash tools/setup.sh test` as root)",
    );
    const figures = selected.flatMap((f) => shown.get(f)!);
    const started = performance.now();
    const reports = await checkFigures(figures);
    const problems = figureProblems(reports);
    console.log(
      `${figures.length} notebook figures checked in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s; ${problems.length} problem(s)`,
    );
    assert.deepEqual(
      problems,
      [],
      `figures that do not draw or do not fit:\n${problems.join("\n")}`,
    );
  },
});
