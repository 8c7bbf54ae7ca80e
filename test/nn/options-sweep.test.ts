// Every public function and constructor that takes an options object rejects
// an unknown key with an Error naming it, and suggests the camelCase spelling
// of a snake_case PyTorch name (`batch_size` → `batchSize`). The export walk
// below classifies every function and class reachable from src/index.ts: a
// new export must get a row here (or be listed as taking no options object),
// so an options object cannot be added without the check.
// Optimizer groups and state dicts have their own rows in optim-options.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import * as blasnet from '../../src';
import { nn, optim, data, image, train, models, distributed, tensor, zeros, randn, InferenceSession } from '../../src';

const F = nn.functional;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-sweep-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const p = () => [tensor([1, 2]).requiresGrad_()];
const sgd = () => new optim.SGD(p(), { lr: 0.1 });
const x4 = () => randn([2, 3, 8, 8]);
const lin = () => new nn.Linear(2, 2);
const ds = () => new data.TensorDataset(randn([4, 2]), tensor([0, 1, 0, 1]));
const rgba = (): image.RgbaImage => ({ width: 2, height: 2, data: new Uint8Array(16).fill(255) }) as image.RgbaImage;
const trainer = (o: Record<string, unknown> = {}) => new train.Trainer({ model: lin(), optimizer: sgd(), epochs: 1, ...o } as never);

/** [export path, call with extra option keys merged in, a snake_case key → its camelCase key (or null when the options have no two-word key)]. */
type Row = [name: string, call: (extra: Record<string, unknown>) => unknown, snake: [string, string] | null];

