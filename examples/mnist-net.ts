/**
 * pytorch/examples' MNIST script (mnist/main.py) ported to blasnet, line for
 * line: the same `Net` (two 3×3 convolutions, max pooling, dropout 0.25 and
 * 0.5, two linear layers, logSoftmax), nllLoss, Adadelta with StepLR(step 1,
 * gamma 0.7), the same options and the same printed lines. No CUDA: it runs on
 * the CPU through OpenBLAS.
 *
 *   npm run example:mnist-net                          # 14 epochs, as the original
 *   npm run example:mnist-net -- --epochs 1 --limit 6000 --save-model
 *
 * It uses a custom nn.Module with its own forward and an explicit training
 * loop, as the original does (examples/fashion-mnist.ts shows the library's
 * Trainer instead).
 */
import { nn, optim, data, manualSeed, noGrad, tidy, save, type Tensor } from 'blasnet';

const F = nn.functional;

export class Net extends nn.Module {
  conv1 = new nn.Conv2d(1, 32, 3, { stride: 1 });
  conv2 = new nn.Conv2d(32, 64, 3, { stride: 1 });
  dropout1 = new nn.Dropout(0.25);
  dropout2 = new nn.Dropout(0.5);
  fc1 = new nn.Linear(9216, 128);
  fc2 = new nn.Linear(128, 10);

  forward(x: Tensor): Tensor {
    x = this.conv1.forward(x);
    x = F.relu(x);
    x = this.conv2.forward(x);
    x = F.relu(x);
    x = F.maxPool2d(x, { kernelSize: 2 });
    x = this.dropout1.forward(x);
    x = x.flatten(1);
    x = this.fc1.forward(x);
    x = F.relu(x);
    x = this.dropout2.forward(x);
    x = this.fc2.forward(x);
    return F.logSoftmax(x, 1);
  }
}

export interface Args {
  batchSize: number;
  testBatchSize: number;
  epochs: number;
  lr: number;
  gamma: number;
  dryRun: boolean;
  seed: number;
  logInterval: number;
  saveModel: boolean;
  /** Not in the original: only the first n training images (and n/6 test images), for quick runs. */
  limit?: number;
  /** Not in the original: a directory of IDX files instead of the bundled MNIST. */
  data?: string;
}

const USAGE = `usage: node examples/dist/mnist-net.js [options]     (PyTorch MNIST Example, ported)

  --batch-size N        input batch size for training (default: 64)
  --test-batch-size N   input batch size for testing (default: 1000)
  --epochs N            number of epochs to train (default: 14)
  --lr LR               learning rate (default: 1.0)
  --gamma M             learning rate step gamma (default: 0.7)
  --dry-run             quickly check a single pass
  --seed S              random seed (default: 1)
  --log-interval N      how many batches to wait before logging training status (default: 10)
  --save-model          save the current model (mnist_cnn.safetensors)
  --limit N             only the first N training images (N/6 test images)
  --data DIR            a directory of IDX files (default: the bundled MNIST)`;

export function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = { batchSize: 64, testBatchSize: 1000, epochs: 14, lr: 1.0, gamma: 0.7, dryRun: false, seed: 1, logInterval: 10, saveModel: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = (int: boolean): number => {
      const v = argv[++i], n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n <= (k === '--seed' ? -1 : 0) || (int && !Number.isInteger(n))) throw new Error(`${k} needs a ${int ? 'positive integer' : 'positive number'}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
      return n;
    };
    switch (k) {
      case '--help': case '-h': return 'help';
      case '--batch-size': a.batchSize = num(true); break;
      case '--test-batch-size': a.testBatchSize = num(true); break;
      case '--epochs': a.epochs = num(true); break;
      case '--lr': a.lr = num(false); break;
      case '--gamma': a.gamma = num(false); break;
      case '--dry-run': a.dryRun = true; break;
      case '--seed': a.seed = num(true); break;
      case '--log-interval': a.logInterval = num(true); break;
      case '--save-model': a.saveModel = true; break;
      case '--limit': a.limit = num(true); break;
      case '--data': {
        const v = argv[++i];
        if (v === undefined) throw new Error('--data needs a directory');
        a.data = v;
        break;
      }
      default: throw new Error(`unrecognized argument ${JSON.stringify(k)} (see --help)`);
    }
  }
  return a;
}

function trainEpoch(a: Args, model: Net, loader: data.DataLoader, optimizer: optim.Optimizer, epoch: number, log: (s: string) => void): void {
  model.train();
  const n = loader.dataset.length;
  let batchIdx = 0;
  for (const { x, y } of loader) {
    const loss = tidy(() => {
      optimizer.zeroGrad();
      const output = model.forward(x);
      const l = F.nllLoss(output, y);
      l.backward();
      optimizer.step();
      return l.item();
    });
    x.dispose();
    y.dispose();
    if (batchIdx % a.logInterval === 0) {
      const seen = batchIdx * a.batchSize;
      log(`Train Epoch: ${epoch} [${seen}/${n} (${((100 * batchIdx) / loader.length).toFixed(0)}%)]\tLoss: ${loss.toFixed(6)}`);
      if (a.dryRun) break;
    }
    batchIdx++;
  }
}

function test(model: Net, loader: data.DataLoader, log: (s: string) => void): { loss: number; accuracy: number } {
  model.eval();
  let testLoss = 0, correct = 0;
  noGrad(() => {
    for (const { x, y } of loader)
      tidy(() => {
        const output = model.forward(x);
        testLoss += F.nllLoss(output, y, { reduction: 'sum' }).item(); // sum up batch loss
        const pred = output.argmax(1).data(), t = y.data(); // the index of the max log-probability
        for (let i = 0; i < t.length; i++) if (pred[i] === t[i]) correct++;
        x.dispose();
        y.dispose();
      });
  });
  const n = loader.dataset.length;
  testLoss /= n;
  log(`\nTest set: Average loss: ${testLoss.toFixed(4)}, Accuracy: ${correct}/${n} (${((100 * correct) / n).toFixed(0)}%)\n`);
  return { loss: testLoss, accuracy: correct / n };
}

export function main(a: Args, log: (s: string) => void = console.log): { loss: number; accuracy: number }[] {
  manualSeed(a.seed);
  const trainSet = data.mnist({ split: 'train', dir: a.data, limit: a.limit });
  const testSet = data.mnist({ split: 'test', dir: a.data, limit: a.limit === undefined ? undefined : Math.max(100, Math.floor(a.limit / 6)) });
  const trainLoader = new data.DataLoader(trainSet, { batchSize: a.batchSize, shuffle: true, seed: a.seed });
  const testLoader = new data.DataLoader(testSet, { batchSize: a.testBatchSize });
  const model = new Net();
  const optimizer = new optim.Adadelta(model.parameters(), { lr: a.lr });
  const scheduler = new optim.StepLR(optimizer, { stepSize: 1, gamma: a.gamma });
  const results: { loss: number; accuracy: number }[] = [];
  for (let epoch = 1; epoch <= a.epochs; epoch++) {
    trainEpoch(a, model, trainLoader, optimizer, epoch, log);
    results.push(test(model, testLoader, log));
    scheduler.step();
    if (a.dryRun) break;
  }
  if (a.saveModel) save(model.stateDict(), 'mnist_cnn.safetensors');
  trainSet.dispose();
  testSet.dispose();
  return results;
}

if (require.main === module) {
  try {
    const a = parseArgs(process.argv.slice(2));
    if (a === 'help') console.log(USAGE);
    else main(a);
  } catch (e) {
    console.error(`mnist-net: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
