// The fine-tuning run (`sab finetune`): both stages, checkpoints and resume, validation, the log.
export { finetune, FinetuneError, type FinetuneOptions, type FinetuneProgress, type FinetuneResult, type FinetuneStages, type StageSummary } from './finetune.js';
export { TrainingLog, TrainingLogError, type LogRow } from './log.js';
