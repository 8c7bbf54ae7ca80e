/**
 * Class names: presets for the datasets in MNIST's layout, and a dataset
 * directory's own list (`classes.txt`, one name a line, or `classes.json`, an
 * array of strings), which `blasnet train` records in the checkpoint so that
 * `predict` and `eval` print names instead of indices.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** MNIST: the digits. */
export const MNIST_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
/** Fashion-MNIST's ten classes, in label order. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);
/** Presets by name, for `--classes fashion-mnist`. */
export const CLASS_PRESETS: Readonly<Record<string, readonly string[]>> = Object.freeze({ mnist: MNIST_CLASSES, 'fashion-mnist': FASHION_MNIST_CLASSES });

/** Largest class-name file read: 1 MiB. */
const MAX_CLASSES_FILE = 1 << 20;

/** Checks a list of class names: non-empty, unique, strings of 1..200 characters. */
export function checkClassNames(names: unknown, source: string): string[] {
  if (!Array.isArray(names) || names.length === 0) throw new Error(`classes: ${source}: expected a non-empty list of class names`);
  if (names.length > 100_000) throw new Error(`classes: ${source}: ${names.length} classes is more than the limit of 100000`);
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (typeof n !== 'string' || n.length === 0 || n.length > 200) throw new Error(`classes: ${source}: class ${i} must be a string of 1 to 200 characters, got ${JSON.stringify(n)}`);
    if (seen.has(n)) throw new Error(`classes: ${source}: class name ${JSON.stringify(n)} appears twice`);
    seen.add(n);
  });
  return names as string[];
}

/** Reads class names from a `.json` array or a text file (one a line, blank lines ignored). */
export function readClassNames(file: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new Error(`classes: ${file} does not exist`);
  }
  if (!st.isFile()) throw new Error(`classes: ${file} is not a regular file`);
  if (st.size > MAX_CLASSES_FILE) throw new Error(`classes: ${file} is ${st.size} bytes; the limit is ${MAX_CLASSES_FILE}`);
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`classes: ${file} is not valid JSON (${(e as Error).message})`);
    }
    return checkClassNames(v, file);
  }
  return checkClassNames(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== ''), file);
}

/** A dataset directory's class names (`classes.txt` or `classes.json`), or null if it has none. */
export function datasetClassNames(dir: string): string[] | null {
  for (const name of ['classes.json', 'classes.txt']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return readClassNames(p);
  }
  return null;
}

/**
 * Resolves a `--classes` argument: a preset name (`mnist`, `fashion-mnist`), a
 * path to a class-name file, or a comma-separated list.
 */
export function parseClassNames(arg: string): string[] {
  if (typeof arg !== 'string' || arg.trim() === '') throw new Error('classes: expected a preset (mnist, fashion-mnist), a file or a comma-separated list');
  if (Object.prototype.hasOwnProperty.call(CLASS_PRESETS, arg)) return CLASS_PRESETS[arg].slice();
  if (fs.existsSync(arg)) return readClassNames(arg);
  if (!arg.includes(',')) throw new Error(`classes: ${JSON.stringify(arg)} is neither a preset (${Object.keys(CLASS_PRESETS).join(', ')}), an existing file, nor a comma-separated list`);
  return checkClassNames(arg.split(',').map((s) => s.trim()), '--classes');
}
