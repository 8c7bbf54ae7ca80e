#!/usr/bin/env node
/**
 * The `blasnet` command: train, eval, predict, info, viz and summary for LeNet-5
 * on MNIST (or any directory of IDX files).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { backendInfo, models, nn, data, noGrad, setNumThreads, image, distributed, type Tensor } from '../index';
import { DatasetMissingError } from '../data/mnist';
import { train, evaluate, type TrainOptions } from './train';
import { writeGridPng } from './images';
import { loadModel, modelFromFile, classNames, CliError } from './model';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

function int(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}`);
    return n;
  };
}
function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number`);
    return n;
  };
}
function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

const checkpointOption = () => new Option('--checkpoint <file>', 'model checkpoint: safetensors, or a PyTorch state dict (.pt)').default('runs/lenet/model.safetensors');
const modelOption = () => new Option('--model <file.js>', 'your own model: a JS file exporting a function that returns an nn.Module (default: LeNet-5)');
const classesOption = () => new Option('--classes <names>', "class names: a preset (mnist, fashion-mnist), a file (one a line, or a JSON array) or a comma-separated list (default: the checkpoint's, else indices)");

/** The IDX directory of a --data value (undefined: the bundled MNIST). */
function dataDir(source: string): string | undefined {
  return source === 'mnist' ? undefined : source;
}

