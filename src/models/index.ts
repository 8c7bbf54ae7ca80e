/** Reference models (`import { models } from 'blasnet'`). */
export { LeNet, type LeNetVariant, type LeNetOptions } from './lenet';
