#!/usr/bin/env node
/**
 * The `blasnet` command: train, eval, predict, info, viz and summary for LeNet-5
 * on MNIST (or any directory of IDX files).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { backendInfo, models, nn, data, tensor, noGrad, setNumThreads, type Tensor } from '../index';
import { loadWithMetadata } from '../io/checkpoint';
import { DatasetMissingError } from '../data/mnist';
import { train, evaluate, type TrainOptions } from './train';
import { readDigitPng, writeGridPng } from './images';
import type { LeNetVariant } from '../models/lenet';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

function int(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
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

/** Loads a LeNet checkpoint written by `train` (or PyTorch), taking the variant from its metadata. */
function loadModel(file: string, variant?: LeNetVariant): { model: nn.Sequential; variant: LeNetVariant } {
  if (!fs.existsSync(file)) throw new Error(`no checkpoint at ${file} (train one with \`blasnet train\`)`);
  const { tensors, metadata } = loadWithMetadata(file);
  const v = (variant ?? metadata.variant ?? 'modern') as LeNetVariant;
  const model = models.LeNet({ variant: v });
  model.loadStateDict(tensors);
  for (const t of Object.values(tensors)) t.dispose();
  return { model: model.eval(), variant: v };
}

const variantOption = () => new Option('--variant <variant>', "LeNet variant: 'modern' (ReLU, max pool) or 'classic' (sigmoid, avg pool)").choices(['modern', 'classic']);
const dataOption = () => new Option('--data <source>', "'mnist' (bundled) or a directory of IDX files (e.g. Fashion-MNIST)").default('mnist');
const threadsOption = () => new Option('--threads <n>', 'threads (default: all CPUs)').argParser(int('--threads', 1));

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
    .description('train LeNet-5; writes model.safetensors, state.safetensors (for --resume), metrics.json and curves.svg to --out')
    .addOption(variantOption().default('modern'))
    .addOption(dataOption())
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 10)
    .option('--batch-size <n>', 'batch size', int('--batch-size', 1), 128)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam', 'adamw']).default('adam'))
    .option('--lr <lr>', 'peak learning rate (default: 0.002 for adam/adamw, 0.05 for sgd)', positive('--lr'))
    .option('--momentum <m>', 'SGD momentum (Nesterov when > 0)', nonNegative('--momentum'), 0.9)
    .option('--weight-decay <wd>', 'weight decay', nonNegative('--weight-decay'), 0)
    .addOption(new Option('--scheduler <name>', 'learning-rate schedule').choices(['none', 'step', 'cosine', 'onecycle']).default('cosine'))
    .addOption(threadsOption())
    .option('--seed <n>', 'random seed (weights and shuffling)', int('--seed', 0), 0)
    .option('--out <dir>', 'output directory', 'runs/lenet')
    .option('--resume', 'continue the run in --out from its last epoch', false)
    .option('--limit <n>', 'use only the first n training images (quick runs)', int('--limit', 1))
    .option('--stop-after <n>', 'stop after n epochs of this invocation; the schedule still spans --epochs (continue with --resume)', int('--stop-after', 1))
    .option('--no-progress', 'no progress bar (one line per epoch)')
    .action((o) => {
      const lr = o.lr ?? (o.optimizer === 'sgd' ? 0.05 : 0.002);
      const opts: TrainOptions = { ...o, lr, progress: o.progress && !!process.stdout.isTTY };
      train(opts);
      console.log(`wrote ${path.join(o.out, 'model.safetensors')}, metrics.json and curves.svg`);
    });

  program
    .command('eval')
    .description('evaluate a checkpoint on the test set: accuracy, per-class accuracy, confusion matrix')
    .option('--checkpoint <file>', 'model checkpoint', 'runs/lenet/model.safetensors')
    .addOption(variantOption())
    .addOption(dataOption())
    .addOption(threadsOption())
    .option('--json', 'print JSON')
    .action((o) => {
      if (o.threads) setNumThreads(o.threads);
      const { model } = loadModel(o.checkpoint, o.variant);
      const test = data.mnist({ split: 'test', dir: o.data === 'mnist' ? undefined : o.data });
      const r = evaluate(model, test);
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
        return;
      }
      console.log(`test accuracy: ${(100 * r.accuracy).toFixed(2)}% (${test.length} images, mean loss ${r.loss.toFixed(4)})\n`);
      console.log('per-class accuracy:');
      r.perClass.forEach((a, c) => console.log(`  ${c}: ${(100 * a).toFixed(2)}%`));
      console.log('\nconfusion matrix (rows: true class, columns: predicted):');
      const w = Math.max(4, ...r.confusion.flat().map((v) => String(v).length + 1));
      console.log('     ' + r.confusion.map((_, c) => String(c).padStart(w)).join(''));
      r.confusion.forEach((row, c) => console.log(`  ${c}: ` + row.map((v) => String(v).padStart(w)).join('')));
    });

  program
    .command('predict')
    .description('class probabilities for a PNG image or a test-set index')
    .argument('[image]', 'a PNG of a digit (any size; resized to 28×28)')
    .option('--index <n>', 'use test image n instead of a PNG', int('--index', 0))
    .option('--checkpoint <file>', 'model checkpoint', 'runs/lenet/model.safetensors')
    .addOption(variantOption())
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action((image: string | undefined, o) => {
      if ((image === undefined) === (o.index === undefined)) throw new Error('predict: give either a PNG path or --index <n>');
      const { model } = loadModel(o.checkpoint, o.variant);
      let x: Tensor, label: number | null = null, source: string;
      if (image !== undefined) {
        const px = readDigitPng(image);
        x = tensor(px.map((v) => (v - data.MNIST_MEAN) / data.MNIST_STD), [1, 1, 28, 28]);
        source = image;
      } else {
        const test = data.mnist({ split: 'test', dir: o.data === 'mnist' ? undefined : o.data });
        if (o.index >= test.length) throw new Error(`predict: --index ${o.index} is out of range (the test set has ${test.length} images)`);
        const sample = test.get(o.index);
        x = sample.x;
        label = sample.y.item();
        source = `test image ${o.index}`;
      }
      const probs = noGrad(() => model.forward(x).softmax(1)).data();
      const best = probs.indexOf(Math.max(...probs));
      if (o.json) {
        console.log(JSON.stringify({ source, prediction: best, label, probabilities: Array.from(probs) }));
        return;
      }
      console.log(`${source}: predicted ${best}${label !== null ? ` (label ${label})` : ''}`);
      probs.forEach((p, c) => console.log(`  ${c}: ${(100 * p).toFixed(2).padStart(6)}%  ${'█'.repeat(Math.round(p * 40))}`));
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
    .option('--checkpoint <file>', 'model checkpoint', 'runs/lenet/model.safetensors')
    .addOption(variantOption())
    .addOption(dataOption())
    .option('--index <n>', 'test image to show', int('--index', 0), 0)
    .option('--out <dir>', 'output directory', 'runs/lenet/viz')
    .action((o) => {
      const { model } = loadModel(o.checkpoint, o.variant);
      const test = data.mnist({ split: 'test', dir: o.data === 'mnist' ? undefined : o.data, limit: o.index + 1 });
      if (o.index >= test.length) throw new Error(`viz: --index ${o.index} is out of range`);
      fs.mkdirSync(o.out, { recursive: true });
      const w = model[0] as nn.Conv2d;
      writeGridPng(path.join(o.out, 'filters-conv1.png'), w.weight.data(), w.weight.shape[0], 5, 5, { scale: 16 });
      const sample = test.get(o.index).x;
      writeGridPng(path.join(o.out, 'input.png'), sample.data(), 1, 28, 28, { scale: 8 });
      noGrad(() => {
        let y = sample;
        let k = 0;
        for (let i = 0; i < model.length; i++) {
          y = model[i].forward(y);
          if (model[i] instanceof nn.Conv2d) {
            k++;
            const [, c, h, ww] = y.shape;
            writeGridPng(path.join(o.out, `features-conv${k}.png`), y.data(), c, h, ww, { scale: k === 1 ? 6 : 12 });
          }
        }
      });
      console.log(`wrote filters-conv1.png, input.png, features-conv1.png, features-conv2.png to ${o.out} (test image ${o.index}, label ${test.y.data()[o.index]})`);
    });

  program
    .command('summary')
    .description("LeNet-5's layers, output shapes and parameter counts")
    .addOption(variantOption().default('modern'))
    .action((o) => {
      console.log(models.LeNet({ variant: o.variant }).summary([1, 1, 28, 28]));
    });

  return program;
}

export function main(argv = process.argv): void {
  try {
    buildProgram().parse(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed
      process.exitCode = e.exitCode;
      return;
    }
    const err = e as Error;
    // Library errors already name the op; the dataset error says what to install.
    console.error(err instanceof DatasetMissingError ? err.message : `blasnet: ${err.message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) main();
