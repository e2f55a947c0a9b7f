import { CONV_RULES } from './conv.js';
import { ELEMENTWISE_RULES } from './elementwise.js';
import { LAYOUT_RULES } from './layout.js';
import { LINEAR_RULES } from './linear.js';
import type { VjpRule } from './shapes.js';

export type { VjpContext, VjpRule } from './shapes.js';

/** Every op type with a backward rule. */
export const VJP_RULES: Readonly<Record<string, VjpRule>> = {
  ...ELEMENTWISE_RULES,
  ...LAYOUT_RULES,
  ...LINEAR_RULES,
  ...CONV_RULES,
};
