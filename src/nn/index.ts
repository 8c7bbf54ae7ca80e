/** Neural-network layers, losses and initialisers (`import { nn } from 'blasnet'`). */
export { Module, Parameter, isParameter, type StateDict, type LoadStateDictOptions } from './module';
export * from './layers';
export * from './loss';
export * from './conv_transpose';
export * as functional from './functional';
export * as init from './init';
