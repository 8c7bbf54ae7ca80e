// Every public entry point of the tensor API, autograd, nn.Module, the
// functional ops (other than pooling and losses), io and data, called with bad
// arguments: wrong types, disposed tensors, wrong shapes, bad options. Each
// must throw an Error whose message names the public op and the real cause —
// never a raw JavaScript error ("x.join is not a function") or a native
// internal ("blasnet native: …"), and never accept the input silently.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import {
  tensor, zeros, ones, full, arange, rand, randn, zerosLike, onesLike, manualSeed, tidy, keep, noGrad,
  setNumThreads, Tensor, nn, io, data,
} from '../../src';

const F = nn.functional;
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-errors-'));
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

/** What a message must never look like: a raw JS error or an internal of the native layer. */
const RAW = /blasnet native|is not a function|Cannot read prop|Cannot create prop|is not iterable|\(reading '|\[object Object\]|The "path" argument|undefined features/;

const t = () => tensor([[1, 2], [3, 4]]);
const gone = () => {
  const d = tensor([[1, 2], [3, 4]]);
  d.dispose();
  return d;
};

type Row = [string, () => unknown, RegExp];

const TENSOR: Row[] = [
  ['tensor(string)', () => tensor('abc' as never), /^tensor: data must be a number, a \(nested\) array/],
  ['tensor(ragged)', () => tensor([[1, 2], [3]]), /^tensor: ragged nested array/],
  ['tensor(data, bad shape)', () => tensor([1, 2], 'a' as never), /^tensor: shape must be an array of integers, got "a"/],
  ['zeros(string)', () => zeros('a' as never), /^zeros: shape\[0\] must be a non-negative integer, got "a"/],
  ['full(shape, string)', () => full([2], 'x' as never), /^full: value must be a number, got "x"/],
  ['arange(string)', () => arange('a' as never), /^arange: end must be a finite number, got "a"/],
  ['rand(shape, string low)', () => rand([2], 'a' as never), /^rand: low must be a finite number, got "a"/],
  ['randn(shape, string mean)', () => randn([2], 'x' as never), /^randn: mean must be a finite number, got "x"/],
  ['zerosLike(string)', () => zerosLike('x' as never), /^zerosLike: input must be a Tensor, got "x"/],
  ['onesLike(disposed)', () => onesLike(gone()), /^onesLike: the tensor \(shape \[2,2\]\) was disposed/],
  ['manualSeed(string)', () => manualSeed('x' as never), /^manualSeed: seed must be an integer/],
  ['new Tensor()', () => new Tensor(1 as never, 2 as never), /^Tensor: the constructor is internal/],
  ['tidy(string)', () => tidy('x' as never), /^tidy: fn must be a function, got "x"/],
  ['keep(number)', () => keep(3 as never), /^keep: tensor must be a Tensor, got 3/],
  ['setNumThreads(0)', () => setNumThreads(0), /^setNumThreads: expected an integer in \[1, 256\], got 0/],
  ['reshape(bad size)', () => t().reshape([3]), /^reshape: shape \[3\] is invalid for a tensor of 4 elements/],
  ['view(null)', () => t().view(null as never), /^view: shape\[0\] must be a non-negative integer or -1, got null/],
  ['flatten(string)', () => t().flatten('a' as never), /^flatten: startDim must be an integer, got "a"/],
  ['unsqueeze()', () => (t().unsqueeze as (d?: number) => Tensor)(), /^unsqueeze: dim must be an integer, got undefined/],
  ['permute(repeated)', () => t().permute([0, 0]), /^permute: dims \[0,0\] repeat a dim/],
  ['T of a disposed tensor', () => gone().T, /^T: the tensor \(shape \[2,2\]\) was disposed/],
  ['add(string)', () => t().add('x' as never), /^add: other must be a Tensor or a number, got "x"/],
  ['add(t, string alpha)', () => t().add(t(), 'x' as never), /^add: alpha must be a finite number, got "x"/],
  ['sub(t, object alpha)', () => t().sub(t(), {} as never), /^sub: alpha must be a finite number, got Object/],
  ['mul(wrong shape)', () => t().mul(tensor([1, 2, 3])), /^mul: shapes \[2,2\] and \[3\] cannot be broadcast/],
  ['pow(string)', () => t().pow('2' as never), /^pow: exponent must be a Tensor or a number, got "2"/],
  ['clamp(string)', () => t().clamp('a' as never), /^clamp: min must be a number, got "a"/],
  ['clamp()', () => t().clamp(), /^clamp: at least one of min or max is needed/],
  ['maximum(null)', () => t().maximum(null as never), /^maximum: other must be a Tensor or a number, got null/],
  ['gt(disposed)', () => t().gt(gone()), /^gt: the tensor \(shape \[2,2\]\) was disposed/],
  ['matmul(number)', () => t().matmul(3 as never), /^matmul: other must be a Tensor/],
  ['matmul(wrong shape)', () => t().matmul(ones([3, 1])), /^matmul: shapes \[2,2\] and \[3,1\] cannot be multiplied \(2 != 3\)/],
  ['sum(string dim)', () => t().sum('a' as never), /^sum: dim must be an integer, got "a"/],
  ['sum(0, string keepdim)', () => t().sum(0, 'yes' as never), /^sum: keepdim must be a boolean, got "yes"/],
  ['mean(out of range)', () => t().mean(5), /^mean: dim 5 is out of range for a 2-d tensor/],
  ['max(0, number keepdim)', () => t().max(0, 1 as never), /^max: keepdim must be a boolean, got 1/],
  ['argmax(1.5)', () => t().argmax(1.5), /^argmax: dim must be an integer, got 1.5/],
  ['argmax(0, string keepdim)', () => t().argmax(0, 'no' as never), /^argmax: keepdim must be a boolean, got "no"/],
  ['softmax()', () => (t().softmax as (d?: number) => Tensor)(), /^softmax: dim is required/],
  ['logSoftmax(string)', () => t().logSoftmax('x' as never), /^logSoftmax: dim must be an integer, got "x"/],
  ['copy_(number)', () => t().copy_(3 as never), /^copy_: src must be a Tensor, got 3/],
  ['copy_(disposed)', () => t().copy_(gone()), /^copy_: the tensor \(shape \[2,2\]\) was disposed/],
  ['copy_(wrong size)', () => t().copy_(ones([3])), /^copy_: source has 3 elements/],
  ['fill_(string)', () => t().fill_('x' as never), /^fill_: value must be a number, got "x"/],
  ['item() of several elements', () => t().item(), /^item: only a one-element tensor/],
];

const AUTOGRAD: Row[] = [
  ['requiresGrad_(string)', () => tensor([1]).requiresGrad_('yes' as never), /^requiresGrad_: requiresGrad must be a boolean, got "yes"/],
  ['requiresGrad = string', () => { tensor([1]).requiresGrad = 'yes' as never; }, /^requiresGrad_: requiresGrad must be a boolean/],
  ['requiresGrad_(false) on a non-leaf', () => tensor([1]).requiresGrad_().mul(2).requiresGrad_(false), /^requiresGrad_: cannot turn off requiresGrad on a non-leaf/],
  ['backward() without grad', () => t().sum().backward(), /^backward: this tensor does not require grad/],
  ['backward(number)', () => t().requiresGrad_().sum().backward(3 as never), /^backward: gradient must be a Tensor, got 3/],
  ['backward(wrong shape)', () => t().requiresGrad_().mul(2).backward(tensor([1])), /^backward: gradient has shape \[1\] but the tensor has shape \[2,2\]/],
  ['backward() of a non-scalar', () => t().requiresGrad_().mul(2).backward(), /^backward: a gradient is needed for a tensor of shape \[2,2\]/],
  ['backward({ retain_graph })', () => t().requiresGrad_().sum().backward(undefined, { retain_graph: true } as never), /^backward: unknown option 'retain_graph' \(did you mean 'retainGraph'\?/],
  ['backward({ retainGraph: 1 })', () => t().requiresGrad_().sum().backward(undefined, { retainGraph: 1 } as never), /^backward: retainGraph must be a boolean, got 1/],
  ['backward twice', () => { const l = t().requiresGrad_().mul(2).sum(); l.backward(); l.backward(); }, /^backward: trying to backward through the graph a second time/],
  ['backward through a disposed tensor', () => { const h = t().requiresGrad_().mul(2); const l = h.sum(); h.dispose(); l.backward(); }, /^backward: the graph passes through a tensor that was disposed \(the output of MulBackward\)/],
  ['noGrad(string)', () => noGrad('x' as never), /^noGrad: fn must be a function, got string/],
  ['noGrad(async fn)', () => noGrad((async () => 1) as never), /^noGrad: the function must be synchronous/],
];

const lin = () => new nn.Linear(2, 2);
const MODULE: Row[] = [
  ['loadStateDict(string)', () => lin().loadStateDict('x' as never), /^loadStateDict: expected an object of tensors, got "x"/],
  ['loadStateDict({ stric })', () => lin().loadStateDict({}, { stric: false } as never), /^loadStateDict: unknown option 'stric' \(did you mean 'strict'\?\)/],
  ['loadStateDict({ strict: "no" })', () => lin().loadStateDict({}, { strict: 'no' } as never), /^loadStateDict: strict must be a boolean, got "no"/],
  ['loadStateDict(missing keys)', () => lin().loadStateDict({ weight: zeros([2, 2]) }), /^loadStateDict: keys do not match; missing: bias/],
  ['loadStateDict(wrong shape)', () => lin().loadStateDict({ weight: zeros([3, 3]), bias: zeros([2]) }), /^loadStateDict: size mismatch for weight: the checkpoint has shape \[3,3\], the model has \[2,2\]/],
  ['loadStateDict(disposed)', () => lin().loadStateDict({ weight: gone(), bias: zeros([2]) }), /^loadStateDict: weight: the tensor \(shape \[2,2\]\) was disposed/],
  ['loadStateDict(non-tensor)', () => lin().loadStateDict({ weight: [1] as never, bias: zeros([2]) }), /^loadStateDict: weight must be a Tensor, got \[1\]/],
  ['train(string)', () => lin().train('x' as never), /^train: mode must be a boolean, got "x"/],
  ['namedParameters(number)', () => lin().namedParameters(5 as never), /^namedParameters: prefix must be a string, got 5/],
  ['namedModules(number)', () => lin().namedModules(5 as never), /^namedModules: prefix must be a string, got 5/],
  ['summary(string)', () => lin().summary('x' as never), /^summary: inputShape must be an array of integers, got "x"/],
  ['summary(a shape the model cannot take)', () => lin().summary([3, 3]), /^summary: a zero input of shape \[3,3\] does not run through the model: linear: input has 3 features/],
  ['forward(string)', () => lin().forward('x' as never), /^linear: input must be a Tensor, got "x"/],
  ['forward with a disposed parameter', () => { const m = lin(); m.weight.dispose(); return m.forward(ones([1, 2])); }, /^linear: the tensor \(shape \[2,2\]\) was disposed/],
  ['Parameter(string)', () => nn.Parameter('x' as never), /^Parameter: tensor must be a Tensor, got "x"/],
  ['Parameter(t, string)', () => nn.Parameter(ones([1]), 'yes' as never), /^Parameter: requiresGrad must be a boolean, got "yes"/],
  ['init.kaimingUniform(string)', () => nn.init.kaimingUniform('x' as never), /^init\.kaimingUniform: tensor must be a Tensor, got "x"/],
  ['init.kaimingNormal({ nonLinearity })', () => nn.init.kaimingNormal(zeros([3, 3]), { nonLinearity: 'relu' } as never), /^init\.kaimingNormal: unknown option 'nonLinearity' \(did you mean 'nonlinearity'\?\)/],
  ['init.kaimingNormal({ mode: "in" })', () => nn.init.kaimingNormal(zeros([3, 3]), { mode: 'in' } as never), /^init\.kaimingNormal: mode must be 'fanIn' or 'fanOut', got "in"/],
  ['init.uniform(disposed)', () => nn.init.uniform(gone()), /^init\.uniform: the tensor \(shape \[2,2\]\) was disposed/],
  ['init.uniform(t, string)', () => nn.init.uniform(zeros([3]), 'a' as never), /^init\.uniform: low must be a finite number, got "a"/],
  ['init.normal(t, object)', () => nn.init.normal(zeros([3]), {} as never), /^init\.normal: mean must be a finite number, got Object/],
  ['init.constant(t, string)', () => nn.init.constant(zeros([3]), 'a' as never), /^init\.constant: value must be a finite number, got "a"/],
  ['init.zeros(string)', () => nn.init.zeros('a' as never), /^init\.zeros: tensor must be a Tensor, got "a"/],
  ['init.xavierUniform(1-d)', () => nn.init.xavierUniform(zeros([3])), /^init\.xavierUniform: fan in\/out need a tensor with at least 2 dims, got shape \[3\]/],
];

const x4 = () => zeros([1, 1, 4, 4]), w3 = () => zeros([1, 1, 3, 3]);
const FUNCTIONAL: Row[] = [
  ['relu(string)', () => F.relu('x' as never), /^relu: input must be a Tensor, got "x"/],
  ['sigmoid(disposed)', () => F.sigmoid(gone()), /^sigmoid: the tensor \(shape \[2,2\]\) was disposed/],
  ['tanh(null)', () => F.tanh(null as never), /^tanh: input must be a Tensor, got null/],
  ['leakyRelu(t, string)', () => F.leakyRelu(t(), 'x' as never), /^leakyRelu: negativeSlope must be a finite number, got "x"/],
  ['softmax(t, string)', () => F.softmax(t(), 'x' as never), /^softmax: dim must be an integer, got "x"/],
  ['logSoftmax(t, 9)', () => F.logSoftmax(t(), 9), /^logSoftmax: dim 9 is out of range/],
  ['linear(string)', () => F.linear('x' as never, t()), /^linear: input must be a Tensor, got "x"/],
  ['linear(0-d input)', () => F.linear(tensor(1), t()), /^linear: input must have at least 1 dim \[\.\.\., 2\], got a 0-d tensor/],
  ['linear(1-d weight)', () => F.linear(t(), tensor([1, 2])), /^linear: weight must be 2-d \[out, in\], got shape \[2\]/],
  ['linear(string bias)', () => F.linear(t(), t(), 'b' as never), /^linear: bias must be a Tensor, got "b"/],
  ['linear(disposed bias)', () => F.linear(t(), t(), gone()), /^linear: the tensor \(shape \[2,2\]\) was disposed/],
  ['dropout(t, string)', () => F.dropout(t(), 'x' as never), /^dropout: p must be in \[0, 1\], got "x"/],
  ['dropout(t, 0.5, string)', () => F.dropout(t(), 0.5, 'x' as never), /^dropout: training must be a boolean, got "x"/],
  ['dropout(disposed)', () => F.dropout(gone(), 0.5), /^dropout: the tensor \(shape \[2,2\]\) was disposed/],
  ['batchNorm(string)', () => F.batchNorm('x' as never), /^batchNorm: input must be a Tensor, got "x"/],
  ['batchNorm({ runing_mean })', () => F.batchNorm(zeros([2, 3, 4]), { runing_mean: null } as never), /^batchNorm: unknown option 'runing_mean' \(did you mean 'runningMean'\?\)/],
  ['batchNorm({ eps: string })', () => F.batchNorm(zeros([2, 3, 4]), { eps: 'x' } as never), /^batchNorm: eps must be a finite number, got "x"/],
  ['batchNorm({ momentum: string })', () => F.batchNorm(zeros([2, 3, 4]), { momentum: 'x' } as never), /^batchNorm: momentum must be a finite number, got "x"/],
  ['batchNorm({ weight: number })', () => F.batchNorm(zeros([2, 3, 4]), { weight: 3 } as never), /^batchNorm: weight must be a Tensor, got 3/],
  ['batchNorm({ weight: disposed })', () => F.batchNorm(zeros([2, 3, 4]), { weight: gone() }), /^batchNorm: weight: the tensor \(shape \[2,2\]\) was disposed/],
  ['batchNorm({ training: string })', () => F.batchNorm(zeros([2, 3, 4]), { training: 'no' } as never), /^batchNorm: training must be a boolean, got "no"/],
  ['batchNorm(wrong running mean)', () => F.batchNorm(zeros([2, 3, 4]), { runningMean: zeros([2]) }), /^batchNorm: runningMean must have shape \[3\], got \[2\]/],
  ['batchNorm(string options)', () => F.batchNorm(zeros([2, 3, 4]), 'x' as never), /^batchNorm: options must be an object, got "x"/],
  ['conv2d(string)', () => F.conv2d('x' as never, w3()), /^conv2d: input must be a Tensor, got "x"/],
  ['conv2d({ strides })', () => F.conv2d(x4(), w3(), null, { strides: 1 } as never), /^conv2d: unknown option 'strides' \(did you mean 'stride'\?\)/],
  ['conv2d({ stride: string })', () => F.conv2d(x4(), w3(), null, { stride: 'a' } as never), /^conv2d: stride must be a number or an array of 2 numbers, got "a"/],
  ['conv2d(wrong channels)', () => F.conv2d(zeros([1, 2, 4, 4]), w3()), /^conv2d: input has 2 channels but weight expects 1/],
  ['conv2d(disposed)', () => F.conv2d(gone(), w3()), /^conv2d: the tensor \(shape \[2,2\]\) was disposed/],
  ['conv1d(2-d input)', () => F.conv1d(zeros([1, 4]), zeros([1, 1, 3])), /^conv1d: expected a 3-d input \[N, C, L\], got shape \[1,4\]/],
  ['conv3d(number options)', () => F.conv3d(zeros([1, 1, 4, 4, 4]), zeros([1, 1, 3, 3, 3]), null, 5 as never), /^conv3d: options must be an object, got 5/],
];

const st = path.join(DIR, 'w.safetensors');
const IO: Row[] = [
  ['save(string)', () => io.save('x' as never, st), /^save: expected an object of tensors by name, got "x"/],
  ['save(tensors, number)', () => io.save({ a: t() }, 5 as never), /^save: path must be a non-empty string, got 5/],
  ['save(tensors, "")', () => io.save({ a: t() }, ''), /^save: path must be a non-empty string, got ""/],
  ['save(disposed)', () => io.save({ a: gone() }, st), /^save: a: the tensor \(shape \[2,2\]\) was disposed/],
  ['save(non-tensor)', () => io.save({ a: [1] } as never, st), /^save: a must be a Tensor, got \[1\]/],
  ['save(bad metadata)', () => io.save({ a: t() }, st, 5 as never), /^save: metadata must be an object of strings, got 5/],
  ['save(metadata number value)', () => io.save({ a: t() }, st, { epoch: 3 } as never), /^save: metadata\.epoch must be a string, got 3/],
  ['save into a missing directory', () => io.save({ a: t() }, path.join(DIR, 'no', 'w.st')), /^save: safetensors: .*w\.st: cannot write: the directory .*no does not exist/],
  ['load(number)', () => io.load(5 as never), /^load: path must be a non-empty string, got 5/],
  ['load(missing)', () => io.load(path.join(DIR, 'missing.st')), /^load: safetensors: .*missing\.st: cannot read file: ENOENT/],
  ['load(a directory)', () => io.load(DIR), /^load: safetensors: .*: cannot read file: .* is a directory, not a regular file/],
  ['loadWithMetadata(null)', () => io.loadWithMetadata(null as never), /^loadWithMetadata: path must be a non-empty string, got null/],
  ['deserialize(string)', () => io.deserialize('x' as never), /^deserialize: safetensors: <buffer>: expected a Uint8Array, got \[object String\]/],
  ['deserialize(garbage)', () => io.deserialize(new Uint8Array(4)), /^deserialize: safetensors: <buffer>: file is 4 bytes/],
  ['serialize(disposed)', () => io.serialize({ w: gone() }), /^serialize: w: the tensor \(shape \[2,2\]\) was disposed/],
  ['serialize(__metadata__ name)', () => io.serialize({ __metadata__: t() }), /^serialize: safetensors: <buffer>: tensor "__metadata__" name is reserved|reserved for metadata/],
  ['parseSafetensors(number)', () => io.parseSafetensors(5 as never), /^safetensors: <buffer>: expected a Uint8Array/],
  ['serializeSafetensors(bad entry)', () => io.serializeSafetensors({ a: 5 } as never), /^safetensors: <buffer>: tensor "a": expected \{dtype, shape, data\}, got 5/],
  ['saveSafetensors(number path)', () => io.saveSafetensors(5 as never, {}), /^safetensors: 5: the path must be a non-empty string, got 5/],
  ['loadSafetensors(number)', () => io.loadSafetensors(5 as never), /^safetensors: 5: cannot read file: the path must be a non-empty string/],
  ['toFloat32(null)', () => io.toFloat32(null as never), /^safetensors: toFloat32: expected \{dtype, shape, data\}, got null/],
  ['writeFileAtomic(number)', () => io.writeFileAtomic(5 as never, 'x'), /^writeFileAtomic: path must be a non-empty string, got 5/],
  ['writeFileAtomic(path, number)', () => io.writeFileAtomic(path.join(DIR, 'z'), 5 as never), /^writeFileAtomic: data must be a Uint8Array or a string, got 5/],
];

const ds = () => new data.TensorDataset(zeros([4, 1]), zeros([4]));
const idxFile = path.join(DIR, 'x.idx');
const DATA: Row[] = [
  ['TensorDataset(strings)', () => new data.TensorDataset('x' as never, 'y' as never), /^TensorDataset: x and y must be Tensors, got "x" and "y"/],
  ['TensorDataset(disposed)', () => new data.TensorDataset(gone(), zeros([2])), /^TensorDataset: the tensor \(shape \[2,2\]\) was disposed/],
  ['TensorDataset(mismatched N)', () => new data.TensorDataset(zeros([3, 1]), zeros([2])), /^TensorDataset: x \[N, \.\.\.\] and y \[N\] must have the same N/],
  ['TensorDataset.get(string)', () => ds().get('x' as never), /^TensorDataset\.get: index "x" is out of range \[0, 4\)/],
  ['TensorDataset.select(array)', () => ds().select([0] as never), /^TensorDataset\.select: indices must be an Int32Array, got \[0\]/],
  ['TensorDataset.select(out of range)', () => ds().select(Int32Array.of(9)), /^TensorDataset\.select: index 9 is out of range \[0, 4\)/],
  ['DataLoader(null)', () => new data.DataLoader(null as never), /^DataLoader: dataset must be a TensorDataset or an object with length and get\(i\)/],
  ['DataLoader({ batch_size })', () => new data.DataLoader(ds(), { batch_size: 16 } as never), /^DataLoader: unknown option 'batch_size' \(did you mean 'batchSize'\?/],
  ['DataLoader({ batchSize: 0 })', () => new data.DataLoader(ds(), { batchSize: 0 }), /^DataLoader: batchSize must be a positive integer, got 0/],
  ['DataLoader.order(-1)', () => new data.DataLoader(ds()).order(-1), /^DataLoader\.order: epoch must be a non-negative integer, got -1/],
  ['normalize(string, 1)', () => data.normalize('x' as never, 1), /^normalize: mean must be a finite number, got "x"/],
  ['normalize(0, 0)', () => data.normalize(0, 0), /^normalize: std must be a finite number > 0, got 0/],
  ['mulberry32(string)', () => data.mulberry32('x' as never), /^mulberry32: seed must be an integer, got "x"/],
  ['mnist(string)', () => data.mnist('train' as never), /^mnist: options must be an object, got "train"/],
  ['mnist({ splitt })', () => data.mnist({ splitt: 'train' } as never), /^mnist: unknown option 'splitt' \(did you mean 'split'\?\)/],
  ['mnist({ split: "val" })', () => data.mnist({ split: 'val' as never }), /^mnist: split must be 'train' or 'test', got "val"/],
  ['mnist({ limit: string })', () => data.mnist({ limit: 'x' as never }), /^mnist: limit must be a non-negative integer, got "x"/],
  ['mnist({ normalize: string })', () => data.mnist({ normalize: 'x' as never }), /^mnist: normalize must be a boolean, got "x"/],
  ['mnist({ dir: number })', () => data.mnist({ dir: 5 as never }), /^mnist: dir must be a directory path, got 5/],
  ['mnist({ dir: missing })', () => data.mnist({ dir: path.join(DIR, 'none') }), /^mnist: .*none is not a directory/],
  ['readIdx(number)', () => data.readIdx(5 as never), /^idx: 5: cannot read file: the path must be a non-empty string/],
  ['readIdx(missing)', () => data.readIdx(path.join(DIR, 'none.idx')), /^idx: .*none\.idx: cannot read file: ENOENT/],
  ['parseIdx(string)', () => data.parseIdx('abc' as never), /^idx: <buffer>: expected a Uint8Array, got \[object String\]/],
  ['decodeIdx(garbage)', () => data.decodeIdx(new Uint8Array([1, 2, 3, 4, 5])), /^idx: <buffer>: bad magic number/],
  ['serializeIdx(null)', () => data.serializeIdx(null as never), /^idx: <buffer>: expected \{dtype, dims, data\}, got null/],
  ['writeIdx(number path)', () => data.writeIdx(5 as never, { dtype: 'uint8', dims: [1], data: new Uint8Array(1) }), /^idx: 5: the path must be a non-empty string, got number/],
  ['writeIdx({ gzipp })', () => data.writeIdx(idxFile, { dtype: 'uint8', dims: [1], data: new Uint8Array(1) }, { gzipp: true } as never), /^idx: .*x\.idx: writeIdx: unknown option 'gzipp' \(did you mean 'gzip'\?\)/],
  ['writeIdx into a missing directory', () => data.writeIdx(path.join(DIR, 'no', 'x.idx'), { dtype: 'uint8', dims: [1], data: new Uint8Array(1) }), /^idx: .*x\.idx: cannot write: the directory .*no does not exist/],
];

function messageOf(fn: () => unknown): { err: unknown; returned: boolean } {
  try {
    fn();
    return { err: undefined, returned: true };
  } catch (err) {
    return { err, returned: false };
  }
}

for (const [family, rows] of [['tensor API', TENSOR], ['autograd', AUTOGRAD], ['nn.Module and nn.init', MODULE], ['functional ops', FUNCTIONAL], ['io', IO], ['data', DATA]] as const) {
  describe(`${family}: bad arguments throw an Error naming the op and the cause`, () => {
    for (const [name, fn, want] of rows) {
      it(name, () => {
        const { err, returned } = messageOf(fn);
        expect(returned, `${name} returned instead of throwing`).toBe(false);
        expect(err, `${name} threw a non-Error`).toBeInstanceOf(Error);
        const msg = (err as Error).message;
        expect(msg, name).not.toMatch(RAW);
        expect(msg, name).toMatch(want);
      });
    }
  });
}

describe('every Tensor method on a disposed tensor names itself and says "disposed"', () => {
  const other = () => tensor([[1, 2], [3, 4]]);
  const methods: [string, (d: Tensor) => unknown][] = [
    ['data', (d) => d.data()], ['toArray', (d) => d.toArray()], ['item', (d) => d.item()], ['backward', (d) => d.backward()],
    ['detach', (d) => d.detach()], ['clone', (d) => d.clone()], ['zero_', (d) => d.zero_()], ['fill_', (d) => d.fill_(1)],
    ['copy_', (d) => d.copy_(other())], ['requiresGrad_', (d) => d.requiresGrad_()], ['reshape', (d) => d.reshape(4)],
    ['view', (d) => d.view(4)], ['flatten', (d) => d.flatten()], ['squeeze', (d) => d.squeeze()], ['unsqueeze', (d) => d.unsqueeze(0)],
    ['transpose', (d) => d.transpose(0, 1)], ['permute', (d) => d.permute(1, 0)], ['T', (d) => d.T], ['contiguous', (d) => d.contiguous()],
    ['add', (d) => d.add(1)], ['sub', (d) => d.sub(other())], ['mul', (d) => d.mul(2)], ['div', (d) => d.div(other())], ['pow', (d) => d.pow(2)],
    ['neg', (d) => d.neg()], ['exp', (d) => d.exp()], ['log', (d) => d.log()], ['sqrt', (d) => d.sqrt()], ['abs', (d) => d.abs()],
    ['relu', (d) => d.relu()], ['sigmoid', (d) => d.sigmoid()], ['tanh', (d) => d.tanh()], ['maximum', (d) => d.maximum(other())],
    ['minimum', (d) => d.minimum(0)], ['clamp', (d) => d.clamp(0, 1)], ['gt', (d) => d.gt(0)], ['lt', (d) => d.lt(other())],
    ['ge', (d) => d.ge(0)], ['le', (d) => d.le(0)], ['eq', (d) => d.eq(other())], ['matmul', (d) => d.matmul(other())],
    ['sum', (d) => d.sum(0)], ['mean', (d) => d.mean()], ['max', (d) => d.max()], ['argmax', (d) => d.argmax(1)],
    ['softmax', (d) => d.softmax(1)], ['logSoftmax', (d) => d.logSoftmax(0)],
  ];
  for (const [name, call] of methods) {
    it(name, () => {
      const { err } = messageOf(() => call(gone()));
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(new RegExp(`^${name}: the tensor \\(shape \\[2,2\\]\\) was disposed`));
    });
  }
  it('toString() of a disposed tensor says so instead of throwing', () => {
    expect(String(gone())).toBe('tensor(<disposed>, shape=[2, 2])');
  });
});
