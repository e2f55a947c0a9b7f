/** One clear error for bad metric/mesh/preview input (mismatched grids, wrong lengths, empty manifests...). */
export class MetricsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsInputError';
  }
}
