// Trained weights in the official formats: torch.save zip (pickle + storages) and safetensors.
export { archiveNameFor, CheckpointExportError, encodeTorchCheckpoint, withTrainedParams, writeSafetensorsCheckpoint, writeTorchCheckpoint, type TorchExportOptions } from './checkpoint.js';