const ROWS: Row[] = [
  // nn layers
  ['nn.Linear', (o) => new nn.Linear(2, 2, o), null],
  ['nn.Conv1d', (o) => new nn.Conv1d(1, 1, 3, o), null],
  ['nn.Conv2d', (o) => new nn.Conv2d(1, 1, 3, o), null],
  ['nn.Conv3d', (o) => new nn.Conv3d(1, 1, 3, o), null],
  ['nn.ReLU', (o) => new nn.ReLU(o), null],
  ['nn.LeakyReLU', (o) => new nn.LeakyReLU(o), ['negative_slope', 'negativeSlope']],
  ['nn.Softmax', (o) => new nn.Softmax({ dim: 1, ...o }), null],
  ['nn.LogSoftmax', (o) => new nn.LogSoftmax({ dim: 1, ...o }), null],
  ['nn.Flatten', (o) => new nn.Flatten(o), ['start_dim', 'startDim']],
  ['nn.Dropout', (o) => new nn.Dropout(o), null],
  ['nn.BatchNorm1d', (o) => new nn.BatchNorm1d(2, o), ['track_running_stats', 'trackRunningStats']],
  ['nn.BatchNorm2d', (o) => new nn.BatchNorm2d(2, o), ['track_running_stats', 'trackRunningStats']],
  ['nn.BatchNorm3d', (o) => new nn.BatchNorm3d(2, o), ['track_running_stats', 'trackRunningStats']],
  ['nn.CrossEntropyLoss', (o) => new nn.CrossEntropyLoss(o), ['label_smoothing', 'labelSmoothing']],
  ['nn.NLLLoss', (o) => new nn.NLLLoss(o), ['ignore_index', 'ignoreIndex']],
  ['nn.MSELoss', (o) => new nn.MSELoss(o), null],
  ['nn.L1Loss', (o) => new nn.L1Loss(o), null],
  ['nn.SmoothL1Loss', (o) => new nn.SmoothL1Loss(o), null],
  ['nn.HuberLoss', (o) => new nn.HuberLoss(o), null],
  ['nn.Module.loadStateDict', (o) => lin().loadStateDict(lin().stateDict(), o), null],
  // pooling, transposed convolution, padding
  ['nn.MaxPool1d', (o) => new nn.MaxPool1d(2, o), ['ceil_mode', 'ceilMode']],
  ['nn.MaxPool2d', (o) => new nn.MaxPool2d(2, o), ['return_indices', 'returnIndices']],
  ['nn.MaxPool3d', (o) => new nn.MaxPool3d(2, o), ['ceil_mode', 'ceilMode']],
  ['nn.AvgPool1d', (o) => new nn.AvgPool1d(2, o), ['count_include_pad', 'countIncludePad']],
  ['nn.AvgPool2d', (o) => new nn.AvgPool2d(2, o), ['divisor_override', 'divisorOverride']],
  ['nn.AvgPool3d', (o) => new nn.AvgPool3d(2, o), ['ceil_mode', 'ceilMode']],
  ['nn.AdaptiveMaxPool1d', (o) => new nn.AdaptiveMaxPool1d(2, o), ['return_indices', 'returnIndices']],
  ['nn.AdaptiveMaxPool2d', (o) => new nn.AdaptiveMaxPool2d(2, o), ['return_indices', 'returnIndices']],
  ['nn.AdaptiveMaxPool3d', (o) => new nn.AdaptiveMaxPool3d(2, o), ['return_indices', 'returnIndices']],
  ['nn.MaxUnpool1d', (o) => new nn.MaxUnpool1d(2, o), null],
  ['nn.MaxUnpool2d', (o) => new nn.MaxUnpool2d(2, o), null],
  ['nn.MaxUnpool3d', (o) => new nn.MaxUnpool3d(2, o), null],
  ['nn.ConvTranspose1d', (o) => new nn.ConvTranspose1d(1, 1, 3, o), ['output_padding', 'outputPadding']],
  ['nn.ConvTranspose2d', (o) => new nn.ConvTranspose2d(1, 1, 3, o), ['output_padding', 'outputPadding']],
  ['nn.ConvTranspose3d', (o) => new nn.ConvTranspose3d(1, 1, 3, o), ['padding_mode', 'paddingMode']],
  ['nn.functional.maxPool1d', (o) => F.maxPool1d(randn([1, 2, 8]), { kernelSize: 2, ...o }), ['ceil_mode', 'ceilMode']],
  ['nn.functional.maxPool2d', (o) => F.maxPool2d(x4(), { kernelSize: 2, ...o }), ['return_indices', 'returnIndices']],
  ['nn.functional.maxPool3d', (o) => F.maxPool3d(randn([1, 1, 4, 4, 4]), { kernelSize: 2, ...o }), ['ceil_mode', 'ceilMode']],
  ['nn.functional.avgPool1d', (o) => F.avgPool1d(randn([1, 2, 8]), { kernelSize: 2, ...o }), ['count_include_pad', 'countIncludePad']],
  ['nn.functional.avgPool2d', (o) => F.avgPool2d(x4(), { kernelSize: 2, ...o }), ['divisor_override', 'divisorOverride']],
  ['nn.functional.avgPool3d', (o) => F.avgPool3d(randn([1, 1, 4, 4, 4]), { kernelSize: 2, ...o }), ['ceil_mode', 'ceilMode']],
  ['nn.functional.adaptiveMaxPool1d', (o) => F.adaptiveMaxPool1d(randn([1, 2, 8]), 2, o), ['return_indices', 'returnIndices']],
  ['nn.functional.adaptiveMaxPool2d', (o) => F.adaptiveMaxPool2d(x4(), 2, o), ['return_indices', 'returnIndices']],
  ['nn.functional.adaptiveMaxPool3d', (o) => F.adaptiveMaxPool3d(randn([1, 1, 4, 4, 4]), 2, o), ['return_indices', 'returnIndices']],
  ['nn.functional.maxUnpool1d', (o) => { const [y, i] = F.maxPool1d(randn([1, 2, 8]), { kernelSize: 2, returnIndices: true }); return F.maxUnpool1d(y, i, { kernelSize: 2, ...o }); }, ['output_size', 'outputSize']],
  ['nn.functional.maxUnpool2d', (o) => { const [y, i] = F.maxPool2d(x4(), { kernelSize: 2, returnIndices: true }); return F.maxUnpool2d(y, i, { kernelSize: 2, ...o }); }, ['output_size', 'outputSize']],
  ['nn.functional.maxUnpool3d', (o) => { const [y, i] = F.maxPool3d(randn([1, 1, 4, 4, 4]), { kernelSize: 2, returnIndices: true }); return F.maxUnpool3d(y, i, { kernelSize: 2, ...o }); }, ['output_size', 'outputSize']],
  ['nn.functional.convTranspose1d', (o) => F.convTranspose1d(randn([1, 1, 5]), randn([1, 1, 3]), null, o), ['output_padding', 'outputPadding']],
  ['nn.functional.convTranspose2d', (o) => F.convTranspose2d(x4(), randn([3, 1, 3, 3]), null, o), ['output_padding', 'outputPadding']],
  ['nn.functional.convTranspose3d', (o) => F.convTranspose3d(randn([1, 1, 3, 3, 3]), randn([1, 1, 2, 2, 2]), null, o), ['output_padding', 'outputPadding']],
  ['nn.functional.pad', (o) => F.pad(x4(), [1, 1], { mode: 'reflect', ...o }), null],
  // nn.functional
  ['nn.functional.conv1d', (o) => F.conv1d(randn([1, 1, 5]), randn([1, 1, 3]), null, o), null],
  ['nn.functional.conv2d', (o) => F.conv2d(x4(), randn([1, 3, 3, 3]), null, o), null],
  ['nn.functional.conv3d', (o) => F.conv3d(randn([1, 1, 3, 3, 3]), randn([1, 1, 2, 2, 2]), null, o), null],
  ['nn.functional.conv2dReluMaxPool2d', (o) => F.conv2dReluMaxPool2d(x4(), randn([2, 3, 3, 3]), null, o), null],
  ['nn.functional.convOutputShape', (o) => F.convOutputShape([1, 3, 8, 8], [1, 3, 3, 3], o), null],
  ['nn.functional.batchNorm', (o) => F.batchNorm(x4(), o), ['running_mean', 'runningMean']],
  ['nn.functional.crossEntropy', (o) => F.crossEntropy(randn([2, 3]), [0, 1], o), ['label_smoothing', 'labelSmoothing']],
  ['nn.functional.nllLoss', (o) => F.nllLoss(randn([2, 3]), [0, 1], o), ['ignore_index', 'ignoreIndex']],
  ['nn.functional.mseLoss', (o) => F.mseLoss(randn([2]), randn([2]), o), null],
  ['nn.functional.l1Loss', (o) => F.l1Loss(randn([2]), randn([2]), o), null],
  ['nn.functional.smoothL1Loss', (o) => F.smoothL1Loss(randn([2]), randn([2]), o), null],
  ['nn.functional.huberLoss', (o) => F.huberLoss(randn([2]), randn([2]), o), null],
  ['nn.init.kaimingUniform', (o) => nn.init.kaimingUniform(zeros([2, 2]), o), null],
  ['nn.init.kaimingNormal', (o) => nn.init.kaimingNormal(zeros([2, 2]), o), null],
  // tensors and autograd
  ['Tensor.backward', (o) => { const t = tensor([1, 2]).requiresGrad_(); t.sum().backward(undefined, o); }, ['retain_graph', 'retainGraph']],
  // optim (groups and state dicts: optim-options.test.ts)
  ['optim.SGD', (o) => new optim.SGD(p(), { lr: 0.1, ...o }), ['weight_decay', 'weightDecay']],
  ['optim.Adam', (o) => new optim.Adam(p(), o), ['weight_decay', 'weightDecay']],
  ['optim.AdamW', (o) => new optim.AdamW(p(), o), ['weight_decay', 'weightDecay']],
  ['optim.Adadelta', (o) => new optim.Adadelta(p(), o), ['weight_decay', 'weightDecay']],
  ['optim.RMSprop', (o) => new optim.RMSprop(p(), o), ['weight_decay', 'weightDecay']],
  ['optim.Adagrad', (o) => new optim.Adagrad(p(), o), ['lr_decay', 'lrDecay']],
  ['optim.StepLR', (o) => new optim.StepLR(sgd(), { stepSize: 2, ...o }), ['step_size', 'stepSize']],
  ['optim.MultiStepLR', (o) => new optim.MultiStepLR(sgd(), { milestones: [2], ...o }), null],
  ['optim.ExponentialLR', (o) => new optim.ExponentialLR(sgd(), { gamma: 0.9, ...o }), null],
  ['optim.LinearLR', (o) => new optim.LinearLR(sgd(), o), ['start_factor', 'startFactor']],
  ['optim.CosineAnnealingLR', (o) => new optim.CosineAnnealingLR(sgd(), { tMax: 5, ...o }), ['eta_min', 'etaMin']],
  ['optim.ConstantLR', (o) => new optim.ConstantLR(sgd(), o), ['total_iters', 'totalIters']],
  ['optim.PolynomialLR', (o) => new optim.PolynomialLR(sgd(), o), ['total_iters', 'totalIters']],
  ['optim.LambdaLR', (o) => new optim.LambdaLR(sgd(), { lrLambda: () => 1, ...o }), ['lr_lambda', 'lrLambda']],
  ['optim.MultiplicativeLR', (o) => new optim.MultiplicativeLR(sgd(), { lrLambda: () => 1, ...o }), ['lr_lambda', 'lrLambda']],
  ['optim.OneCycleLR', (o) => new optim.OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, ...o }), ['three_phase', 'threePhase']],
  ['optim.SequentialLR', (o) => { const s = sgd(); return new optim.SequentialLR(s, { schedulers: [new optim.ConstantLR(s), new optim.ConstantLR(s)], milestones: [2], ...o }); }, null],
  ['optim.ReduceLROnPlateau', (o) => new optim.ReduceLROnPlateau(sgd(), o), ['threshold_mode', 'thresholdMode']],
  // data
  ['data.DataLoader', (o) => new data.DataLoader(ds(), o), ['batch_size', 'batchSize']],
  ['data.mnist', (o) => data.mnist({ dir: tmp, ...o }), null],
  ['data.writeIdx', (o) => data.writeIdx(path.join(tmp, 'a.idx'), { shape: [2], data: new Uint8Array(2), dtype: 'uint8' } as never, o), null],
  // image
  ['image.decodePng', (o) => image.decodePng(image.encodePng(rgba()), o), ['max_pixels', 'maxPixels']],
  ['image.readPngHeader', (o) => image.readPngHeader(image.encodePng(rgba()), o), ['max_pixels', 'maxPixels']],
  ['image.loadImage', (o) => image.loadImage(image.encodePng(rgba()), o), ['max_pixels', 'maxPixels']],
  ['image.prepareImage', (o) => image.prepareImage(rgba(), o), null],
  ['image.toInput', (o) => image.toInput(image.prepareImage(rgba()), o), null],
  // distributed (options are checked before MPI is needed)
  ['distributed.init', (o) => distributed.init(o), null],
  ['distributed.DistributedSampler', (o) => new distributed.DistributedSampler(10, { numReplicas: 2, rank: 0, ...o }), ['drop_last', 'dropLast']],
  ['distributed.averageGradients', (o) => distributed.averageGradients(lin(), o), ['bucket_mb', 'bucketMb']],
  ['distributed.DistributedDataParallel', (o) => new distributed.DistributedDataParallel(lin(), o), ['broadcast_buffers', 'broadcastBuffers']],
  // train
  ['train.Trainer', (o) => trainer(o), ['scheduler_step', 'schedulerStep']],
  ['train.Trainer.fit', (o) => trainer().fit(new data.DataLoader(ds(), { batchSize: 2 }), o), ['start_epoch', 'startEpoch']],
  ['train.evaluate', (o) => train.evaluate(lin(), ds(), 2, o), ['batch_size', 'batchSize']],
  ['train.ProgressLogger', (o) => new train.ProgressLogger(o), null],
  ['train.saveCheckpoint', (o) => train.saveCheckpoint(path.join(tmp, 'ck'), { model: lin(), optimizer: sgd(), epoch: 1, history: [], options: {}, optimizerName: 'sgd', ...o } as never), ['model_metadata', 'modelMetadata']],
  ['train.loadCheckpoint', (o) => train.loadCheckpoint(path.join(tmp, 'ck'), { model: lin(), optimizer: sgd(), optimizerName: 'sgd', options: {}, mustMatch: [], schedulerStepsPerEpoch: 0, ...o } as never), ['optimizer_name', 'optimizerName']],
  // models
  ['models.LeNet', (o) => models.LeNet(o), ['num_classes', 'numClasses']],
  // plan
  ['InferenceSession', (o) => new InferenceSession(lin(), { inputShape: [2], ...o }), ['max_plans', 'maxPlans']],
  ['InferenceSession.load', (o) => InferenceSession.load(path.join(tmp, 'none.safetensors'), o), ['fold_batch_norm', 'foldBatchNorm']],
];

