import { CONV_RULES } from './autodiffConv.js';
import { ELEMENTWISE_RULES } from './autodiffElementwise.js';
import { LAYOUT_RULES } from './autodiffLayout.js';
import { LINEAR_RULES } from './autodiffLinear.js';
import type { VjpRule } from './autodiffShapes.js';

export type { VjpContext, VjpRule } from './autodiffShapes.js';

/** Every op type with a backward rule. */
export const VJP_RULES: Readonly<Record<string, VjpRule>> = {
  ...ELEMENTWISE_RULES,
  ...LAYOUT_RULES,
  ...LINEAR_RULES,
  ...CONV_RULES,
};
