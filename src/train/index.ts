/**
 * Training outside the CLI (`import { train } from 'blasnet'`): the loop
 * ({@link Trainer}), callbacks that log progress and write metrics and curves,
 * checkpoints that resume exactly or refuse, and evaluation.
 *
 * `blasnet train` is this module with LeNet, MNIST and command-line options.
 *
 * @module
 */
export { Trainer, evaluate, NonFiniteLossError, type TrainerOptions, type FitOptions, type Callback, type TrainContext, type StepMetrics, type EpochMetrics } from './trainer';
export { ProgressLogger, MetricsWriter, CurvesWriter, epochLine, readStepPoints, type ProgressLoggerOptions } from './loggers';
export { curvesSvg, curvesPng, niceTicks, type CurveData, type EpochPoint, type StepPoint } from './curves';
export { saveCheckpoint, loadCheckpoint, CheckpointError, MODEL_FILE, STATE_FILE, MAX_EPOCHS, type SaveCheckpointOptions, type LoadCheckpointOptions, type ResumedState } from './checkpoint';