/**
 * Exports that take no options object (positional arguments only), by path.
 * (`train.MetricsWriter(dir, options)` records the run's options as metadata; it is not an options object.)
 */
const NO_OPTIONS = new Set(`
Tensor tensor zeros ones full arange rand randn zerosLike onesLike manualSeed tidy keep dispose memoryInfo select narrow slice index
indexSelect gather where cat stack split chunk unbind noGrad isGradEnabled backendInfo setNumThreads getNumThreads broadcastShapes save load
setConvWorkspaceLimit getConvWorkspaceLimit setConvWinograd
nn.Module nn.Parameter nn.isParameter nn.Sequential nn.SequentialModule nn.Sigmoid nn.Tanh nn.Identity nn.Unflatten nn._BatchNorm
nn.functional.relu nn.functional.sigmoid nn.functional.tanh nn.functional.leakyRelu nn.functional.softmax nn.functional.logSoftmax
nn.functional.linear nn.functional.dropout nn.functional.poolOutSize
nn.AdaptiveAvgPool1d nn.AdaptiveAvgPool2d nn.AdaptiveAvgPool3d nn.GlobalAvgPool2d
nn.functional.adaptiveAvgPool1d nn.functional.adaptiveAvgPool2d nn.functional.adaptiveAvgPool3d nn.functional.globalAvgPool2d
nn.init.calculateGain nn.init.constant nn.init.fans nn.init.normal nn.init.ones nn.init.uniform nn.init.xavierNormal nn.init.xavierUniform nn.init.zeros
optim.Optimizer optim.LRScheduler optim.ChainedScheduler
data.TensorDataset data.DatasetMissingError data.bundledMnistDir data.checkClassNames data.datasetClassNames data.decodeIdx data.mulberry32
data.epochOrder data.normalize data.parseClassNames data.parseIdx data.readClassNames data.readIdx data.serializeIdx
image.encodePng image.readImageFile
io.deserialize io.isTorchFile io.load io.loadSafetensors io.loadTorch io.loadWithMetadata io.parseSafetensors io.parseTorch io.save
io.saveSafetensors io.serialize io.serializeSafetensors io.toFloat32 io.writeFileAtomic
train.CheckpointError train.CurvesWriter train.MetricsWriter train.NonFiniteLossError train.curvesPng train.curvesSvg train.epochLine
train.niceTicks train.readStepPoints
distributed.abort distributed.allGather distributed.allReduce distributed.allReduceNumbers distributed.barrier distributed.broadcast
distributed.buckets distributed.checkSameShapes distributed.finalize distributed.isInitialized distributed.mpiAddonPath distributed.reduceLoss
distributed.setCollectiveTimeout distributed.shapeSignature
`.split(/\s+/).filter(Boolean));

