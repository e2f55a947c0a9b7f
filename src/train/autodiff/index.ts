// Reverse-mode differentiation of builder graphs: the walk (backward.ts) and its rules per op family.
export { AutodiffError, deriveBackward, type BackwardResult } from './backward.js';
export { VJP_RULES, type VjpContext, type VjpRule } from './rules.js';
