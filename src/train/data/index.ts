// Training data: case lists and slice/volume samples, augmentations, hybrid prompts, phantom cases.
export { listCases, loadCase, makeSliceSample, sampleBatch, sampleSliceIndex, TrainingDataError, vnetSample, type CaseEntry, type CaseLists, type LoadedCase, type Split } from './cases.js';
export { augmentSlice, DEFAULT_AUGMENT, type AugmentOptions } from './augment.js';
export { isPromptedIteration, sampleHybridPrompts, samplePromptedTarget, type HybridPromptOptions, type PromptTokens, type SampledPrompts } from './prompts.js';
export { makePhantom, PhantomError, writePhantomSet, type PhantomCase, type PhantomOptions, type PhantomSetOptions, type PhantomSetSummary } from './phantom.js';