/** Creates a directory, or says clearly why it cannot. */
function ensureDir(dir: string, option: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new CliError(`${option} ${dir} is a file, not a directory`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new CliError(`${option} ${dir}: cannot create it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The model's number of outputs on the dataset's samples. */
function outputsOf(model: nn.Module, ds: data.TensorDataset): number {
  const s = ds.get(0);
  try {
    return noGrad(() => {
      const y = forwardChecked(model, s.x);
      const n = y.shape[1];
      y.dispose();
      return n;
    });
  } finally {
    s.x.dispose();
    s.y.dispose();
  }
}

/** model.forward(x), with an error that says the model does not fit the input, and a check that it returns [N, classes]. */
function forwardChecked(model: nn.Module, x: Tensor): Tensor {
  let y: Tensor;
  try {
    y = model.forward(x);
  } catch (e) {
    throw new CliError(`the model cannot take input of shape [${x.shape.join(',')}]: ${(e as Error).message}`);
  }
  if (!y || y.ndim !== 2 || y.shape[0] !== x.shape[0]) throw new CliError(`the model must return [N, classes] logits; it returned shape [${y?.shape?.join(',')}]`);
  return y;
}

const variantOption = () => new Option('--variant <variant>', "LeNet variant: 'modern' (ReLU, max pool) or 'classic' (sigmoid, avg pool)").choices(['modern', 'classic']);
const dataOption = () => new Option('--data <source>', "'mnist' (bundled) or a directory of IDX files (e.g. Fashion-MNIST)").default('mnist');
const threadsOption = () => new Option('--threads <n>', 'threads (default: all CPUs)').argParser(int('--threads', 1, 1024));

export function buildProgram(): Command {
  const program = new Command('blasnet')
    .description('LeNet-5 on MNIST with blasnet: train, evaluate, predict, visualise')
    .version(pkg.version)
    .exitOverride()
    .configureOutput({
      // commander's own errors become one line, like the library's
      outputError: (msg, write) => write(`blasnet: ${msg.replace(/^error: /, '').trim()} (see --help)\n`),
    });

  program
    .command('train')
    .description('train LeNet-5; writes model.safetensors, state.safetensors (for --resume), metrics.json, metrics.jsonl, curves.svg and curves.png to --out')
    .addOption(variantOption().default('modern'))
    .addOption(dataOption())
    .option('--epochs <n>', 'epochs', int('--epochs', 1, 100_000), 10)
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1, 1 << 20), 64)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam', 'adamw']).default('adam'))
    .option('--lr <lr>', 'peak learning rate (default: 0.002 for adam/adamw, 0.05 for sgd)', positive('--lr'))
    .option('--momentum <m>', 'SGD momentum (Nesterov when > 0; default 0.9); only with --optimizer sgd', nonNegative('--momentum'))
    .option('--weight-decay <wd>', 'weight decay', nonNegative('--weight-decay'), 0)
    .addOption(new Option('--scheduler <name>', 'learning-rate schedule').choices(['none', 'step', 'cosine', 'onecycle']).default('cosine'))
    .addOption(threadsOption())
    .option('--seed <n>', 'random seed (weights, shuffling, dropout)', int('--seed', 0, Number.MAX_SAFE_INTEGER), 0)
    .option('--out <dir>', 'output directory', 'runs/lenet')
    .option('--resume', 'continue the run in --out from its last epoch (the same options; a larger --epochs re-plans the schedule)', false)
    .option('--limit <n>', 'use only the first n training images (quick runs)', int('--limit', 1, Number.MAX_SAFE_INTEGER))
    .option('--stop-after <n>', 'stop after n epochs of this invocation; the schedule still spans --epochs (continue with --resume)', int('--stop-after', 1, 100_000))
    .addOption(new Option('--classes <names>', "class names to record in the checkpoint: a preset (mnist, fashion-mnist), a file or a comma-separated list (default: the data directory's classes.txt or classes.json)"))
    .option('--no-progress', 'no progress bar (one line per epoch)')
    .option('--distributed', 'data-parallel over the ranks of `mpirun -np K`: --batch-size is the global batch, split over the ranks; rank 0 writes the files (needs blasnet built with MPI)', false)
    .option('--dist-timeout <s>', 'with --distributed: seconds a rank may wait for the others in one step before it ends the job (0: no limit)', nonNegative('--dist-timeout'), 1800)
    .action((o, cmd: Command) => {
      if (o.momentum !== undefined && o.optimizer !== 'sgd') throw new CliError(`train: --momentum applies to --optimizer sgd, not ${o.optimizer}`);
      let classes: string[] | undefined;
      if (o.classes !== undefined) {
        try {
          classes = data.parseClassNames(o.classes);
        } catch (e) {
          throw new CliError(`--classes: ${(e as Error).message.replace(/^classes: /, '')}`);
        }
      }
      const lr = o.lr ?? (o.optimizer === 'sgd' ? 0.05 : 0.002);
      const opts: TrainOptions = { ...o, lr, momentum: o.momentum ?? (o.optimizer === 'sgd' ? 0.9 : 0), classes, progress: o.progress && !!process.stdout.isTTY };
      if (classes === undefined) delete opts.classes;
      if (!o.distributed) {
        if (cmd.getOptionValueSource('distTimeout') === 'cli') throw new CliError('train: --dist-timeout applies to --distributed runs');
        // Under mpirun without --distributed every rank would train alone and write the same --out.
        const ranks = Number(process.env.OMPI_COMM_WORLD_SIZE ?? process.env.PMI_SIZE ?? 1);
        if (ranks > 1) throw new CliError(`train: started as one of ${ranks} MPI ranks (mpirun -np ${ranks}) without --distributed: each rank would train on its own and write the same --out; add --distributed`);
        delete opts.distributed;
        delete opts.distTimeout;
      }
      train(opts);
      if (o.distributed) {
        distributed.finalize();
        if (distributed.rank !== 0) return;
      }
      console.log(`wrote model.safetensors, state.safetensors, metrics.json, metrics.jsonl, curves.svg and curves.png to ${o.out}`);
    });

  program
    .command('eval')
    .description('evaluate a checkpoint on the test set: accuracy, per-class accuracy, confusion matrix')
    .addOption(checkpointOption())
    .addOption(modelOption())
    .addOption(variantOption())
    .addOption(dataOption())
    .addOption(classesOption())
    .addOption(threadsOption())
    .option('--json', 'print JSON')
    .action((o) => {
      if (o.threads) setNumThreads(o.threads);
      const { model, metadata } = loadModel(o.checkpoint, { variant: o.variant, modelFile: o.model });
      const test = data.mnist({ split: 'test', dir: dataDir(o.data) });
      const n = outputsOf(model, test);
      const names = classNames(n, o.classes, metadata);
      const r = evaluate(model, test, n);
      if (o.json) {
        console.log(JSON.stringify({ ...r, classes: names }, null, 2));
        return;
      }
      const label = (c: number) => (names[c] === String(c) ? String(c) : `${c} ${names[c]}`);
      const w0 = Math.max(...names.map((_, c) => label(c).length));
      console.log(`test accuracy: ${(100 * r.accuracy).toFixed(2)}% (${test.length} images, mean loss ${r.loss.toFixed(4)})\n`);
      console.log('per-class accuracy:');
      r.perClass.forEach((a, c) => console.log(`  ${label(c).padStart(w0)}: ${(100 * a).toFixed(2)}%`));
      console.log('\nconfusion matrix (rows: true class, columns: predicted):');
      const w = Math.max(4, ...r.confusion.flat().map((v) => String(v).length + 1));
      const pad = ' '.repeat(Math.max(0, String(n - 1).length - 1));
      console.log('     ' + pad + r.confusion.map((_, c) => String(c).padStart(w)).join(''));
      r.confusion.forEach((row, c) => console.log(`  ${String(c).padStart(String(n - 1).length)}: ` + row.map((v) => String(v).padStart(w)).join('')));
    });

  program
    .command('predict')
    .description('class probabilities for a PNG image (any size: preprocessed like MNIST) or a test-set index')
    .argument('[image]', 'a PNG: any size, colour or transparency; cropped to the ink and centred like MNIST (see --preprocess)')
    .option('--index <n>', 'use test image n instead of a PNG', int('--index', 0))
    .addOption(checkpointOption())
    .addOption(modelOption())
    .addOption(variantOption())
    .addOption(dataOption())
    .addOption(classesOption())
    .addOption(new Option('--preprocess <mode>', "PNG preprocessing: 'mnist' (crop to the ink, fit 20×20, centre of mass at the centre; digits), 'fit' (crop, fit 28×28; Fashion-MNIST-like objects), 'resize' (the whole image to 28×28)").choices(['mnist', 'fit', 'resize']))
    .addOption(threadsOption())
    .option('--json', 'print JSON')
    .action((img: string | undefined, o) => {
      if ((img === undefined) === (o.index === undefined)) throw new CliError('predict: give either a PNG path or --index <n>');
      if (img !== undefined && o.data !== 'mnist') throw new CliError('predict: --data is only used with --index (a PNG is read from its path)');
      if (img === undefined && o.preprocess !== undefined) throw new CliError('predict: --preprocess applies to a PNG, not to --index');
      if (o.threads) setNumThreads(o.threads);
      const { model, metadata } = loadModel(o.checkpoint, { variant: o.variant, modelFile: o.model });
      let x: Tensor, label: number | null = null, source: string;
      let prepared: image.PreparedImage | null = null;
      if (img !== undefined) {
        prepared = image.loadImage(img, { mode: o.preprocess ?? 'mnist' });
        for (const w of prepared.warnings) console.error(`blasnet: warning: ${img}: ${w}; the prediction below means nothing`);
        x = image.toInput(prepared);
        source = img;
      } else {
        const test = data.mnist({ split: 'test', dir: dataDir(o.data), limit: o.index + 1 });
        if (o.index >= test.length) {
          const all = data.mnist({ split: 'test', dir: dataDir(o.data) }).length;
          throw new CliError(`predict: --index ${o.index} is out of range (the test set has ${all} images)`);
        }
        const sample = test.get(o.index);
        x = sample.x;
        label = sample.y.item();
        source = `test image ${o.index}`;
      }
      const probs = noGrad(() => {
        const logits = forwardChecked(model, x);
        return logits.softmax(1);
      }).data();
      const names = classNames(probs.length, o.classes, metadata);
      const best = probs.indexOf(Math.max(...probs));
      const named = (c: number) => (names[c] === String(c) ? String(c) : `${c} (${names[c]})`);
      if (o.json) {
        const out: Record<string, unknown> = { source, prediction: best, className: names[best], label, probabilities: Array.from(probs), classes: names };
        if (prepared) Object.assign(out, { empty: prepared.empty, inverted: prepared.inverted, warnings: prepared.warnings });
        console.log(JSON.stringify(out));
        return;
      }
      console.log(`${source}: predicted ${named(best)}${label !== null ? ` (label ${named(label)})` : ''}`);
      probs.forEach((p, c) => console.log(`  ${String(c).padStart(String(probs.length - 1).length)}: ${(100 * p).toFixed(2).padStart(6)}%  ${'█'.repeat(Math.round(p * 40)).padEnd(40)}${names[c] === String(c) ? '' : `  ${names[c]}`}`.trimEnd()));
    });

  program
    .command('info')
    .description('version, CPU, SIMD level, BLAS kernel and threads')
    .action(() => {
      const b = backendInfo();
      const cpus = os.cpus();
      console.log(`blasnet ${pkg.version} (Node ${process.version}, ${process.platform}-${process.arch})`);
      console.log(`CPU:     ${cpus[0]?.model ?? 'unknown'} (${cpus.length} logical CPUs)`);
      console.log(`SIMD:    ${b.simd}`);
      console.log(`BLAS:    ${b.blas}, kernel ${b.core} (chosen by ${b.coreSource})`);
      console.log(`threads: ${b.threads} (OpenBLAS ${b.blasThreads} per call)`);
    });

  program
    .command('viz')
    .description("PNG grids of the first conv layer's filters and of a test image's feature maps after each conv")
    .addOption(checkpointOption())
    .addOption(modelOption())
    .addOption(variantOption())
    .addOption(dataOption())
    .option('--index <n>', 'test image to show', int('--index', 0), 0)
    .option('--out <dir>', 'output directory', 'runs/lenet/viz')
    .action((o) => {
      const { model } = loadModel(o.checkpoint, { variant: o.variant, modelFile: o.model });
      if (!(model instanceof nn.Sequential)) throw new CliError('viz: the model must be an nn.Sequential (it walks the layers one by one)');
      const layers = model.children();
      const first = layers.find((l): l is nn.Conv2d => l instanceof nn.Conv2d);
      if (!first) throw new CliError('viz: the model has no Conv2d layer to show');
      const test = data.mnist({ split: 'test', dir: dataDir(o.data), limit: o.index + 1 });
      if (o.index >= test.length) throw new CliError(`viz: --index ${o.index} is out of range (the test set has ${test.length} images)`);
      ensureDir(o.out, '--out');
      const [oc, , kh, kw] = first.weight.shape;
      const written: string[] = [];
      const write = (name: string, maps: Float32Array, count: number, h: number, w: number, scale: number) => {
        writeGridPng(path.join(o.out, name), maps, count, h, w, { scale });
        written.push(name);
      };
      // the first input channel of each filter
      const wdata = first.weight.data(), per = wdata.length / oc;
      const filters = new Float32Array(oc * kh * kw);
      for (let f = 0; f < oc; f++) filters.set(wdata.subarray(f * per, f * per + kh * kw), f * kh * kw);
      write('filters-conv1.png', filters, oc, kh, kw, Math.max(4, Math.round(80 / Math.max(kh, kw))));
      const sample = test.get(o.index).x;
      const [, , H, W] = sample.shape;
      write('input.png', sample.data(), 1, H, W, 8);
      noGrad(() => {
        let y = sample;
        let k = 0;
        for (const layer of layers) {
          y = layer.forward(y);
          if (layer instanceof nn.Conv2d) {
            k++;
            const [, c, h, ww] = y.shape;
            write(`features-conv${k}.png`, y.data(), c, h, ww, k === 1 ? 6 : 12);
          }
        }
      });
      console.log(`wrote ${written.join(', ')} to ${o.out} (test image ${o.index}, label ${test.y.data()[o.index]})`);
    });

  program
    .command('summary')
    .description("a model's layers, output shapes and parameter counts (LeNet-5 unless --model)")
    .addOption(modelOption())
    .addOption(variantOption())
    .option('--input-shape <shape>', 'input shape, comma-separated', '1,1,28,28')
    .action((o) => {
      if (o.model !== undefined && o.variant !== undefined) throw new CliError('summary: --variant applies to the built-in LeNet; it cannot be combined with --model');
      const shape = String(o.inputShape).split(',').map((v) => Number(v.trim()));
      if (shape.length < 1 || shape.some((d) => !Number.isInteger(d) || d < 1 || d > 1 << 16)) throw new CliError(`summary: --input-shape must be positive integers separated by commas, got ${JSON.stringify(o.inputShape)}`);
      const model = o.model !== undefined ? modelFromFile(o.model) : models.LeNet({ variant: o.variant ?? 'modern' });
      console.log(model.summary(shape));
    });

  return program;
}

/** One line for an error: `blasnet: <cause>` (the library's messages already name the op). */
export function errorLine(e: unknown): string {
  if (e instanceof DatasetMissingError) return `blasnet: ${e.message}`;
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0].trim() || (e instanceof Error ? e.name : 'unknown error');
  return first.startsWith('blasnet:') ? first : `blasnet: ${first}`;
}

export function main(argv = process.argv): void {
  // `blasnet eval | head` closes stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  try {
    buildProgram().parse(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed
      process.exitCode = e.exitCode;
      return;
    }
    if (distributed.isInitialized() && distributed.worldSize > 1) {
      // One rank failed: say which, then end every rank of the job (the others may be waiting in a collective).
      console.error(errorLine(e).replace(/^blasnet: /, `blasnet: rank ${distributed.rank} of ${distributed.worldSize}: `));
      if (process.env.BLASNET_DEBUG && e instanceof Error && e.stack) console.error(e.stack);
      distributed.abort(1);
    }
    console.error(errorLine(e));
    if (process.env.BLASNET_DEBUG && e instanceof Error && e.stack) console.error(e.stack);
    process.exitCode = 1;
  }
}

if (require.main === module) main();
