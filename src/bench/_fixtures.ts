// Where the benches find their default inputs (no run(): not a bench itself).
import { fileURLToPath } from 'node:url';

/** The golden test checkpoints beside the checkout (../shared/fixtures/golden/): same graphs and cost as the trained ones. */
export const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));

/** The SAM checkpoint the training rows train, ours and PyTorch's alike: $SAB_SAM_WEIGHTS, else the golden bone_sam.pth. */
export const samTrainWeights = (): string => process.env['SAB_SAM_WEIGHTS'] || `${GOLDEN}bone_sam.pth`;