/** Paths of every function and class reachable from the package's exports. */
function exportedCallables(): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const k of Object.keys(o)) {
      const v = o[k];
      const name = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'function') out.push(name);
      else if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v) && !seen.has(v) && prefix.split('.').length < 2) {
        seen.add(v);
        walk(v as Record<string, unknown>, name);
      }
    }
  };
  walk(blasnet as unknown as Record<string, unknown>, '');
  return out.sort();
}

describe('every public options object rejects an unknown key', () => {
  it('the table covers every exported function and class', () => {
    const covered = new Set(ROWS.map((r) => r[0].split('.').filter((s, i, a) => !(i === a.length - 1 && /^[a-z]/.test(s) && a.length > 1 && /^[A-Z]/.test(a[a.length - 2]))).join('.')));
    const missing = exportedCallables().filter((n) => !covered.has(n) && !NO_OPTIONS.has(n));
    expect(missing, 'exports with neither a row nor a NO_OPTIONS entry').toEqual([]);
  });
  for (const [name, call, snake] of ROWS) {
    it(`${name}: an unknown key throws naming it`, () => {
      expect(() => call({ bogusKey: 1 })).toThrow(/unknown option 'bogusKey'/);
    });
    if (snake)
      it(`${name}: '${snake[0]}' throws suggesting '${snake[1]}'`, () => {
        let err: unknown;
        try {
          call({ [snake[0]]: 1 });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toContain(`'${snake[0]}'`);
        expect((err as Error).message).toContain(`did you mean '${snake[1]}'`);
      });
  }
});
