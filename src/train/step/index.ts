// One differentiable training step: train graphs (forward + loss + backward), the trainer running them, AdamW.
export { createTrainer, buildStageTrainGraph, forwardOpener, Trainer, TrainerError, type SamBatch, type StepResult, type TrainerOptions, type TrainStage, type VNetBatch } from './trainer.js';
export { TrainIO, trainablePredicate, type TrainableSpec, type TrainGraph } from './graphs.js';
export { samLoss, vnetLoss, type SamLossTerms, type VNetLossTerms } from './losses.js';
export { AdamW, learningRate, OptimizerError, type AdamWOptions, type LrSchedule } from './optim.js';
export { traceTrainingStep, type TrainTrace } from './trace.js';
