/** Reference models (`import { models } from 'blasnet'`). */
export { LeNet, type LeNetVariant } from './lenet';
