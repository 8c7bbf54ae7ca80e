/**
 * Fashion-MNIST with class names: LeNet-5 trained by the library's trainer
 * (src/train) on any directory of IDX files in MNIST's layout, then per-class
 * accuracy and a few predictions printed by name ("Ankle boot", "Sneaker", …).
 *
 *   npm run example:fashion-mnist                       # Debian's dataset-fashion-mnist
 *   npm run example:fashion-mnist -- --data DIR --epochs 3 --limit 10000 --out runs/fashion
 *
 * Fashion-MNIST offline: Debian/Ubuntu package it (`npm run setup -- --with-fashion-mnist`,
 * or `apt-get install dataset-fashion-mnist`), which puts the IDX files in
 * /usr/share/datasets/fashion-mnist; elsewhere download the four files from
 * the Zalando Research repository into a directory and pass it with --data.
 * Class names come from the directory's classes.txt when it has one, else
 * Fashion-MNIST's. The checkpoint records them, so afterwards
 * `blasnet predict shirt.png --checkpoint runs/fashion/model.safetensors --preprocess fit`
 * answers with names too.
 */
import * as fs from 'node:fs';
import { data, models, optim, manualSeed, noGrad, train } from 'blasnet';

export const DEFAULT_DATA = '/usr/share/datasets/fashion-mnist';

interface Args {
  data: string;
  epochs: number;
  limit?: number;
  out: string;
  seed: number;
  batchSize: number;
}

const USAGE = `usage: node examples/dist/fashion-mnist.js [--data DIR] [--epochs N] [--limit N] [--batch-size N] [--seed N] [--out DIR]

  --data DIR        IDX files in MNIST's layout (default ${DEFAULT_DATA}, from Debian's dataset-fashion-mnist)
  --epochs N        epochs (default 5)
  --limit N         only the first N training images
  --batch-size N    batch size (default 64)
  --seed N          random seed (default 0)
  --out DIR         where the checkpoint, metrics and curves go (default runs/fashion-mnist)`;

export function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = { data: DEFAULT_DATA, epochs: 5, out: 'runs/fashion-mnist', seed: 0, batchSize: 64 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    const int = (min: number): number => {
      const v = value(), n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`${k} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return n;
    };
    if (k === '--help' || k === '-h') return 'help';
    else if (k === '--data') a.data = value();
    else if (k === '--epochs') a.epochs = int(1);
    else if (k === '--limit') a.limit = int(1);
    else if (k === '--batch-size') a.batchSize = int(1);
    else if (k === '--seed') a.seed = int(0);
    else if (k === '--out') a.out = value();
    else throw new Error(`unknown argument ${JSON.stringify(k)} (see --help)`);
  }
  return a;
}

export function run(a: Args, log: (s: string) => void = console.log): { accuracy: number; perClass: Record<string, number>; classes: string[] } {
  if (!fs.existsSync(a.data))
    throw new Error(`${a.data} does not exist. Get Fashion-MNIST with \`npm run setup -- --with-fashion-mnist\` (Debian/Ubuntu: apt-get install dataset-fashion-mnist), or pass a directory of IDX files with --data`);
  const classes = data.datasetClassNames(a.data) ?? [...data.FASHION_MNIST_CLASSES];
  manualSeed(a.seed);
  const trainSet = data.mnist({ split: 'train', dir: a.data, limit: a.limit });
  const testSet = data.mnist({ split: 'test', dir: a.data, limit: a.limit === undefined ? undefined : Math.max(500, Math.floor(a.limit / 6)) });
  log(`Fashion-MNIST from ${a.data}: ${trainSet.length} train / ${testSet.length} test images, ${classes.length} classes (${classes.join(', ')})`);
  const model = models.LeNet({ numClasses: classes.length });
  const loader = new data.DataLoader(trainSet, { batchSize: a.batchSize, shuffle: true, seed: a.seed });
  const optimizer = new optim.Adam(model.parameters(), { lr: 0.002 });
  const scheduler = new optim.CosineAnnealingLR(optimizer, { tMax: a.epochs * loader.length });
  const checkpoint: train.Callback = {
    onEpochEnd: (ctx) => train.saveCheckpoint(a.out, {
      model, optimizer, scheduler, epoch: ctx.epoch, history: ctx.history, options: { ...a }, optimizerName: 'adam',
      modelMetadata: { format: 'blasnet-lenet', variant: 'modern', classes: JSON.stringify(classes) },
    }),
  };
  new train.Trainer({
    model, optimizer, scheduler, schedulerStep: 'batch', epochs: a.epochs, seed: a.seed,
    callbacks: [checkpoint, new train.MetricsWriter(a.out, { ...a }), new train.CurvesWriter(a.out), new train.ProgressLogger({ log })],
  }).fit(loader, { testData: testSet });

  const ev = train.evaluate(model, testSet, classes.length);
  log(`\ntest accuracy ${(100 * ev.accuracy).toFixed(2)}%; per class:`);
  const w = Math.max(...classes.map((c) => c.length));
  const perClass: Record<string, number> = {};
  ev.perClass.forEach((p, c) => {
    perClass[classes[c]] = p;
    log(`  ${classes[c].padEnd(w)}  ${(100 * p).toFixed(1).padStart(5)}%`);
  });
  log('\nthe first test images:');
  noGrad(() => {
    for (let i = 0; i < Math.min(5, testSet.length); i++) {
      const { x, y } = testSet.get(i);
      model.eval();
      const p = model.forward(x).softmax(1).data();
      const best = p.indexOf(Math.max(...p));
      log(`  #${i}: ${classes[best]} (${(100 * p[best]).toFixed(1)}%), truly ${classes[y.item()]}`);
      x.dispose();
      y.dispose();
    }
  });
  trainSet.dispose();
  testSet.dispose();
  log(`\nwrote ${a.out}/model.safetensors (with the class names), metrics and curves`);
  return { accuracy: ev.accuracy, perClass, classes };
}

if (require.main === module) {
  try {
    const a = parseArgs(process.argv.slice(2));
    if (a === 'help') console.log(USAGE);
    else run(a);
  } catch (e) {
    console.error(`fashion-mnist: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
