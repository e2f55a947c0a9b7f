// The network, one module per part as the paper names them; graphs are emitted with src/graph.
export { SegmentAnyBone, ENCODER_PRECISIONS, type EncoderPrecision, type SegmentAnyBoneOptions, type DecoderResult, type MaskResult, type EncodedPrompt } from './segmentAnyBone.js';
export { buildEncoderGraph } from './tinyvit.js';
export { buildVNetGraph, type VNetBatchNormMode } from './vnet.js';
export { buildDecoderGraph, type DecoderGraphOptions, type DecoderMode } from './decoderGraph.js';
export { buildFusionGraph } from './fusion.js';
export { encodePrompts, PromptLabel } from './promptEncoder.js';
export { attentionMapsForAllSlices, sliceAttentionMap } from './depthAttention.js';
