/** Datasets and loading (`import { data } from 'blasnet'`). */
export { TensorDataset, DataLoader, normalize, mulberry32, epochOrder, type Sampler, type Batch, type DataLoaderOptions, type Dataset, type Sample, type SampleValue } from './dataset';
export { mnist, bundledMnistDir, DatasetMissingError, MNIST_MEAN, MNIST_STD, type MnistOptions, type Split } from './mnist';
export { readIdx, parseIdx, decodeIdx, writeIdx, serializeIdx, type IdxArray, type IdxDtype } from './idx';
export { MNIST_CLASSES, FASHION_MNIST_CLASSES, CLASS_PRESETS, readClassNames, datasetClassNames, parseClassNames, checkClassNames } from './classes';
